//! CPU twin of `shaders/norm.wgsl`: LayerNorm and RMSNorm over (possibly strided) rows,
//! forward and backward.

use rayon::prelude::*;

use crate::cpu::{SharedOut, kernel, rows};
use crate::error::Result;
use crate::ops::norm::{NormKind, RowLayout};
use crate::tensor::Tensor;

/// Runs `f(row)` for every row, in parallel when rows are disjoint (so writes to them are).
fn for_rows(rl: &RowLayout, f: impl Fn(usize) + Sync + Send) {
    if rl.rows_disjoint() {
        (0..rl.rows).into_par_iter().with_min_len((2048 / rl.cols.max(1)).max(1)).for_each(f);
    } else {
        (0..rl.rows).for_each(f);
    }
}

/// `y = (x − μ)·rstd·γ (+ β)` per row, `stats[r] = (μ, rstd)` (μ = 0 for RMSNorm).
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    kind: NormKind,
    rl: &RowLayout,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    y: &Tensor,
    stats: &Tensor,
    eps: f32,
) -> Result<()> {
    let rms = kind == NormKind::RmsNorm;
    kernel("norm_forward", [x, gamma, beta], [y, stats], |[x, gamma, beta], [y, stats]| {
        let (yo, so) = (SharedOut::new(y), SharedOut::new(stats));
        for_rows(rl, |r| {
            let base = rl.row_base(r);
            let xr = &x[base..base + rl.cols];
            // SAFETY: row r of y and stats row r belong to this task alone (rows are
            // disjoint, or the loop runs sequentially).
            let (mean, rstd) =
                unsafe { rows::norm_forward(xr, gamma, (!rms).then_some(beta), eps, yo.slice_mut(base, rl.cols)) };
            // SAFETY: as above.
            unsafe {
                so.set(2 * r, mean);
                so.set(2 * r + 1, rstd);
            }
        });
    })
}

/// `dx (+)= rstd·(g − mean(g) − x̂·mean(g·x̂))` with g = γ·dy (mean(g) = 0 for RMSNorm).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_input(
    kind: NormKind,
    rl: &RowLayout,
    x: &Tensor,
    gamma: &Tensor,
    stats: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    accumulate: bool,
) -> Result<()> {
    let rms = kind == NormKind::RmsNorm;
    kernel("norm_backward", [x, gamma, stats, dy], [dx], |[x, gamma, stats, dy], [dx]| {
        let out = SharedOut::new(dx);
        for_rows(rl, |r| {
            let base = rl.row_base(r);
            let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
            let (xr, gr) = (&x[base..base + rl.cols], &dy[base..base + rl.cols]);
            // SAFETY: row r of dx belongs to this task (disjoint rows or sequential).
            let dxr = unsafe { out.slice_mut(base, rl.cols) };
            rows::norm_backward(xr, gamma, gr, mean, rstd, rms, accumulate, dxr);
        });
    })
}

/// `dγ[c] += Σ_r dy·x̂` and (LayerNorm) `dβ[c] += Σ_r dy`, rows summed in order.
pub(crate) fn backward_params(
    kind: NormKind,
    rl: &RowLayout,
    x: &Tensor,
    stats: &Tensor,
    dy: &Tensor,
    dgamma: &Tensor,
    dbeta: &Tensor,
) -> Result<()> {
    let sum = |dg: &mut [f32], mut db: Option<&mut [f32]>, x: &[f32], stats: &[f32], dy: &[f32]| {
        for r in 0..rl.rows {
            let base = rl.row_base(r);
            let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
            for j in 0..rl.cols {
                let g = dy[base + j];
                dg[j] += g * (x[base + j] - mean) * rstd;
                if let Some(db) = db.as_deref_mut() {
                    db[j] += g;
                }
            }
        }
    };
    match kind {
        NormKind::LayerNorm => {
            kernel("norm_backward", [x, stats, dy], [dgamma, dbeta], |[x, s, dy], [dg, db]| sum(dg, Some(db), x, s, dy))
        }
        NormKind::RmsNorm => {
            kernel("norm_backward", [x, stats, dy], [dgamma], |[x, s, dy], [dg]| sum(dg, None, x, s, dy))
        }
    }
}
