//! `sigmix train`: one training run with a progress bar and a summary.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use sigmix::data::TextDomain;
use sigmix::nn::AttentionKind;
use sigmix::train::{Event, PRESETS, RunConfig, train, write_json_atomic};
use sigmix::{Device, DeviceChoice};

/// Options of `sigmix train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A named preset (see --list-presets).
    #[arg(long, default_value = "tiny", conflicts_with = "config")]
    preset: String,
    /// A JSON run config instead of a preset (missing fields take the `tiny` defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the number of steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Override the seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the peak learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// Override the batch size (sequences per step).
    #[arg(long)]
    batch: Option<usize>,
    /// Mixture weights over prose,code,arithmetic,records (then each --text), e.g. 0.4,0.2,0.2,0.2.
    #[arg(long, value_delimiter = ',')]
    mixture: Option<Vec<f64>>,
    /// A text file of your own as a further domain (repeatable; named after the file, its last
    /// tenth held out; weight 1 unless --mixture says otherwise).
    #[arg(long = "text")]
    texts: Vec<PathBuf>,
    /// Attention implementation: softmax (flash), sigmoid (flash) or naive (materialised).
    #[arg(long, value_parser = ["softmax", "sigmoid", "naive"])]
    attention: Option<String>,
    /// Sigmoid attention's logit bias b (default −ln context).
    #[arg(long, allow_hyphen_values = true)]
    sigmoid_bias: Option<f32>,
    /// LayerNorm on each head's q and k (QK-norm).
    #[arg(long)]
    qk_norm: bool,
    /// Write the run record (config, curves, evaluations, speed) to this JSON file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// With `--preset attn-compare`, `polyview`, `tta`, `byol` or `ema-rule`: where to write the
    /// curves as CSV (default <preset>.csv).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// With `--preset polyview`: views per sample to compare.
    #[arg(long, value_delimiter = ',', default_value = "2,4,8")]
    views: Vec<usize>,
    /// With `--preset polyview`: encoder passes per step, B·M, the same for every M.
    #[arg(long, default_value_t = 256)]
    passes: usize,
    /// With `--preset polyview`: the objective for M > 2 (geometric, arithmetic, multi-crop).
    #[arg(long, default_value = "geometric")]
    loss: String,
    /// With `--preset tta`: the stream's corruption (noise, blur, contrast, occlusion, mixed).
    #[arg(long, default_value = "mixed")]
    corruption: String,
    /// With `--preset tta`: corruption severities to stream (0 = clean, up to 5).
    #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
    severities: Vec<usize>,
    /// With `--preset tta`: test batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    test_batches: Vec<usize>,
    /// With `--preset tta`: test samples per stream (divisible by every test batch size).
    #[arg(long)]
    stream_len: Option<usize>,
    /// With `--preset tta`: REALM's shape α (2 quadratic, 0 Cauchy, -inf Welsch) [I].
    #[arg(long, allow_hyphen_values = true)]
    realm_alpha: Option<f32>,
    /// With `--preset byol` or `ema-rule`: the target network's decay ρ (at the base batch).
    #[arg(long)]
    ema_decay: Option<f64>,
    /// With `--preset ema-rule`: batch multipliers κ (each must divide the base steps).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    kappas: Vec<usize>,
    /// List the presets and exit.
    #[arg(long)]
    list_presets: bool,
}

/// The text domains `--text` names, read.
fn texts(args: &Args) -> sigmix::Result<Vec<TextDomain>> {
    args.texts.iter().map(|p| TextDomain::read(p)).collect()
}

fn config(args: &Args, preset: &str, texts: &[TextDomain]) -> sigmix::Result<RunConfig> {
    let mut cfg = match &args.config {
        Some(path) => RunConfig::from_file(path)?,
        None => RunConfig::preset(preset)?,
    };
    cfg.add_texts(texts, 1.0);
    if let Some(s) = args.steps {
        cfg.steps = s;
    }
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(lr) = args.lr {
        cfg.schedule.lr = lr;
    }
    if let Some(b) = args.batch {
        cfg.batch = b;
    }
    if let Some(m) = &args.mixture {
        cfg.mixture = m.clone();
    }
    if let Some(a) = &args.attention {
        cfg.model.attention = match a.as_str() {
            "sigmoid" => AttentionKind::Sigmoid,
            "naive" => AttentionKind::Naive,
            _ => AttentionKind::Softmax,
        };
    }
    if args.sigmoid_bias.is_some() {
        cfg.model.sigmoid_bias = args.sigmoid_bias;
    }
    cfg.model.qk_norm |= args.qk_norm;
    cfg.validate()?;
    Ok(cfg)
}

/// Trains and prints a summary; writes the record when asked.
pub fn run(args: Args, device: DeviceChoice) -> sigmix::Result<()> {
    if args.list_presets {
        for (name, what) in PRESETS {
            println!("{name:<13} {what}");
        }
        println!(
            "{:<13} the tiny GPT three times: softmax, sigmoid b = −ln n, sigmoid b = 0; curves to CSV",
            "attn-compare"
        );
        println!(
            "{:<13} contrastive encoders with M = 2, 4, 8 views at the same encoder passes; linear-probe accuracy",
            "polyview"
        );
        println!(
            "{:<13} test-time adaptation on corrupted shape streams: source, Tent, entropy filter, REALM at batch 1, 8, 64",
            "tta"
        );
        println!(
            "{:<13} BYOL on the shape images (online + predictor, EMA target); linear probe along the way",
            "byol"
        );
        println!(
            "{:<13} BYOL at batch B·κ, κ = 1, 2, 4, 8, same samples: EMA scaling rule ρ^κ against ρ fixed",
            "ema-rule"
        );
        return Ok(());
    }
    if (args.preset == "byol" || args.preset == "ema-rule") && args.config.is_none() {
        let csv = args.csv.clone().unwrap_or_else(|| format!("{}.csv", args.preset).into());
        let a = super::byol::ByolArgs {
            batch: args.batch,
            steps: args.steps,
            seed: args.seed,
            lr: args.lr,
            ema_decay: args.ema_decay,
            kappas: &args.kappas,
            csv: &csv,
            out: args.out.as_deref(),
        };
        return if args.preset == "byol" {
            super::byol::run_byol(&a, device)
        } else {
            super::byol::run_ema_rule(&a, device)
        };
    }
    if args.preset == "tta" && args.config.is_none() {
        let csv = args.csv.clone().unwrap_or_else(|| "tta.csv".into());
        let a = super::tta::TtaArgs {
            corruption: &args.corruption,
            severities: &args.severities,
            batches: &args.test_batches,
            stream_len: args.stream_len,
            realm_alpha: args.realm_alpha,
            steps: args.steps,
            seed: args.seed,
            lr: args.lr,
            csv: &csv,
            out: args.out.as_deref(),
        };
        return super::tta::run(&a, device);
    }
    if args.preset == "attn-compare" && args.config.is_none() {
        let csv = args.csv.clone().unwrap_or_else(|| "attn-compare.csv".into());
        let texts = texts(&args)?;
        return super::attn_compare::run(&config(&args, "tiny", &texts)?, &texts, &csv, device);
    }
    if args.preset == "polyview" && args.config.is_none() {
        let csv = args.csv.clone().unwrap_or_else(|| "polyview.csv".into());
        let a = super::polyview::PolyviewArgs {
            views: &args.views,
            passes: args.passes,
            loss: sigmix::kernels::contrastive::ContrastiveLoss::parse(&args.loss)?,
            steps: args.steps,
            seed: args.seed,
            lr: args.lr,
            csv: &csv,
            out: args.out.as_deref(),
        };
        return super::polyview::run(&a, device);
    }
    let texts = texts(&args)?;
    let cfg = config(&args, &args.preset, &texts)?;
    let device = super::open_device(device)?;
    let record = match train_with_bar(&device, &cfg, &texts) {
        Ok(r) => r,
        Err(e) => {
            // The steps before a divergence are kept: the record so far, with where it stopped.
            if let (sigmix::Error::Diverged { step, record, .. }, Some(path)) = (&e, &args.out) {
                write_json_atomic(path, record)?;
                return Err(sigmix::Error::Config(format!(
                    "{e}. The run record up to step {step} was written to {}",
                    path.display()
                )));
            }
            return Err(e);
        }
    };
    if let Some(path) = &args.out {
        write_json_atomic(path, &record)?;
        println!("run record written to {}", path.display());
    }
    Ok(())
}

/// Trains `cfg` (with the bytes of its text domains from `texts`) with a progress bar and
/// prints the summary table.
pub fn train_with_bar(
    device: &Device,
    cfg: &RunConfig,
    texts: &[TextDomain],
) -> sigmix::Result<sigmix::train::RunRecord> {
    let bar = ProgressBar::new(cfg.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut last_loss = f32::NAN;
    let record = train(device, cfg, texts, &mut |e| match e {
        Event::Started { params, steps, unigram_entropy } => {
            super::say(
                &bar,
                format!(
                    "model: {params} parameters, {steps} steps of {} tokens; unigram entropy of the mixture {unigram_entropy:.3} nats",
                    cfg.batch * cfg.model.context
                ),
            );
        }
        Event::Step { step, loss, tokens_per_sec } => {
            if let Some(l) = loss {
                last_loss = *l;
            }
            bar.set_position(*step as u64);
            bar.set_message(format!("loss {last_loss:.3}  {tokens_per_sec:.0} tok/s"));
        }
        Event::Eval(e) => {
            super::say(&bar, format!("step {:>5}: eval loss {:.3} (mean over domains)", e.step, e.mean()))
        }
    })?;
    bar.finish_and_clear();
    println!("finished {} steps in {:.1} s, {:.0} tokens/s", cfg.steps, record.seconds, record.tokens_per_sec);
    if let Some(e) = record.final_eval() {
        println!("{:<12} {:>10}", "domain", "eval loss");
        for (name, l) in record.domains.iter().zip(&e.per_domain) {
            println!("{name:<12} {l:>10.3}");
        }
        println!(
            "{:<12} {:>10.3}   (unigram entropy of the mixture: {:.3} nats)",
            "mean",
            e.mean(),
            record.unigram_entropy
        );
    }
    if !record.expert_load.is_empty() {
        println!(
            "experts: {} parameters in all, {} active per token; load per layer (share of routed slots, last steps):",
            record.params, record.active_params
        );
        for (l, load) in record.expert_load.iter().enumerate() {
            let bars: Vec<String> = load.iter().map(|f| format!("{:>5.1}%", 100.0 * f)).collect();
            let uniform = 1.0 / load.len().max(1) as f64;
            let starved = load.iter().filter(|f| **f < 0.25 * uniform).count();
            println!(
                "  layer {l}: {}  {}",
                bars.join(" "),
                if starved == 0 {
                    "(no expert starves)".to_string()
                } else {
                    format!("({starved} expert(s) under a quarter of a fair share)")
                }
            );
        }
    }
    Ok(record)
}
