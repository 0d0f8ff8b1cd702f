//! Runs to fit: (N, D, h, loss) observations, read from CSV tables of training runs or from
//! JSON Lines (one object per run, e.g. what `sigmix sweep` writes).

use std::path::Path;

use crate::error::{Error, Result};

/// One training run as a law sees it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// Parameters N.
    pub n: f64,
    /// Training tokens D.
    pub d: f64,
    /// Mixture weights h (empty for laws without a mixture).
    pub h: Vec<f64>,
    /// Measured loss (nats/token).
    pub loss: f64,
}

/// Where a run's token count D comes from.
#[derive(Clone, Copy, Debug)]
pub enum TokensFrom<'a> {
    /// A column of training tokens.
    Column(&'a str),
    /// A column of training compute C in FLOPs: D = C / 6N.
    Flops(&'a str),
}

/// A table of runs with named columns; cells are parsed on demand by column name.
#[derive(Clone, Debug)]
pub struct RunTable {
    path: std::path::PathBuf,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl RunTable {
    /// Reads a table: JSON Lines when the name ends in `.jsonl` or `.ndjson`, else CSV.
    pub fn read(path: &Path) -> Result<RunTable> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Self::parse(path, &text)
    }

    /// A table from text already in memory (a file dropped onto the browser page), `name`
    /// choosing the format as in `read` and naming it in errors.
    pub fn parse(name: &Path, text: &str) -> Result<RunTable> {
        let ext = name.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "jsonl" || ext == "ndjson" { Self::parse_jsonl(name, text) } else { Self::parse_csv(name, text) }
    }

    /// Reads JSON Lines: every top-level number of every object is a column (null or a
    /// missing key is an empty cell); strings and nested objects are ignored.
    pub fn read_jsonl(path: &Path) -> Result<RunTable> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Self::parse_jsonl(path, &text)
    }

    fn parse_jsonl(path: &Path, text: &str) -> Result<RunTable> {
        let mut header: Vec<String> = Vec::new();
        let mut objects = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Parse {
                path: path.into(),
                message: format!("line {}, column {}: {e}", i + 1, e.column()),
            })?;
            let serde_json::Value::Object(map) = value else {
                return Err(Error::Parse {
                    path: path.into(),
                    message: format!("line {}: expected one JSON object per line", i + 1),
                });
            };
            for (k, v) in &map {
                if (v.is_number() || v.is_null()) && !header.contains(k) {
                    header.push(k.clone());
                }
            }
            objects.push((i + 1, map));
        }
        if objects.is_empty() {
            return Err(Error::Parse { path: path.into(), message: "the file holds no runs".into() });
        }
        let rows = objects
            .into_iter()
            .map(|(line, map)| {
                let cells = header
                    .iter()
                    .map(|h| match map.get(h) {
                        Some(v) if v.is_number() => v.to_string(),
                        Some(v) if !v.is_null() => format!("{v}"),
                        _ => String::new(),
                    })
                    .collect();
                (line, cells)
            })
            .collect();
        Ok(RunTable { path: path.into(), header, rows })
    }

    /// Reads a CSV file (comma-separated, header first, no quoting).
    pub fn read_csv(path: &Path) -> Result<RunTable> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Self::parse_csv(path, &text)
    }

    fn parse_csv(path: &Path, text: &str) -> Result<RunTable> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let Some((_, head)) = lines.next() else {
            return Err(Error::Parse { path: path.into(), message: "the file is empty; expected a header row".into() });
        };
        let header: Vec<String> = head.split(',').map(|c| c.trim().to_string()).collect();
        let mut rows = Vec::new();
        for (i, line) in lines {
            let cells: Vec<String> = line.split(',').map(|c| c.trim().to_string()).collect();
            if cells.len() != header.len() {
                return Err(Error::Parse {
                    path: path.into(),
                    message: format!("line {}: {} cells, the header has {}", i + 1, cells.len(), header.len()),
                });
            }
            rows.push((i + 1, cells));
        }
        Ok(RunTable { path: path.into(), header, rows })
    }

    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.header
    }

    fn col(&self, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| Error::Parse {
            path: self.path.clone(),
            message: format!("no column `{name}`; the columns are {}", self.header.join(", ")),
        })
    }

    fn cell(&self, line: usize, cells: &[String], col: usize) -> Result<Option<f64>> {
        let c = &cells[col];
        if c.is_empty() {
            return Ok(None);
        }
        c.parse::<f64>().map(Some).map_err(|_| Error::Parse {
            path: self.path.clone(),
            message: format!("line {line}, column {} ({}): `{c}` is not a number", col + 1, self.header[col]),
        })
    }

    /// Observations of `target` with N from `n_col`, D from `tokens` and h from the columns
    /// `h_cols` (the mixture weights, or a law's extra input such as MoE sparsity). Returns
    /// them with the number of rows skipped for an empty target cell.
    pub fn observations(
        &self,
        target: &str,
        n_col: &str,
        tokens: TokensFrom<'_>,
        h_cols: &[String],
    ) -> Result<(Vec<Observation>, usize)> {
        let (t, n) = (self.col(target)?, self.col(n_col)?);
        let d = match tokens {
            TokensFrom::Column(c) | TokensFrom::Flops(c) => self.col(c)?,
        };
        let w: Vec<usize> = h_cols.iter().map(|c| self.col(c)).collect::<Result<_>>()?;
        let mut out = Vec::new();
        let mut skipped = 0;
        for (line, cells) in &self.rows {
            let Some(loss) = self.cell(*line, cells, t)? else {
                skipped += 1;
                continue;
            };
            let num = |c: usize| -> Result<f64> {
                self.cell(*line, cells, c)?.ok_or_else(|| Error::Parse {
                    path: self.path.clone(),
                    message: format!("line {line}: column {} is empty", self.header[c]),
                })
            };
            let h = w.iter().map(|c| num(*c)).collect::<Result<Vec<_>>>()?;
            let n = num(n)?;
            let d = match tokens {
                TokensFrom::Column(_) => num(d)?,
                TokensFrom::Flops(_) => num(d)? / (6.0 * n),
            };
            out.push(Observation { n, d, h, loss });
        }
        Ok((out, skipped))
    }

    /// Names of the weight columns for `prefix` (the mixture's domains); none for "".
    pub fn weight_columns(&self, prefix: &str) -> Vec<String> {
        if prefix.is_empty() {
            return Vec::new();
        }
        self.header.iter().filter(|h| h.starts_with(prefix)).cloned().collect()
    }
}

/// One target's fit as `sigmix fit --out` and `sigmix sweep --fit-out` write it (the files'
/// other fields are ignored).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct NamedFit {
    /// The loss column fitted.
    pub target: String,
    /// The fit.
    pub fit: crate::laws::FitResult,
}

/// Reads a file of fits (a JSON list of `NamedFit`); a parse error names line and column.
pub fn read_fits(path: &Path) -> Result<Vec<NamedFit>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Parse {
        path: path.into(),
        message: format!(
            "line {}, column {}: {e}; expected the JSON list `sigmix fit --out` or `sigmix sweep --fit-out` writes",
            e.line(),
            e.column()
        ),
    })
}
