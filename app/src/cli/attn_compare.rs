//! `sigmix train --preset attn-compare`: the same tiny GPT, seed and data trained with
//! softmax attention, sigmoid attention with b = −ln n, and sigmoid with b = 0.

use std::io::Write;
use std::path::Path;

use sigmix::data::TextDomain;
use sigmix::nn::AttentionKind;
use sigmix::train::{RunConfig, RunRecord};
use sigmix::{DeviceChoice, Error};

/// Runs the three trainings (on the built-in domains and `texts`), prints their final losses
/// and writes the curves.
pub fn run(base: &RunConfig, texts: &[TextDomain], csv: &Path, device: DeviceChoice) -> sigmix::Result<()> {
    let device = super::open_device(device)?;
    let n = base.model.context as f32;
    let variants = [
        ("softmax", AttentionKind::Softmax, None),
        ("sigmoid b=-ln n", AttentionKind::Sigmoid, Some(-n.ln())),
        ("sigmoid b=0", AttentionKind::Sigmoid, Some(0.0)),
    ];
    let mut records: Vec<(&str, RunRecord)> = Vec::new();
    for (name, kind, bias) in variants {
        println!("== {name}");
        let mut cfg = base.clone();
        cfg.name = format!("attn-compare {name}");
        cfg.model.attention = kind;
        cfg.model.sigmoid_bias = bias;
        records.push((name, super::train::train_with_bar(&device, &cfg, texts)?));
    }
    println!("\n{:<18} {:>12} {:>14}", "attention", "final train", "final eval");
    let softmax_eval = records[0].1.final_eval().map_or(f32::NAN, |e| e.mean());
    for (name, r) in &records {
        let eval = r.final_eval().map_or(f32::NAN, |e| e.mean());
        let train = r.curve.last().map_or(f32::NAN, |p| p.loss);
        println!("{name:<18} {train:>12.4} {eval:>14.4}  ({:+.2}% vs softmax)", 100.0 * (eval / softmax_eval - 1.0));
    }
    write_csv(csv, &records)?;
    println!("curves written to {}", csv.display());
    Ok(())
}

fn write_csv(path: &Path, records: &[(&str, RunRecord)]) -> sigmix::Result<()> {
    let io = |source| Error::Io { path: path.into(), source };
    let tmp = path.with_extension("csv.partial");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    writeln!(f, "attention,step,tokens,train_loss,eval_loss").map_err(io)?;
    for (name, r) in records {
        for p in &r.curve {
            let eval = r.evals.iter().find(|e| e.step == p.step).map_or(String::new(), |e| format!("{:.6}", e.mean()));
            writeln!(f, "{name},{},{},{:.6},{eval}", p.step, p.tokens, p.loss).map_err(io)?;
        }
    }
    f.flush().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}
