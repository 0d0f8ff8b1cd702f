//! Runs to fit: (N, D, h, loss) observations, read from CSV tables of training runs.

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

/// A CSV of runs with a header row; cells are parsed on demand by column name.
#[derive(Clone, Debug)]
pub struct RunTable {
    path: std::path::PathBuf,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl RunTable {
    /// Reads a CSV file (comma-separated, header first, no quoting).
    pub fn read(path: &Path) -> Result<RunTable> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
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

    /// Observations of `target` with N from `n_col`, D from `d_col` and h from every column
    /// starting with `weight_prefix` (none when the prefix is empty). Returns them with the
    /// number of rows skipped for an empty target cell.
    pub fn observations(
        &self,
        target: &str,
        n_col: &str,
        d_col: &str,
        weight_prefix: &str,
    ) -> Result<(Vec<Observation>, usize)> {
        let (t, n, d) = (self.col(target)?, self.col(n_col)?, self.col(d_col)?);
        let w: Vec<usize> = if weight_prefix.is_empty() {
            vec![]
        } else {
            (0..self.header.len()).filter(|i| self.header[*i].starts_with(weight_prefix)).collect()
        };
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
            out.push(Observation { n: num(n)?, d: num(d)?, h, loss });
        }
        Ok((out, skipped))
    }

    /// Names of the weight columns for `prefix` (the mixture's domains).
    pub fn weight_columns(&self, prefix: &str) -> Vec<String> {
        self.header.iter().filter(|h| h.starts_with(prefix)).cloned().collect()
    }
}
