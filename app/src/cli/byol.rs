//! `sigmix train --preset byol` (one BYOL run, probed as it trains) and `--preset ema-rule`
//! (BYOL at κ times the batch over the same samples, with the EMA scaling rule and without
//! it, and the spread of the final probe accuracies per arm).

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use sigmix::DeviceChoice;
use sigmix::files::write_text_atomic;
use sigmix::selfsup::ema_rule::{
    EmaRuleConfig, EmaRuleRecord, Probed, curves_csv, rule_gains, run_ema_rule_async, spread,
};
use sigmix::selfsup::{ByolConfig, SelfsupEvent, train_byol};
use sigmix::train::write_json_atomic;

/// What the BYOL presets were asked for.
pub struct ByolArgs<'a> {
    /// Samples per step B (for ema-rule: the base batch).
    pub batch: Option<usize>,
    /// Steps (for ema-rule: at the base batch).
    pub steps: Option<usize>,
    /// Seed.
    pub seed: Option<u64>,
    /// Peak learning rate (for ema-rule: at the base batch).
    pub lr: Option<f32>,
    /// Target decay ρ (for ema-rule: at the base batch).
    pub ema_decay: Option<f64>,
    /// Batch multipliers of ema-rule.
    pub kappas: &'a [usize],
    /// Curves CSV.
    pub csv: &'a Path,
    /// Records JSON.
    pub out: Option<&'a Path>,
}

impl ByolArgs<'_> {
    fn apply(&self, mut cfg: ByolConfig) -> ByolConfig {
        if let Some(b) = self.batch {
            cfg.samples = b;
        }
        if let Some(s) = self.steps {
            cfg.steps = s;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(lr) = self.lr {
            cfg.schedule.lr = lr;
        }
        if let Some(r) = self.ema_decay {
            cfg.ema_decay = r;
        }
        cfg
    }
}

fn bar(steps: usize, prefix: String) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(prefix);
    bar
}

/// Follows one run's events on `bar`.
fn follow(bar: &ProgressBar, last: &mut f32, e: &SelfsupEvent) {
    match e {
        SelfsupEvent::Started { .. } => {}
        SelfsupEvent::Step { step, loss } => {
            if let Some(l) = loss {
                *last = *l;
            }
            bar.set_position(*step as u64);
            bar.set_message(format!("loss {last:.4}"));
        }
        SelfsupEvent::Probe { step, accuracy, target } => bar.set_message(format!(
            "probe at step {step}: online {:.1}%, target {:.1}%",
            100.0 * accuracy,
            100.0 * target.unwrap_or(f64::NAN)
        )),
    }
}

/// One BYOL run with probes along the way.
pub fn run_byol(a: &ByolArgs<'_>, device: DeviceChoice) -> sigmix::Result<()> {
    let mut cfg = a.apply(ByolConfig::default());
    cfg.probe_every = (cfg.steps / 5).max(1);
    cfg.validate()?;
    let device = super::open_device(device)?;
    println!(
        "BYOL: B = {} samples × {} views, {} steps, target decay ρ = {}, lr {}, on {}",
        cfg.samples,
        cfg.views,
        cfg.steps,
        cfg.ema_decay,
        cfg.schedule.lr,
        device.label()
    );
    let progress = bar(cfg.steps, format!("B={:<3}", cfg.samples));
    let mut last = f32::NAN;
    let record = train_byol(&device, &cfg, &mut |e| follow(&progress, &mut last, e))?;
    progress.finish_and_clear();
    let mut csv = String::from("what,step,samples_seen,value\n");
    for (step, loss) in &record.curve {
        csv.push_str(&format!("loss,{step},{},{loss:.6}\n", record.samples_seen(*step)));
    }
    for (what, probes) in [("probe", &record.probes), ("target_probe", &record.target_probes)] {
        for (step, acc) in probes {
            csv.push_str(&format!("{what},{step},{},{acc:.6}\n", record.samples_seen(*step)));
        }
    }
    write_text_atomic(a.csv, &csv)?;
    if let Some(out) = a.out {
        write_json_atomic(out, &record)?;
    }
    println!("| step | samples seen | probe test accuracy: online | target |");
    println!("|---:|---:|---:|---:|");
    for ((step, acc), (_, target)) in record.probes.iter().zip(&record.target_probes) {
        println!("| {step} | {} | {:.1}% | {:.1}% |", record.samples_seen(*step), 100.0 * acc, 100.0 * target);
    }
    println!(
        "final loss {:.4}; {:.1} s of training; curves written to {}",
        record.curve.last().map_or(f32::NAN, |p| p.1),
        record.seconds,
        a.csv.display()
    );
    Ok(())
}

/// The EMA scaling rule experiment.
pub fn run_ema_rule(a: &ByolArgs<'_>, device: DeviceChoice) -> sigmix::Result<()> {
    let defaults = EmaRuleConfig::default();
    let cfg = EmaRuleConfig { base: a.apply(defaults.base), kappas: a.kappas.to_vec(), ..defaults };
    let plan = cfg.plan()?;
    let device = super::open_device(device)?;
    let b = &cfg.base;
    println!(
        "EMA scaling rule: BYOL at B = {} × κ for κ in {:?}, {} samples seen each, base ρ = {}, base lr {}, on {}",
        b.samples,
        cfg.kappas,
        b.samples * b.steps,
        b.ema_decay,
        b.schedule.lr,
        device.label()
    );
    let bars: Vec<ProgressBar> = plan
        .iter()
        .map(|r| bar(r.config.steps, format!("κ={} {:<5} B={:<4}", r.kappa, r.arm(), r.config.samples)))
        .collect();
    let mut last = f32::NAN;
    let mut done: Vec<EmaRuleRecord> = Vec::new();
    let never = std::sync::atomic::AtomicBool::new(false);
    let records = pollster::block_on(run_ema_rule_async(
        &device,
        &cfg,
        &never,
        &mut |r| {
            // Each finished run is kept even if a later one fails.
            done.push(r.clone());
            write_text_atomic(a.csv, &curves_csv(&done))?;
            match a.out {
                Some(out) => write_json_atomic(out, &done),
                None => Ok(()),
            }
        },
        &mut |i, e| {
            if let Some(b) = bars.get(i) {
                follow(b, &mut last, e);
                if let (SelfsupEvent::Step { step, .. }, Some(run)) = (e, plan.get(i))
                    && *step == run.config.steps
                {
                    b.finish_and_clear();
                }
            }
        },
    ))?
    .unwrap_or_default();
    println!("| κ | B | steps | lr | arm | ρ | final loss | probe: online | probe: target | seconds |");
    println!("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    for r in &records {
        let c = &r.run.config;
        let arm = if r.run.kappa == 1 {
            "base"
        } else if r.run.rule {
            "rule ρ^κ"
        } else {
            "ρ fixed"
        };
        println!(
            "| {} | {} | {} | {:.2e} | {arm} | {:.5} | {:.4} | {:.1}% | {:.1}% | {:.1} |",
            r.run.kappa,
            c.samples,
            c.steps,
            c.schedule.lr,
            c.ema_decay,
            r.record.curve.last().map_or(f32::NAN, |p| p.1),
            100.0 * r.final_accuracy(Probed::Online),
            100.0 * r.final_accuracy(Probed::Target),
            r.record.seconds
        );
    }
    let show = |s: Option<f64>| s.map_or("n/a".to_string(), |v| format!("{:.1} points", 100.0 * v));
    for (which, name) in [(Probed::Online, "online"), (Probed::Target, "target")] {
        println!(
            "final probe accuracy spread over κ ({name} encoder): with the rule {}, with ρ fixed {}",
            show(spread(&records, true, which)),
            show(spread(&records, false, which))
        );
    }
    let gains: Vec<String> =
        rule_gains(&records, Probed::Target).iter().map(|(k, g)| format!("κ = {k}: {:+.1}", 100.0 * g)).collect();
    if !gains.is_empty() {
        println!("target probe, the rule minus ρ fixed: {} points", gains.join(", "));
    }
    println!("curves written to {}", a.csv.display());
    if let Some(out) = a.out {
        println!("records written to {}", out.display());
    }
    Ok(())
}
