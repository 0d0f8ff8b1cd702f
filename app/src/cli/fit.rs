//! `sigmix fit`: fit a scaling law to a CSV of runs and report its error on held-out sizes.

use std::path::PathBuf;
use std::time::Instant;

use sigmix::laws::{
    Chinchilla, FitOptions, FitResult, Law, MixtureAdditive, MixtureJoint, RunTable, fit, fit_from, mre,
};
use sigmix::train::write_json_atomic;

/// Options of `sigmix fit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The law: chinchilla, mixture-additive or mixture-joint ([I]: unverified A_h/B_h form).
    #[arg(long, value_parser = ["chinchilla", "mixture-additive", "mixture-joint"])]
    law: String,
    /// CSV of runs with a header row.
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
}

/// Runs the fits and prints them.
pub fn run(args: Args) -> sigmix::Result<()> {
    let table = RunTable::read(&args.data)?;
    let targets: Vec<String> = if args.target.iter().any(|t| t == "all") {
        table.columns().iter().filter(|c| c.ends_with("_loss")).cloned().collect()
    } else {
        args.target.clone()
    };
    if targets.is_empty() {
        return Err(sigmix::Error::Config("name a loss column with --target COL (or --target all)".into()));
    }
    let k = table.weight_columns(&args.weight_prefix).len();
    let law: Box<dyn Law> = match args.law.as_str() {
        "chinchilla" => Box::new(Chinchilla),
        "mixture-additive" => Box::new(MixtureAdditive { k }),
        _ => Box::new(MixtureJoint { k }),
    };
    if args.law != "chinchilla" && k == 0 {
        return Err(sigmix::Error::Config(format!(
            "no columns start with `{}`: set --weight-prefix to the mixture-weight columns",
            args.weight_prefix
        )));
    }
    let prefix = if args.law == "chinchilla" { "" } else { args.weight_prefix.as_str() };
    let opts = FitOptions { seed: args.seed, starts: args.starts, hops: args.hops, ..Default::default() };
    let fit_one = |target: &String| -> sigmix::Result<TargetFit> {
        let (runs, skipped_empty) = table.observations(target, &args.n_col, &args.d_col, prefix)?;
        let max_n = args.fit_max_n.unwrap_or(f64::INFINITY);
        let (train, held): (Vec<_>, Vec<_>) = runs.into_iter().partition(|r| r.n <= max_n);
        let t0 = Instant::now();
        // The joint law contains the additive one: start it from an additive fit.
        let warm = if args.law == "mixture-joint" {
            let add = MixtureAdditive { k };
            vec![MixtureJoint { k }.from_additive(&fit(&add, &train, &opts)?.theta())]
        } else {
            Vec::new()
        };
        let f = fit_from(law.as_ref(), &train, &opts, &warm)?;
        let held_out_mre = (!held.is_empty()).then(|| mre(law.as_ref(), &f.theta(), &held));
        Ok(TargetFit {
            target: target.clone(),
            held_out_rows: held.len(),
            held_out_mre,
            skipped_empty,
            seconds: t0.elapsed().as_secs_f64(),
            fit: f,
        })
    };
    // Targets are independent: fit them on all cores, keeping the printed order.
    let t0 = Instant::now();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(targets.len());
    let mut slots: Vec<Option<sigmix::Result<TargetFit>>> = (0..targets.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let chunks: Vec<_> = slots
            .chunks_mut(targets.len().div_ceil(workers))
            .zip(targets.chunks(targets.len().div_ceil(workers)))
            .collect();
        for (out, ts) in chunks {
            let fit_one = &fit_one;
            s.spawn(move || {
                for (o, t) in out.iter_mut().zip(ts) {
                    *o = Some(fit_one(t));
                }
            });
        }
    });
    let fits = slots.into_iter().flatten().collect::<sigmix::Result<Vec<_>>>()?;
    let wall = t0.elapsed().as_secs_f64();
    if let Some(path) = &args.out {
        write_json_atomic(path, &fits)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&fits).unwrap_or_default());
        return Ok(());
    }
    println!("law {} ({} parameters), data {}", law.name(), law.n_params(), args.data.display());
    println!("| target | fit rows | train MRE | held-out rows | held-out MRE | seconds |");
    println!("|---|---:|---:|---:|---:|---:|");
    for t in &fits {
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
    if let [one] = fits.as_slice() {
        for (n, v) in one.fit.names.iter().zip(&one.fit.params) {
            println!("  {n:<8} {v:.6}");
        }
    }
    Ok(())
}
