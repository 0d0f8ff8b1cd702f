//! `sigmix mix`: the optimal data mixture under fitted mixture laws, at one or several (N, D).

use std::path::PathBuf;

use sigmix::laws::{MixOptions, MixTarget, NamedFit, OptimalMixture, mixture_law, optimal_mixture, read_fits};

/// Options of `sigmix mix`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Fits as JSON: what `sigmix fit --out` or `sigmix sweep --fit-out` wrote.
    #[arg(long)]
    fit: PathBuf,
    /// Target(s) to minimise, comma-separated; default: the mean of every fitted target except `mean_loss`.
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// Weights of the targets in the objective (default: equal).
    #[arg(long, value_delimiter = ',')]
    weights: Vec<f64>,
    /// Model size(s) N, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    n: Vec<f64>,
    /// Training tokens D, comma-separated (every N is paired with every D).
    #[arg(long, value_delimiter = ',', required = true)]
    d: Vec<f64>,
    /// Smallest weight any domain may get.
    #[arg(long, default_value_t = 0.0)]
    floor: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Reads the fits, optimises and prints the mixtures.
pub fn run(args: Args) -> sigmix::Result<()> {
    let entries = read_fits(&args.fit)?;
    let chosen: Vec<&NamedFit> = if args.target.is_empty() {
        let all: Vec<&NamedFit> = entries.iter().filter(|e| e.target != "mean_loss").collect();
        if all.is_empty() { entries.iter().collect() } else { all }
    } else {
        args.target
            .iter()
            .map(|t| {
                entries.iter().find(|e| &e.target == t).ok_or_else(|| {
                    let have: Vec<&str> = entries.iter().map(|e| e.target.as_str()).collect();
                    sigmix::Error::Config(format!(
                        "{} has no fit of `{t}`; it has {}",
                        args.fit.display(),
                        have.join(", ")
                    ))
                })
            })
            .collect::<sigmix::Result<_>>()?
    };
    if chosen.is_empty() {
        return Err(sigmix::Error::Config(format!("{} holds no fits", args.fit.display())));
    }
    let weights = match args.weights.len() {
        0 => vec![1.0 / chosen.len() as f64; chosen.len()],
        n if n == chosen.len() && args.weights.iter().all(|w| *w >= 0.0) => args.weights.clone(),
        n => {
            return Err(sigmix::Error::Config(format!(
                "--weights has {n} values for {} targets; give one non-negative weight per target",
                chosen.len()
            )));
        }
    };
    let laws =
        chosen.iter().map(|e| mixture_law(&e.fit.law, e.fit.params.len())).collect::<sigmix::Result<Vec<_>>>()?;
    let targets: Vec<MixTarget<'_>> = chosen
        .iter()
        .zip(&laws)
        .zip(&weights)
        .map(|((e, law), w)| MixTarget { law: law.as_ref(), theta: e.fit.theta(), weight: *w })
        .collect();
    let opts = MixOptions { floor: args.floor, ..Default::default() };
    let mut results: Vec<OptimalMixture> = Vec::new();
    for &n in &args.n {
        for &d in &args.d {
            results.push(optimal_mixture(&targets, n, d, &opts)?);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
        return Ok(());
    }
    let k = laws[0].domains();
    let names: Vec<String> = match &chosen[0].fit.domains {
        d if d.len() == k => d.clone(),
        _ => (0..k).map(|i| format!("h{i}")).collect(),
    };
    let objective: Vec<String> = chosen.iter().zip(&weights).map(|(e, w)| format!("{w:.3}·{}", e.target)).collect();
    println!("minimising {} ({} law)", objective.join(" + "), chosen[0].fit.law);
    let head: Vec<String> = names.iter().map(|n| format!("{n:>10}")).collect();
    println!("{:>10} {:>10} {} {:>10} {:>10}", "N", "D", head.join(" "), "predicted", "uniform");
    for r in &results {
        let w: Vec<String> = r.weights.iter().map(|v| format!("{v:>10.4}")).collect();
        println!("{:>10.3e} {:>10.3e} {} {:>10.4} {:>10.4}", r.n, r.d, w.join(" "), r.objective, r.uniform_objective);
    }
    Ok(())
}
