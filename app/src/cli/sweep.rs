//! `sigmix sweep`: train a grid of runs into a JSONL file (resumable, shardable), then fit the
//! mixture law on the smaller sizes and check its prediction of the largest (a distillation
//! sweep: the supervised and distillation laws, and where distilling pays; a forgetting sweep:
//! forgetting against injected pretraining data, and the forgetting law; an MoE sparsity sweep:
//! IsoFLOP slices over sparsity, the MoE law and the optimal sparsity per budget);
//! `sigmix sweep merge`: join shard files.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sigmix::data::TextDomain;
use sigmix::laws::{FitOptions, MixtureForm};
use sigmix::sweep::{
    Extrapolation, HeldOutRun, OptimumCheck, ParamCount, SWEEP_PRESETS, Shard, SweepEvent, SweepOptions, SweepOutcome,
    SweepPlan, SweepRow, fit_and_predict, fit_distillation, fit_forgetting, fit_moe_sparsity, held_out_mre, merge,
    mixture_form_for, optimal_for, run_sweep, uniform_at_largest,
};
use sigmix::train::{Event, RunConfig, write_json_atomic};
use sigmix::{Device, DeviceChoice};

/// Options of `sigmix sweep`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// The sweep to run (see --list-presets).
    #[arg(long, default_value = "classroom")]
    preset: String,
    /// A plan as JSON instead of a preset (see --show-plan for the shape).
    #[arg(long, conflicts_with = "preset")]
    plan: Option<PathBuf>,
    /// A text file of your own as a further domain of every run's mixture (repeatable; named
    /// after the file, its last tenth held out). A plan that names texts needs them given.
    #[arg(long = "text")]
    texts: Vec<PathBuf>,
    /// Seed of every run's data, initialisation and sampling instead of the plan's (the
    /// mixtures stay): another seed is another sweep, so give it its own --out file.
    #[arg(long)]
    seed: Option<u64>,
    /// The mixture law whose predictions, groups, optimum and --fit-out follow the tables (both
    /// laws' tables are printed): joint (A_h, B_h depend on the mixture) or additive.
    #[arg(long, default_value = "joint", value_parser = ["joint", "additive"])]
    law: String,
    /// After the fit, train the largest model at the mixture the law predicts is best for
    /// this loss (e.g. code_loss) and compare it with the uniform run at the same size and budget.
    #[arg(long)]
    check_optimum: Option<String>,
    /// Print the plan as JSON (a starting point for --plan) and exit.
    #[arg(long)]
    show_plan: bool,
    /// JSONL file the finished runs are appended to, one line each.
    #[arg(long, default_value = "runs.jsonl")]
    out: PathBuf,
    /// Continue a sweep whose file already holds runs (finished runs are kept, not repeated).
    #[arg(long)]
    resume: bool,
    /// Run only every N-th cell, starting at I (0-based): I/N, for job arrays over machines.
    #[arg(long, default_value = "0/1")]
    shard: Shard,
    /// N of the law: all parameters or those outside the embeddings.
    #[arg(long, default_value = "non-embedding", value_parser = ["total", "non-embedding"])]
    params: String,
    /// Write the fits and the held-out predictions as JSON (input of `sigmix mix`).
    #[arg(long)]
    fit_out: Option<PathBuf>,
    /// Skip the fit at the end.
    #[arg(long)]
    no_fit: bool,
    /// Print the planned runs and exit.
    #[arg(long)]
    dry_run: bool,
    /// List the presets and exit.
    #[arg(long)]
    list_presets: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Join sweep files (e.g. one per shard) into one, each run once, in plan order.
    Merge(MergeArgs),
}

#[derive(clap::Args, Debug)]
struct MergeArgs {
    /// Sweep files to join.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The joined file (written atomically).
    #[arg(short, long)]
    out: PathBuf,
}

/// Runs the sweep, or the merge.
pub fn run(args: Args, device: DeviceChoice) -> sigmix::Result<()> {
    if let Some(Action::Merge(m)) = &args.action {
        return merge_files(m);
    }
    if args.list_presets {
        for (name, what) in SWEEP_PRESETS {
            println!("{name:<10} {what}");
        }
        return Ok(());
    }
    let (plan, texts) = plan_of(&args)?;
    if args.show_plan {
        println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
        return Ok(());
    }
    if args.dry_run {
        return print_dry_run(&plan, args.shard);
    }
    let device = super::open_device(device)?;
    let outcome = train_with_progress(&device, &plan, &args, &texts)?;
    println!(
        "{} runs trained now; {} of {} planned runs are in {}",
        outcome.trained,
        outcome.rows.len(),
        outcome.planned,
        args.out.display()
    );
    if !outcome.complete() {
        println!(
            "the sweep is not complete: run the other shards, join them with `sigmix sweep merge`, then `sigmix fit --data` the result"
        );
        return Ok(());
    }
    if args.no_fit {
        return Ok(());
    }
    let opts = FitOptions::default();
    if plan.moe.is_some() {
        return report(fit_moe_sparsity(&outcome.rows, &opts)?, super::moe_report::print, args.fit_out.as_deref());
    }
    if plan.forgetting.is_some() {
        return report(fit_forgetting(&outcome.rows, &opts)?, super::forgetting_report::print, args.fit_out.as_deref());
    }
    if plan.distill.is_some() {
        return report(fit_distillation(&outcome.rows, &opts)?, super::distill_report::print, args.fit_out.as_deref());
    }
    fit_mixture_sweep(&device, &outcome.rows, &args, &texts)
}

/// `sigmix sweep merge`: the inputs joined, each run once, and what was dropped.
fn merge_files(m: &MergeArgs) -> sigmix::Result<()> {
    let report = merge(&m.inputs, &m.out)?;
    println!(
        "{} runs from {} files written to {} ({} duplicate rows dropped{})",
        report.rows,
        m.inputs.len(),
        m.out.display(),
        report.duplicates,
        if report.torn_inputs > 0 {
            format!(", {} torn last lines dropped", report.torn_inputs)
        } else {
            String::new()
        }
    );
    Ok(())
}

/// The plan to run (a preset or a file, with `--seed`) and the user's texts added as domains.
fn plan_of(args: &Args) -> sigmix::Result<(SweepPlan, Vec<TextDomain>)> {
    let mut plan = match &args.plan {
        Some(path) => SweepPlan::from_file(path)?,
        None => SweepPlan::preset(&args.preset)?,
    };
    if let Some(seed) = args.seed {
        plan.base.seed = seed;
    }
    let texts: Vec<TextDomain> = args.texts.iter().map(|p| TextDomain::read(p)).collect::<sigmix::Result<_>>()?;
    if plan.forgetting.is_some() && !texts.is_empty() {
        // A forgetting sweep finetunes on the last text: the user's own replaces the dialogue.
        plan.base.remove_texts();
        plan.base.add_texts(&texts, 0.0);
    } else {
        plan.base.add_texts(&texts, 1.0);
    }
    Ok((plan, texts))
}

/// `--dry-run`: the planned runs of the shard, one line each.
fn print_dry_run(plan: &SweepPlan, shard: Shard) -> sigmix::Result<()> {
    let runs = plan.runs()?;
    println!("{:>4} {:<18} {:>9} {:>9}  mixture", "#", "id", "N", "D");
    for r in runs.iter().filter(|r| shard.has(r.index)) {
        let h: Vec<String> = r.config.mixture.iter().map(|v| format!("{v:.3}")).collect();
        println!(
            "{:>4} {:<18} {:>9} {:>9}  {}",
            r.index,
            r.id,
            r.config.model.non_embedding_params(),
            r.config.total_tokens(),
            h.join(",")
        );
    }
    Ok(())
}

/// Trains the plan's runs not yet in `--out`, with a progress bar that counts work.
fn train_with_progress(
    device: &Device,
    plan: &SweepPlan,
    args: &Args,
    texts: &[TextDomain],
) -> sigmix::Result<SweepOutcome> {
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {msg}  [{elapsed} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // The bar counts work (parameters × tokens) so the ETA stays honest when the large
    // models come last.
    let work = |c: &sigmix::train::RunConfig| (c.model.param_count() * c.batch * c.model.context) as u64;
    let (mut finished_work, mut step_work, mut label) = (0u64, 0u64, String::new());
    let outcome = run_sweep(
        device,
        plan,
        &args.out,
        SweepOptions { resume: args.resume, shard: args.shard, stop: None, texts: texts.to_vec(), weights_dir: None },
        &mut |e| match e {
            SweepEvent::Planned { planned, in_shard, todo, torn_tail, .. } => {
                if torn_tail {
                    super::say(&bar, "the last line of the file was cut off (a killed run); that run starts again");
                }
                bar.set_length(todo.iter().map(|r| work(&r.config) * r.config.steps as u64).sum::<u64>().max(1));
                super::say(
                    &bar,
                    format!(
                        "sweep {}: {planned} runs planned, {in_shard} in shard {}/{}, {} already in {}",
                        plan.name,
                        args.shard.index,
                        args.shard.count,
                        in_shard - todo.len(),
                        args.out.display()
                    ),
                );
            }
            SweepEvent::RunStarted { run, position, todo } => {
                step_work = work(&run.config);
                label = format!("run {position}/{todo} {}", run.id);
            }
            SweepEvent::Training(Event::Step { step, tokens_per_sec, .. }) => {
                bar.set_position(finished_work + step_work * *step as u64);
                bar.set_message(format!("{label}  {tokens_per_sec:.0} tok/s"));
            }
            SweepEvent::Training(_) => {}
            SweepEvent::RetrainingSource { run } => {
                label = format!("{} (its weights were not kept: trained again)", run.id);
                super::say(&bar, format!("{label} before the runs that start from it or learn from it"));
            }
            SweepEvent::RunFinished { row, .. } => {
                finished_work += step_work * row.config.steps as u64;
                super::say(
                    &bar,
                    format!(
                        "{:<16} N {:>7}  D {:>7}  mean loss {:.3}  {:>5.1} s",
                        row.id,
                        row.non_embedding_params,
                        row.n_tokens,
                        row.columns.get("mean_loss").copied().unwrap_or(f64::NAN),
                        row.seconds
                    ),
                );
            }
        },
    )?;
    bar.finish_and_clear();
    Ok(outcome)
}

/// A mixture sweep's fits: both laws below the largest size, its predictions, the groups of one
/// (N, D), `--fit-out`, and `--check-optimum`.
fn fit_mixture_sweep(device: &Device, rows: &[SweepRow], args: &Args, texts: &[TextDomain]) -> sigmix::Result<()> {
    let n = if args.params == "total" { ParamCount::Total } else { ParamCount::NonEmbedding };
    // Both laws, the additive one first: where they differ, a mixture's effect changes with N.
    let wanted = if args.law == "additive" { MixtureForm::Additive } else { MixtureForm::Joint };
    let form = mixture_form_for(rows, wanted);
    if form != wanted {
        println!(
            "\nthe runs below the largest size are fewer than the {} law's parameters: fitting the additive law only",
            wanted.name()
        );
    }
    let mut fits = Vec::new();
    for f in [MixtureForm::Additive, MixtureForm::Joint] {
        if f == MixtureForm::Joint && form == MixtureForm::Additive {
            break;
        }
        fits = fit_and_predict(rows, n, f, &FitOptions::thorough())?;
        print_fits(&fits, f, &args.params);
        if f == form {
            break;
        }
    }
    if let Some(mean) = fits.iter().find(|f| f.target == "mean_loss") {
        println!("\nmean loss of the largest model, predicted by the {} law vs measured:", form.name());
        println!("{:<18} {:>9} {:>9} {:>7}", "run", "predicted", "measured", "error");
        for h in &mean.held_out {
            println!(
                "{:<18} {:>9.4} {:>9.4} {:>6.2}%",
                h.id,
                h.predicted,
                h.measured,
                100.0 * (h.predicted - h.measured) / h.measured
            );
        }
    }
    print_mixture_groups(&fits, rows);
    if let Some(path) = &args.fit_out {
        write_json_atomic(path, &fits)?;
        println!("fits written to {}", path.display());
    }
    if let Some(target) = &args.check_optimum {
        let check = check_optimum(device, rows, &fits, target, n, texts)?;
        println!("\n{}", check.summary());
    }
    Ok(())
}

/// The fit table of one law: train and held-out error per target.
fn print_fits(fits: &[Extrapolation], form: MixtureForm, params: &str) {
    println!("\n{} law fitted on every size but the largest, N = {params} parameters:", form.name());
    println!("| target | fit runs | train MRE | held-out runs | held-out MRE |");
    println!("|---|---:|---:|---:|---:|");
    for f in fits {
        println!(
            "| {} | {} | {:.2}% | {} | {:.2}% |",
            f.target,
            f.fit.rows,
            100.0 * f.fit.train_mre,
            f.held_out.len(),
            100.0 * f.held_out_mre
        );
    }
}

/// How far the mixtures move each loss within one (N, D) group of the held-out size, measured
/// and as the law predicts: whether the law tells the mixtures apart, not only the sizes.
fn print_mixture_groups(fits: &[Extrapolation], rows: &[SweepRow]) {
    let tokens: std::collections::HashMap<&str, usize> = rows.iter().map(|r| (r.id.as_str(), r.n_tokens)).collect();
    let mut printed = false;
    for f in fits {
        let mut groups: std::collections::BTreeMap<usize, Vec<&HeldOutRun>> = Default::default();
        for h in &f.held_out {
            groups.entry(tokens.get(h.id.as_str()).copied().unwrap_or(0)).or_default().push(h);
        }
        for (d, group) in groups.iter().filter(|(_, g)| g.len() >= 3) {
            if !printed {
                println!("\nwithin one (N, D) group of the largest size, the mixtures move each loss by:");
                println!("| target | D | mixtures | measured spread | predicted spread | MRE |");
                println!("|---|---:|---:|---:|---:|---:|");
                printed = true;
            }
            let spread = |v: &dyn Fn(&HeldOutRun) -> f64| {
                let vals: Vec<f64> = group.iter().map(|h| v(h)).collect();
                vals.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    - vals.iter().copied().fold(f64::INFINITY, f64::min)
            };
            let owned: Vec<HeldOutRun> = group.iter().map(|h| (*h).clone()).collect();
            println!(
                "| {} | {d} | {} | {:.3} | {:.3} | {:.2}% |",
                f.target,
                group.len(),
                spread(&|h| h.measured),
                spread(&|h| h.predicted),
                100.0 * held_out_mre(&owned)
            );
        }
    }
}

/// Trains the largest model at the mixture the law predicts is best for `target` and
/// compares it with the sweep's uniform run at that size and budget.
fn check_optimum(
    device: &sigmix::Device,
    rows: &[SweepRow],
    fits: &[Extrapolation],
    target: &str,
    n: ParamCount,
    texts: &[TextDomain],
) -> sigmix::Result<OptimumCheck> {
    let Some(uniform) = uniform_at_largest(rows) else {
        return Err(sigmix::Error::Config(
            "--check-optimum needs the uniform mixture trained at the largest size and budget, and this sweep has no such run".into(),
        ));
    };
    let params = match n {
        ParamCount::Total => uniform.model_size,
        ParamCount::NonEmbedding => uniform.non_embedding_params,
    };
    let best = optimal_for(fits, target, params as f64, uniform.n_tokens as f64)?;
    let Some(&measured_uniform) = uniform.columns.get(target) else {
        return Err(sigmix::Error::Config(format!("the uniform run {} has no `{target}` column", uniform.id)));
    };
    let weights: Vec<String> = best.weights.iter().map(|w| format!("{w:.3}")).collect();
    println!(
        "\ntraining {} at the mixture predicted best for {target}: {} (predicted {:.3}, uniform {:.3})",
        uniform.id,
        weights.join(", "),
        best.objective,
        best.uniform_objective
    );
    let config =
        RunConfig { name: format!("optimum-for-{target}"), mixture: best.weights.clone(), ..uniform.config.clone() };
    let record = sigmix::train::train(device, &config, texts, &mut |_| {})?;
    let row = SweepRow::from_record("optimum", 0, &config.name, &record)?;
    let Some(&measured) = row.columns.get(target) else {
        return Err(sigmix::Error::Config(format!("the trained optimum has no `{target}` column")));
    };
    Ok(OptimumCheck {
        target: target.into(),
        weights: best.weights,
        predicted: best.objective,
        predicted_uniform: best.uniform_objective,
        measured,
        measured_uniform,
    })
}

/// Prints a law sweep's report and writes it as JSON to `fit_out` when asked.
fn report<R: serde::Serialize>(report: R, print: fn(&R), fit_out: Option<&std::path::Path>) -> sigmix::Result<()> {
    print(&report);
    if let Some(path) = fit_out {
        write_json_atomic(path, &report)?;
        println!("fits written to {}", path.display());
    }
    Ok(())
}
