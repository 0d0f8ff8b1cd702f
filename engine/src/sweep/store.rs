//! Sweep results as JSON Lines: one flat object per finished run, appended and flushed to
//! disk the moment the run ends, so a killed sweep loses at most the run in progress. The
//! columns are named like the public data-mixture tables (`model_size`, `n_tokens`,
//! `weight_<domain>`, `<domain>_loss`), so `sigmix fit --data runs.jsonl` reads them as is.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::write_text_atomic;
use crate::train::{RunConfig, RunRecord};

/// One finished run of a sweep.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepRow {
    /// The sweep's name.
    pub sweep: String,
    /// The cell's position in the plan.
    pub index: usize,
    /// The cell's stable id.
    pub id: String,
    /// Parameters N (embeddings included).
    pub model_size: usize,
    /// Parameters outside the token and position embeddings.
    pub non_embedding_params: usize,
    /// Training tokens D.
    pub n_tokens: usize,
    /// `weight_<domain>`, `<domain>_loss` (final held-out loss) and `mean_loss`.
    #[serde(flatten)]
    pub columns: BTreeMap<String, f64>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// Training tokens per second.
    pub tokens_per_sec: f64,
    /// The device that ran it.
    pub device: String,
    /// The full configuration, enough to repeat the run.
    pub config: RunConfig,
}

impl SweepRow {
    /// The row for a finished run of cell (`sweep`, `index`, `id`).
    pub fn from_record(sweep: &str, index: usize, id: &str, record: &RunRecord) -> Result<SweepRow> {
        let Some(eval) = record.final_eval() else {
            return Err(Error::Config(format!("run {id} finished without an evaluation")));
        };
        let mut columns = BTreeMap::new();
        for ((name, w), loss) in record.domains.iter().zip(&record.config.mixture).zip(&eval.per_domain) {
            columns.insert(format!("weight_{name}"), *w);
            columns.insert(format!("{name}_loss"), *loss as f64);
        }
        columns.insert("mean_loss".into(), eval.mean() as f64);
        Ok(SweepRow {
            sweep: sweep.into(),
            index,
            id: id.into(),
            model_size: record.params,
            non_embedding_params: record.config.model.non_embedding_params(),
            n_tokens: record.tokens,
            columns,
            seconds: record.seconds,
            tokens_per_sec: record.tokens_per_sec,
            device: record.adapter.name.clone(),
            config: record.config.clone(),
        })
    }

    /// The mixture weights, in domain order of `domains`.
    pub fn weights(&self, domains: &[&str]) -> Vec<f64> {
        domains.iter().map(|d| self.columns.get(&format!("weight_{d}")).copied().unwrap_or(0.0)).collect()
    }
}

/// What reading a JSONL file found.
#[derive(Debug, Default)]
pub struct ReadRows {
    /// The complete rows, in file order.
    pub rows: Vec<SweepRow>,
    /// Byte length of the complete lines; anything after it is a torn last line.
    pub complete_len: u64,
    /// Whether a torn last line (a run killed while writing) follows.
    pub torn_tail: bool,
    /// Whether the last complete row lacks its final newline (written by another tool).
    pub missing_newline: bool,
}

/// Reads sweep rows; a last line without its newline that does not parse is reported as torn
/// (not an error), every other bad line is an error naming the line and column.
pub fn read_rows(path: &Path) -> Result<ReadRows> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    parse_rows(path, &text)
}

/// `read_rows` on text already in memory (a sweep uploaded to the browser page); `path` names
/// it in errors.
pub fn parse_rows(path: &Path, text: &str) -> Result<ReadRows> {
    let mut out = ReadRows::default();
    let mut offset = 0u64;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let complete = line.ends_with('\n');
        let body = line.trim();
        if !body.is_empty() {
            match serde_json::from_str::<SweepRow>(body) {
                Ok(row) => {
                    out.rows.push(row);
                    out.missing_newline = !complete;
                }
                // A killed writer leaves a last line without its newline: drop it, resume redoes it.
                Err(_) if !complete => {
                    out.torn_tail = true;
                    break;
                }
                Err(e) => {
                    return Err(Error::Parse {
                        path: path.into(),
                        message: format!(
                            "line {}, column {}: not a sweep row ({e}); a sweep file holds one JSON object per line",
                            i + 1,
                            e.column()
                        ),
                    });
                }
            }
        }
        offset += line.len() as u64;
        out.complete_len = offset;
    }
    Ok(out)
}

/// Appends rows to a JSONL file, each flushed and synced before `append` returns.
pub struct SweepWriter {
    path: PathBuf,
    file: std::fs::File,
}

impl SweepWriter {
    /// Opens `path` for a sweep. A non-empty existing file needs `resume` (and then its rows
    /// are returned, after cutting a torn last line); otherwise the file is created. The file
    /// stays locked while the writer lives, so a second sweep on it (another `sigmix sweep`,
    /// the lab) is refused instead of training the same runs again beside it.
    pub fn open(path: &Path, resume: bool) -> Result<(SweepWriter, ReadRows)> {
        let io = |source| Error::Io { path: path.into(), source };
        let holds_runs = || std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false);
        let refuse = || {
            Err(Error::Config(format!(
                "{} already holds runs; pass --resume to continue that sweep, or choose another --out",
                path.display()
            )))
        };
        if holds_runs() && !resume {
            return refuse();
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        lock_for_sweep(&file, path)?;
        // Read under the lock: what another sweep appended before it let go is counted.
        let existing = holds_runs();
        if existing && !resume {
            return refuse();
        }
        let found = if existing { read_rows(path)? } else { ReadRows::default() };
        if found.torn_tail {
            file.set_len(found.complete_len).map_err(io)?;
        }
        let mut writer = SweepWriter { path: path.into(), file };
        if found.missing_newline {
            writer.file.write_all(b"\n").map_err(io)?;
        }
        Ok((writer, found))
    }

    /// Appends one row as one line and syncs it to disk.
    pub fn append(&mut self, row: &SweepRow) -> Result<()> {
        let io = |source| Error::Io { path: self.path.clone(), source };
        let line = jsonl(std::slice::from_ref(row), &self.path)?;
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.flush().map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Takes the advisory lock a sweep holds on its file while it writes (released by the system
/// when the process ends, even when it is killed). A file system without locks is written
/// unlocked, as before locks existed.
fn lock_for_sweep(file: &std::fs::File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Config(format!(
            "{} is being written by another sweep right now (a second `sigmix sweep`, or the lab): \
             wait for it to finish and then --resume, or choose another --out",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => Ok(()),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::Io { path: path.into(), source }),
    }
}

/// `rows` as JSON Lines, one object per line, each line ended: the sweep file format.
/// `path` names where they are going, in the error.
pub fn jsonl<'a>(rows: impl IntoIterator<Item = &'a SweepRow>, path: &Path) -> Result<String> {
    let mut text = String::new();
    for row in rows {
        text.push_str(
            &serde_json::to_string(row).map_err(|e| Error::Parse { path: path.into(), message: e.to_string() })?,
        );
        text.push('\n');
    }
    Ok(text)
}

/// What a merge did.
#[derive(Debug, Default, PartialEq)]
pub struct MergeReport {
    /// Rows written.
    pub rows: usize,
    /// Identical rows found in more than one input (kept once).
    pub duplicates: usize,
    /// Inputs that ended in a torn line (the torn line was dropped).
    pub torn_inputs: usize,
}

/// Joins sweep files (e.g. one per shard) into `out`, ordered by sweep and plan position,
/// each run once. The same run with different results in two inputs is an error naming both
/// files: which one is right cannot be guessed. Written atomically.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<MergeReport> {
    let mut by_key: BTreeMap<(String, usize), (SweepRow, PathBuf)> = BTreeMap::new();
    let mut report = MergeReport::default();
    for path in inputs {
        let read = read_rows(path)?;
        report.torn_inputs += usize::from(read.torn_tail);
        for row in read.rows {
            let key = (row.sweep.clone(), row.index);
            match by_key.get(&key) {
                Some((kept, _)) if kept == &row => report.duplicates += 1,
                Some((kept, from)) => {
                    return Err(Error::Config(format!(
                        "run {} of sweep {} is in {} and {} with different results (ids {} and {}); merge files of one sweep, each run once",
                        row.id,
                        row.sweep,
                        from.display(),
                        path.display(),
                        kept.id,
                        row.id
                    )));
                }
                None => {
                    by_key.insert(key, (row, path.clone()));
                }
            }
        }
    }
    let rows: Vec<&SweepRow> = by_key.values().map(|(row, _)| row).collect();
    write_text_atomic(out, &jsonl(rows, out)?)?;
    report.rows = by_key.len();
    Ok(report)
}
