//! `sigmix fit`: fit a scaling law to a table of runs and report its error on held-out sizes,
//! with bootstrap confidence intervals when asked.

use std::path::PathBuf;
use std::time::Instant;

use sigmix::laws::{
    Bootstrap, Chinchilla, Distillation, FitOptions, FitResult, Forgetting, ForgettingTokens, Law, MixtureAdditive,
    MixtureForm, MixtureJoint, MoeSparsity, RunTable, SupervisedPower, TokensFrom, bootstrap, fit, fit_mixture, mre,
};
use sigmix::train::write_json_atomic;

/// Options of `sigmix fit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The law: chinchilla, supervised (E + (A/N^α + B/D^β)^γ), mixture-additive,
    /// mixture-joint ([I] A_h/B_h form), moe (needs --extra-col with S), distill (needs
    /// --extra-col with the teacher's loss and --supervised), forgetting and forgetting-tokens
    /// ([I], docs/papers.md's form and the injected-tokens form; need --extra-col with the injected
    /// fraction p; the target is the rise of the pretraining loss).
    #[arg(long, value_parser = ["chinchilla", "supervised", "mixture-additive", "mixture-joint", "moe", "distill", "forgetting", "forgetting-tokens"])]
    law: String,
    /// The column a law needs beside N and D: sparsity S (moe), teacher loss L_T (distill),
    /// injected pretraining fraction p (forgetting).
    #[arg(long)]
    extra_col: Option<String>,
    /// distill: the student's supervised law, E,A,alpha,B,beta,gamma (from `--law supervised`).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    supervised: Option<Vec<f64>>,
    /// moe: use c/(1 − S)^λ instead of the reported c·(1 − S)^λ (the sources' sign conventions differ).
    #[arg(long)]
    moe_c_rises: bool,
    /// Bootstrap confidence intervals from this many resampled refits (0 = none).
    #[arg(long, default_value_t = 0)]
    bootstrap: usize,
    /// Coverage of the bootstrap intervals.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Runs: a CSV with a header row, or JSON Lines (.jsonl, e.g. from `sigmix sweep`).
    #[arg(long)]
    data: PathBuf,
    /// Loss column(s) to fit, comma-separated, or `all` for every column ending in `_loss`.
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// Column with the parameter count N.
    #[arg(long, default_value = "model_size")]
    n_col: String,
    /// Column with the training tokens D.
    #[arg(long, default_value = "n_tokens")]
    d_col: String,
    /// Column with the training compute C in FLOPs instead: D = C / 6N.
    #[arg(long, conflicts_with = "d_col")]
    flops_col: Option<String>,
    /// Prefix of the mixture-weight columns (mixture laws).
    #[arg(long, default_value = "weight_")]
    weight_prefix: String,
    /// Fit only rows with N ≤ this; report the MRE on the rest (the extrapolation error).
    #[arg(long)]
    fit_max_n: Option<f64>,
    /// Seed of the random starts and basin hops.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Random L-BFGS starts.
    #[arg(long, default_value_t = 8)]
    starts: usize,
    /// Basin-hopping steps after the starts.
    #[arg(long, default_value_t = 8)]
    hops: usize,
    /// Write the fits (one per target) as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the fits as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// One target's fit with its errors.
#[derive(serde::Serialize)]
struct TargetFit {
    target: String,
    fit: FitResult,
    held_out_rows: usize,
    held_out_mre: Option<f64>,
    skipped_empty: usize,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    bootstrap: Option<Bootstrap>,
}

/// The law `args` names, over `k` mixture domains.
fn make_law(args: &Args, k: usize) -> sigmix::Result<Box<dyn Law>> {
    let needs_extra = ["moe", "distill", "forgetting", "forgetting-tokens"].contains(&args.law.as_str());
    if needs_extra && args.extra_col.is_none() {
        return Err(sigmix::Error::Config(format!(
            "--law {} needs --extra-col COL: the column with {}",
            args.law,
            match args.law.as_str() {
                "moe" => "the sparsity S = (E − K)/E",
                "distill" => "the teacher's loss L_T",
                _ => "the injected pretraining fraction p",
            }
        )));
    }
    if args.law.starts_with("mixture") && k == 0 {
        return Err(sigmix::Error::Config(format!(
            "no columns start with `{}`: set --weight-prefix to the mixture-weight columns",
            args.weight_prefix
        )));
    }
    Ok(match args.law.as_str() {
        "chinchilla" => Box::new(Chinchilla),
        "supervised" => Box::new(SupervisedPower),
        "mixture-additive" => Box::new(MixtureAdditive { k }),
        "mixture-joint" => Box::new(MixtureJoint { k }),
        "moe" => Box::new(MoeSparsity { c_falls_with_sparsity: !args.moe_c_rises }),
        "distill" => match args.supervised.as_deref() {
            Some(&[e, a, al, b, be, g]) if [e, a, al, b, be, g].iter().all(|v| *v > 0.0) => {
                Box::new(Distillation { supervised: [e, a, al, b, be, g] })
            }
            _ => {
                return Err(sigmix::Error::Config(
                    "--law distill needs --supervised E,A,alpha,B,beta,gamma: six positive numbers from `sigmix fit --law supervised` on the students' own runs".into(),
                ));
            }
        },
        "forgetting-tokens" => Box::new(ForgettingTokens),
        _ => Box::new(Forgetting),
    })
}

/// Runs the fits and prints them.
pub fn run(args: Args) -> sigmix::Result<()> {
    let table = RunTable::read(&args.data)?;
    let targets = targets_of(&args, &table)?;
    let mixture = args.law.starts_with("mixture");
    let h_cols: Vec<String> =
        if mixture { table.weight_columns(&args.weight_prefix) } else { args.extra_col.iter().cloned().collect() };
    let law = make_law(&args, if mixture { h_cols.len() } else { 0 })?;
    let domains: Vec<String> = if mixture {
        h_cols.iter().map(|c| c.strip_prefix(&args.weight_prefix).unwrap_or(c).to_string()).collect()
    } else {
        Vec::new()
    };
    let k = h_cols.len();
    let opts = FitOptions { seed: args.seed, starts: args.starts, hops: args.hops, ..Default::default() };
    let tokens = match &args.flops_col {
        Some(c) => TokensFrom::Flops(c),
        None => TokensFrom::Column(&args.d_col),
    };
    let fit_one = |target: &String| -> sigmix::Result<TargetFit> {
        let (runs, skipped_empty) = table.observations(target, &args.n_col, tokens, &h_cols)?;
        let max_n = args.fit_max_n.unwrap_or(f64::INFINITY);
        let (train, held): (Vec<_>, Vec<_>) = runs.into_iter().partition(|r| r.n <= max_n);
        let t0 = Instant::now();
        let mut f = if args.law == "mixture-joint" {
            fit_mixture(MixtureForm::Joint, k, &train, &opts)?
        } else {
            fit(law.as_ref(), &train, &opts)?
        };
        f.domains = domains.clone();
        let held_out_mre = (!held.is_empty()).then(|| mre(law.as_ref(), &f.theta(), &held));
        let boot = match args.bootstrap {
            0 => None,
            k => Some(bootstrap(law.as_ref(), &train, &held, &f, k, args.level, &opts)?),
        };
        Ok(TargetFit {
            target: target.clone(),
            held_out_rows: held.len(),
            held_out_mre,
            skipped_empty,
            seconds: t0.elapsed().as_secs_f64(),
            fit: f,
            bootstrap: boot,
        })
    };
    let t0 = Instant::now();
    let (fits, workers) = fit_in_parallel(&targets, &fit_one)?;
    let wall = t0.elapsed().as_secs_f64();
    if let Some(path) = &args.out {
        write_json_atomic(path, &fits)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&fits).unwrap_or_default());
        return Ok(());
    }
    print_table(&fits, law.as_ref(), &args.data, wall, workers);
    print_params(&fits);
    Ok(())
}

/// The loss columns to fit: those named, or every `*_loss` column for `all`.
fn targets_of(args: &Args, table: &RunTable) -> sigmix::Result<Vec<String>> {
    let targets: Vec<String> = if args.target.iter().any(|t| t == "all") {
        table.columns().iter().filter(|c| c.ends_with("_loss")).cloned().collect()
    } else {
        args.target.clone()
    };
    if targets.is_empty() {
        return Err(sigmix::Error::Config("name a loss column with --target COL (or --target all)".into()));
    }
    Ok(targets)
}

/// Fits every target with `fit_one`, on all cores (targets are independent), in the order
/// given; also says how many threads ran.
fn fit_in_parallel(
    targets: &[String],
    fit_one: &(dyn Fn(&String) -> sigmix::Result<TargetFit> + Sync),
) -> sigmix::Result<(Vec<TargetFit>, usize)> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(targets.len());
    let mut slots: Vec<Option<sigmix::Result<TargetFit>>> = (0..targets.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let chunks: Vec<_> = slots
            .chunks_mut(targets.len().div_ceil(workers))
            .zip(targets.chunks(targets.len().div_ceil(workers)))
            .collect();
        for (out, ts) in chunks {
            s.spawn(move || {
                for (o, t) in out.iter_mut().zip(ts) {
                    *o = Some(fit_one(t));
                }
            });
        }
    });
    Ok((slots.into_iter().flatten().collect::<sigmix::Result<Vec<_>>>()?, workers))
}

/// One line per target: rows, train and held-out error, time.
fn print_table(fits: &[TargetFit], law: &dyn Law, data: &std::path::Path, wall: f64, workers: usize) {
    println!("law {} ({} parameters), data {}", law.name(), law.n_params(), data.display());
    println!("| target | fit rows | train MRE | held-out rows | held-out MRE | seconds |");
    println!("|---|---:|---:|---:|---:|---:|");
    for t in fits {
        let held = t.held_out_mre.map_or("—".to_string(), |m| format!("{:.2}%", 100.0 * m));
        println!(
            "| {} | {} | {:.2}% | {} | {} | {:.1} |",
            t.target,
            t.fit.rows,
            100.0 * t.fit.train_mre,
            t.held_out_rows,
            held,
            t.seconds
        );
        if t.skipped_empty > 0 {
            println!("  ({} rows skipped: empty {} cell)", t.skipped_empty, t.target);
        }
    }
    println!("{} targets fitted in {wall:.1} s on {workers} threads", fits.len());
}

/// Each fit's parameters (every target's when there is one, or when bootstrapped), with their
/// intervals.
fn print_params(fits: &[TargetFit]) {
    for t in fits.iter().filter(|t| fits.len() == 1 || t.bootstrap.is_some()) {
        if fits.len() > 1 {
            println!("{}:", t.target);
        }
        for (i, (n, v)) in t.fit.names.iter().zip(&t.fit.params).enumerate() {
            match &t.bootstrap {
                Some(b) => println!("  {n:<8} {v:>12.6}   [{:.6}, {:.6}]", b.params[i].lo, b.params[i].hi),
                None => println!("  {n:<8} {v:>12.6}"),
            }
        }
        if let Some(b) = &t.bootstrap {
            let held = b
                .held_out_mre
                .map_or(String::new(), |m| format!("; held-out MRE in [{:.2}%, {:.2}%]", 100.0 * m.lo, 100.0 * m.hi));
            println!("  ({:.0}% intervals from {} bootstrap refits{held})", 100.0 * b.level, b.resamples);
        }
    }
}
