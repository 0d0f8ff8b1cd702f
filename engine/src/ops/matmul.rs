//! Where a matrix product's operands live (strides, batch, transposes), shared by the launcher
//! and the CPU twin.

/// Where one operand's elements are: a base offset and the steps per row, column and the
/// two batch levels (all in elements).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strides {
    /// First element of batch 0.
    pub offset: usize,
    /// Step between rows.
    pub row: usize,
    /// Step between columns.
    pub col: usize,
    /// Step per outer batch index.
    pub batch1: usize,
    /// Step per inner batch index.
    pub batch2: usize,
}

/// A fully described product: `C[z] = alpha · A[z] · B[z] (+ C[z])` over `batch.0 × batch.1`
/// batches, each A[z] m×k, B[z] k×n, C[z] m×n with unit column stride.
#[derive(Clone, Copy, Debug)]
pub struct MatmulLayout {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of B and C.
    pub n: usize,
    /// Shared dimension.
    pub k: usize,
    /// (outer, inner) batch counts; batch index z = z1·batch.1 + z2.
    pub batch: (usize, usize),
    /// Strides of A (m×k view).
    pub a: Strides,
    /// Strides of B (k×n view).
    pub b: Strides,
    /// Strides of C; `col` must be 1.
    pub c: Strides,
    /// Scale on the product.
    pub alpha: f32,
    /// Add into C instead of overwriting it.
    pub accumulate: bool,
}
