//! Which normalisation and where its rows live, shared by the launchers, the CPU twin and the f64
//! reference.

/// Which elements form the rows: row r starts at `offset + (r / group)·outer + (r % group)·cols`.
/// `RowLayout::contiguous` is the plain (rows, cols) matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowLayout {
    /// Number of rows.
    pub rows: usize,
    /// Row length.
    pub cols: usize,
    /// Rows per outer step.
    pub group: usize,
    /// Elements per outer step.
    pub outer: usize,
    /// First element.
    pub offset: usize,
}

impl RowLayout {
    /// Rows one after another.
    pub fn contiguous(rows: usize, cols: usize) -> RowLayout {
        RowLayout { rows, cols, group: 1, outer: cols, offset: 0 }
    }

    /// First element of row `r`.
    pub(crate) fn row_base(&self, r: usize) -> usize {
        self.offset + (r / self.group) * self.outer + (r % self.group) * self.cols
    }

    /// True when no two rows share an element (so rows may be written in parallel).
    pub(crate) fn rows_disjoint(&self) -> bool {
        self.rows <= self.group || self.group.min(self.rows) * self.cols <= self.outer
    }

    /// Elements a tensor must hold for this layout.
    pub(crate) fn span(&self) -> usize {
        if self.rows == 0 {
            return 0;
        }
        let last = self.rows - 1;
        self.offset + (last / self.group) * self.outer + (last % self.group) * self.cols + self.cols
    }
}

/// Which normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// (x − μ)/σ · γ + β
    LayerNorm,
    /// x / rms(x) · γ
    RmsNorm,
}
