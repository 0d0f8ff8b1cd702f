//! What every loader must do with any input, as one function per loader over raw bytes: accept
//! it (and what reads it next must not panic either) or refuse it with an error that names the
//! file (and the line, where it says one). The property tests (tests/tests/fuzz.rs) and the
//! coverage-guided fuzz targets (fuzz/, cargo-fuzz) call the same functions, so both check one
//! contract. `Err` describes a broken contract; a panic is one too.

use std::path::Path;

use sigmix::data::TextDomain;
use sigmix::laws::{RunTable, TokensFrom, read_fits};
use sigmix::sweep::{SweepPlan, parse_rows};
use sigmix::train::{RunConfig, read_json};
use sigmix::tta::TtaConfig;

/// A broken contract: what was wrong, with the error or value that shows it.
pub type Broken = String;

/// Bytes as the loaders meet them from a file: invalid UTF-8 replaced, as a reader of text
/// files that is handed bytes would see them.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Writes `data` to a scratch file `name` and loads it with `load`: a refusal that speaks of a
/// line must name the file.
fn through_file<T>(name: &str, data: &[u8], load: impl Fn(&Path) -> sigmix::Result<T>) -> Result<(), Broken> {
    let path = crate::temp_path("sigmix-inputs", name);
    std::fs::write(&path, data).map_err(|e| format!("could not write the scratch file {}: {e}", path.display()))?;
    match load(&path) {
        Ok(_) => Ok(()),
        Err(e) => {
            let msg = e.to_string();
            if msg.contains(name) || !msg.contains("line") {
                Ok(())
            } else {
                Err(format!("an error about a line does not name the file: {msg}"))
            }
        }
    }
}

/// A table of runs, as CSV and as JSONL: parsed, then every loss column read as the fit reads
/// it (tokens as a column and as FLOPs), or refused naming the file.
pub fn run_table(data: &[u8]) -> Result<(), Broken> {
    let text = text(data);
    for name in ["runs.csv", "runs.jsonl"] {
        match RunTable::parse(Path::new(name), &text) {
            Ok(table) => {
                let h = table.weight_columns("weight_");
                for target in ["a_loss", "b_loss", "nothing"] {
                    let _ = table.observations(target, "model_size", TokensFrom::Column("n_tokens"), &h);
                    let _ = table.observations(target, "model_size", TokensFrom::Flops("n_tokens"), &h);
                }
            }
            Err(e) if !e.to_string().contains(name) => return Err(format!("the error does not name {name}: {e}")),
            Err(_) => {}
        }
    }
    Ok(())
}

/// A sweep file's rows (a torn last line allowed): read up to a whole line, or refused naming
/// the file.
pub fn sweep_rows(data: &[u8]) -> Result<(), Broken> {
    let text = text(data);
    match parse_rows(Path::new("runs.jsonl"), &text) {
        Ok(read) if read.complete_len as usize > text.len() => {
            Err(format!("{} bytes kept of {}", read.complete_len, text.len()))
        }
        Ok(_) => Ok(()),
        Err(e) if !e.to_string().contains("runs.jsonl") => Err(format!("the error does not name runs.jsonl: {e}")),
        Err(_) => Ok(()),
    }
}

/// A fit file (`sigmix fit --out`, input of `sigmix mix`).
pub fn fit_file(data: &[u8]) -> Result<(), Broken> {
    through_file("fits.json", data, read_fits)
}

/// A sweep plan: parsed, then every run of it planned.
pub fn plan(data: &[u8]) -> Result<(), Broken> {
    through_file("plan.json", data, SweepPlan::from_file)
}

/// A run configuration: parsed and validated.
pub fn run_config(data: &[u8]) -> Result<(), Broken> {
    through_file("run.json", data, |p| read_json::<RunConfig>(p)?.validate())
}

/// A test-time adaptation configuration: parsed and validated.
pub fn tta_config(data: &[u8]) -> Result<(), Broken> {
    through_file("tta.json", data, |p| read_json::<TtaConfig>(p)?.validate())
}

/// A file dropped onto the lab (any name, any bytes) becomes a text domain whose training and
/// held-out parts cover it, or is refused with an error that names the file.
pub fn dropped_text(name: &str, bytes: &[u8]) -> Result<(), Broken> {
    match TextDomain::new(name, bytes.to_vec()) {
        Ok(t) => {
            let (train, held_out) = t.split();
            if t.len() != bytes.len() || t.name().is_empty() || train.len() + held_out.len() != bytes.len() {
                Err(format!(
                    "{} bytes became a domain of {} split {} + {}",
                    bytes.len(),
                    t.len(),
                    train.len(),
                    held_out.len()
                ))
            } else {
                Ok(())
            }
        }
        Err(e) if !e.to_string().contains(&format!("`{name}`")) => {
            Err(format!("the error does not name `{name}`: {e}"))
        }
        Err(_) => Ok(()),
    }
}
