//! `sigmix train --preset tta`: test-time adaptation on corrupted shape streams. Trains the
//! source classifier, streams every severity at every test batch size through every method,
//! and prints the stream accuracies; curves to CSV, the record to JSON.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use sigmix::DeviceChoice;
use sigmix::data::Corruption;
use sigmix::files::write_text_atomic;
use sigmix::train::write_json_atomic;
use sigmix::tta::{TtaConfig, TtaEvent, TtaMethod, TtaRecord, curves_csv, run_tta};

/// What `sigmix train --preset tta` was asked for.
pub struct TtaArgs<'a> {
    /// The stream's corruption, by name.
    pub corruption: &'a str,
    /// Severities to stream.
    pub severities: &'a [usize],
    /// Test batch sizes.
    pub batches: &'a [usize],
    /// Test samples per stream.
    pub stream_len: Option<usize>,
    /// REALM's shape α.
    pub realm_alpha: Option<f32>,
    /// Source training steps.
    pub steps: Option<usize>,
    /// Seed.
    pub seed: Option<u64>,
    /// The adaptation's learning rate at batch 64.
    pub lr: Option<f32>,
    /// Curves CSV.
    pub csv: &'a Path,
    /// Record JSON.
    pub out: Option<&'a Path>,
}

/// The preset's configuration with the arguments applied, checked.
pub fn config(a: &TtaArgs<'_>) -> sigmix::Result<TtaConfig> {
    let mut cfg = TtaConfig {
        corruption: Corruption::parse(a.corruption)?,
        severities: a.severities.to_vec(),
        batches: a.batches.to_vec(),
        ..TtaConfig::default()
    };
    if let Some(n) = a.stream_len {
        cfg.stream_len = n;
    }
    if let Some(alpha) = a.realm_alpha {
        cfg.realm_alpha = alpha;
    }
    if let Some(s) = a.steps {
        cfg.source_steps = s;
    }
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(lr) = a.lr {
        cfg.adapt_lr = lr;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Runs the experiment and prints the comparison.
pub fn run(a: &TtaArgs<'_>, device: DeviceChoice) -> sigmix::Result<()> {
    let cfg = config(a)?;
    let device = super::open_device(device)?;
    println!(
        "test-time adaptation: {} corruption, severities {:?}, test batches {:?}, {} samples per stream, \
         Adam lr {} at batch 64 (√b rule), REALM α = {} [I]",
        cfg.corruption.name(),
        cfg.severities,
        cfg.batches,
        cfg.stream_len,
        cfg.adapt_lr,
        cfg.realm_alpha
    );
    let streams = cfg.severities.len() * cfg.batches.len() * cfg.methods.len();
    let bar = ProgressBar::new((cfg.source_steps + streams) as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len}  {msg}  [{elapsed} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix("source");
    let mut done = 0;
    let record = run_tta(&device, &cfg, &mut |e| match e {
        TtaEvent::SourceStep { step, loss, .. } => {
            bar.set_position(*step as u64);
            if let Some(l) = loss {
                bar.set_message(format!("loss {l:.3}"));
            }
        }
        TtaEvent::SourceDone { clean_accuracy } => {
            super::say(&bar, format!("source model: {:.1}% on the clean test images", 100.0 * clean_accuracy));
            bar.set_prefix("streams");
        }
        TtaEvent::StreamStarted { method, batch, severity } => {
            bar.set_message(format!("{} batch {batch} severity {severity}", method.name()))
        }
        TtaEvent::StreamPoint { .. } => {}
        TtaEvent::StreamDone(_) => {
            done += 1;
            bar.set_position((cfg.source_steps + done) as u64);
        }
    });
    bar.finish_and_clear();
    let record = record?;
    // The record first: nothing measured is lost if printing fails.
    write_text_atomic(a.csv, &curves_csv(&record))?;
    if let Some(out) = a.out {
        write_json_atomic(out, &record)?;
    }
    print!("{}", summary(&record));
    println!("curves written to {}", a.csv.display());
    if let Some(out) = a.out {
        println!("record written to {}", out.display());
    }
    Ok(())
}

/// The tables: accuracy over each stream per severity and batch size, one column per method,
/// then how the strongest corruption ends at the smallest batch.
pub fn summary(r: &TtaRecord) -> String {
    let c = &r.config;
    let mut s = format!(
        "source model: {:.1}% clean after {} steps ({:.1} s); whole run {:.1} s\n\n",
        100.0 * r.clean_accuracy,
        c.source_steps,
        r.source_seconds,
        r.seconds
    );
    s.push_str("stream accuracy (accuracy over the last window in brackets)\n\n| severity | batch |");
    for m in &c.methods {
        s.push_str(&format!(" {} |", m.name()));
    }
    s.push_str("\n|---:|---:|");
    s.push_str(&"---:|".repeat(c.methods.len()));
    s.push('\n');
    for &sev in &c.severities {
        for &b in &c.batches {
            s.push_str(&format!("| {sev} | {b} |"));
            for &m in &c.methods {
                match r.stream(m, b, sev) {
                    Some(st) => s.push_str(&format!(
                        " {:.1}% ({:.1}%) |",
                        100.0 * st.accuracy,
                        100.0 * st.final_window_accuracy
                    )),
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
    }
    let (Some(&sev), Some(&b)) = (c.severities.iter().max(), c.batches.iter().min()) else { return s };
    s.push_str(&format!("\nseverity {sev}, batch {b}: how each stream ends\n\n"));
    s.push_str("| method | stream accuracy | last window | its most predicted class takes | mean entropy |\n");
    s.push_str("|---|---:|---:|---:|---:|\n");
    for &m in &c.methods {
        if let Some(st) = r.stream(m, b, sev) {
            let top = st.curve.last().map_or(f64::NAN, |p| p.top_share);
            s.push_str(&format!(
                "| {} | {:.1}% | {:.1}% | {:.0}% | {:.3} |\n",
                m.name(),
                100.0 * st.accuracy,
                100.0 * st.final_window_accuracy,
                100.0 * top,
                st.mean_entropy
            ));
        }
    }
    if let (Some(t), Some(re)) = (r.stream(TtaMethod::Tent, b, sev), r.stream(TtaMethod::Realm, b, sev)) {
        s.push_str(&format!(
            "\nREALM {} Tent at batch {b}, severity {sev}: {:.1}% vs {:.1}%\n",
            if re.accuracy >= t.accuracy { "≥" } else { "<" },
            100.0 * re.accuracy,
            100.0 * t.accuracy
        ));
    }
    s
}
