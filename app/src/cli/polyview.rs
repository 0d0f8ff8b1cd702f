//! `sigmix train --preset polyview`: the poly-view experiment at a fixed compute budget.
//! M ∈ {2, 4, 8} views with B·M encoder passes per step held fixed (so fewer unique samples
//! as M grows), each probed before and after; curves to CSV, records to JSON.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use sigmix::DeviceChoice;
use sigmix::files::write_text_atomic;
use sigmix::kernels::contrastive::ContrastiveLoss;
use sigmix::selfsup::{PolyviewConfig, PolyviewRecord, SelfsupEvent, curves_csv, train_polyview};
use sigmix::train::write_json_atomic;

/// What `sigmix train --preset polyview` was asked for.
pub struct PolyviewArgs<'a> {
    /// Views per sample to compare.
    pub views: &'a [usize],
    /// Encoder passes per step B·M (the same for every M).
    pub passes: usize,
    /// Objective for M > 2 (M = 2 always runs InfoNCE, which every objective equals there).
    pub loss: ContrastiveLoss,
    /// Steps (default 1000).
    pub steps: Option<usize>,
    /// Seed.
    pub seed: Option<u64>,
    /// Peak learning rate.
    pub lr: Option<f32>,
    /// Curves CSV.
    pub csv: &'a Path,
    /// Records JSON.
    pub out: Option<&'a Path>,
}

fn config(a: &PolyviewArgs<'_>, views: usize) -> sigmix::Result<PolyviewConfig> {
    let mut base = PolyviewConfig::default();
    if let Some(s) = a.steps {
        base.steps = s;
    }
    if let Some(s) = a.seed {
        base.seed = s;
    }
    if let Some(lr) = a.lr {
        base.schedule.lr = lr;
    }
    base.with_views(a.passes, views, a.loss)
}

/// Runs every M and prints the comparison.
pub fn run(a: &PolyviewArgs<'_>, device: DeviceChoice) -> sigmix::Result<()> {
    let configs = a.views.iter().map(|&m| config(a, m)).collect::<sigmix::Result<Vec<_>>>()?;
    let device = super::open_device(device)?;
    println!(
        "poly-view at a fixed compute budget: {} encoder passes per step, {} steps, τ = {}, on {}",
        a.passes,
        configs.first().map_or(0, |c| c.steps),
        configs.first().map_or(0.0, |c| c.temperature),
        device.label()
    );
    let mut records: Vec<PolyviewRecord> = Vec::new();
    for cfg in &configs {
        let bar = ProgressBar::new(cfg.steps as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("M={} B={:<3}", cfg.views, cfg.samples));
        let mut last = f32::NAN;
        let record = train_polyview(&device, cfg, &mut |e| match e {
            SelfsupEvent::Started { .. } => {}
            SelfsupEvent::Step { step, loss } => {
                if let Some(l) = loss {
                    last = *l;
                }
                bar.set_position(*step as u64);
                bar.set_message(format!("{} loss {last:.3}", cfg.loss.name()));
            }
            SelfsupEvent::Probe { step, accuracy, .. } => {
                bar.set_message(format!("probe at step {step}: {:.1}%", 100.0 * accuracy))
            }
        })?;
        bar.finish_and_clear();
        records.push(record);
        // Each finished run is kept even if a later one fails.
        write_csv(a.csv, &records)?;
        if let Some(out) = a.out {
            write_json_atomic(out, &records)?;
        }
    }
    println!("| M | B | loss | final loss | unique sample draws | probe test acc. before → after | seconds |");
    println!("|---:|---:|---|---:|---:|---|---:|");
    for r in &records {
        let c = &r.config;
        println!(
            "| {} | {} | {} | {:.3} | {} | {:.1}% → {:.1}% | {:.1} |",
            c.views,
            c.samples,
            c.loss.name(),
            r.curve.last().map_or(f32::NAN, |p| p.1),
            r.sample_draws,
            100.0 * r.probe_before.1,
            100.0 * r.probe_after.1,
            r.seconds
        );
    }
    println!("curves written to {}", a.csv.display());
    if let Some(out) = a.out {
        println!("records written to {}", out.display());
    }
    Ok(())
}

fn write_csv(path: &Path, records: &[PolyviewRecord]) -> sigmix::Result<()> {
    write_text_atomic(path, &curves_csv(records))
}
