//! `sigmix sweep`: train a grid of runs into a JSONL file (resumable, shardable), then fit the
//! mixture law on the smaller sizes and check its prediction of the largest (a distillation
//! sweep: the supervised and distillation laws, and where distilling pays; a forgetting sweep:
//! forgetting against injected pretraining data, and the forgetting law; an MoE sparsity sweep:
//! IsoFLOP slices over sparsity, the MoE law and the optimal sparsity per budget);
//! `sigmix sweep merge`: join shard files.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sigmix::DeviceChoice;
use sigmix::data::TextDomain;
use sigmix::laws::FitOptions;
use sigmix::sweep::{
    ParamCount, SWEEP_PRESETS, Shard, SweepEvent, SweepOptions, SweepPlan, fit_and_predict, fit_distillation,
    fit_forgetting, fit_moe_sparsity, merge, run_sweep,
};
use sigmix::train::{Event, write_json_atomic};

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
        return Ok(());
    }
    if args.list_presets {
        for (name, what) in SWEEP_PRESETS {
            println!("{name:<10} {what}");
        }
        return Ok(());
    }
    let mut plan = match &args.plan {
        Some(path) => SweepPlan::from_file(path)?,
        None => SweepPlan::preset(&args.preset)?,
    };
    let texts: Vec<TextDomain> = args.texts.iter().map(|p| TextDomain::read(p)).collect::<sigmix::Result<_>>()?;
    if plan.forgetting.is_some() && !texts.is_empty() {
        // A forgetting sweep finetunes on the last text: the user's own replaces the dialogue.
        plan.base.remove_texts();
        plan.base.add_texts(&texts, 0.0);
    } else {
        plan.base.add_texts(&texts, 1.0);
    }
    if args.show_plan {
        println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
        return Ok(());
    }
    if args.dry_run {
        let runs = plan.runs()?;
        println!("{:>4} {:<18} {:>9} {:>9}  mixture", "#", "id", "N", "D");
        for r in runs.iter().filter(|r| args.shard.has(r.index)) {
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
        return Ok(());
    }
    let device = super::open_device(device)?;
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
        &device,
        &plan,
        &args.out,
        SweepOptions { resume: args.resume, shard: args.shard, stop: None, texts, weights_dir: None },
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
    let n = if args.params == "total" { ParamCount::Total } else { ParamCount::NonEmbedding };
    let fits = fit_and_predict(&outcome.rows, n, &FitOptions::default())?;
    println!("\nadditive mixture law fitted on every size but the largest, N = {} parameters:", args.params);
    println!("| target | fit runs | train MRE | held-out runs | held-out MRE |");
    println!("|---|---:|---:|---:|---:|");
    for f in &fits {
        println!(
            "| {} | {} | {:.2}% | {} | {:.2}% |",
            f.target,
            f.fit.rows,
            100.0 * f.fit.train_mre,
            f.held_out.len(),
            100.0 * f.held_out_mre
        );
    }
    if let Some(mean) = fits.iter().find(|f| f.target == "mean_loss") {
        println!("\nmean loss of the largest model, predicted vs measured:");
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
    if let Some(path) = &args.fit_out {
        write_json_atomic(path, &fits)?;
        println!("fits written to {}", path.display());
    }
    Ok(())
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
