//! CPU twin of `shaders/byol.wgsl`: per row, the mean over the sample's other views of
//! ‖q̂ − t̂‖², and its gradient in the prediction, summed the same precise way.

use rayon::prelude::*;

use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::tensor::Tensor;

/// 1 / max(‖x‖, 1e-12), as the shader clamps.
fn inverse_norm(x: &[f32]) -> f32 {
    1.0 / rows::row_dot(x, x).sqrt().max(1e-12)
}

/// One row: its prediction `q`, the sample's target rows `t` (views × dim), its own view
/// `own`; writes the gradient into `g` and returns the row's loss.
fn row(q: &[f32], t: &[f32], own: usize, grad_scale: f32, g: &mut [f32]) -> f32 {
    let dim = q.len();
    let iq = inverse_norm(q);
    g.fill(0.0);
    let (mut total, mut partners) = (0.0f32, 0.0f32);
    for (_, tb) in t.chunks(dim).enumerate().filter(|(b, _)| *b != own) {
        let it = inverse_norm(tb);
        let ell = rows::squared_distance(q, iq, tb, it);
        rows::add_partner_gradient(q, iq, tb, it, 0.5 * ell, g);
        total += ell;
        partners += 1.0;
    }
    let k = -2.0 * grad_scale * iq / partners;
    for g in g.iter_mut() {
        *g *= k;
    }
    total / partners
}

/// `losses[r]` and `dq[r]` of every row, rows r = i·views + α.
pub(crate) fn run(
    predictions: &Tensor,
    targets: &Tensor,
    losses: &Tensor,
    dq: &Tensor,
    dim: usize,
    views: usize,
    grad_scale: f32,
) -> Result<()> {
    kernel("byol_loss", [predictions, targets], [losses, dq], |[q, t], [l, d]| {
        let sample = views * dim;
        l.par_chunks_mut(views)
            .zip(d.par_chunks_mut(sample))
            .zip(q.par_chunks(sample).zip(t.par_chunks(sample)))
            .for_each(|((l, d), (q, t))| {
                for (own, (l, g)) in l.iter_mut().zip(d.chunks_mut(dim)).enumerate() {
                    *l = row(&q[own * dim..(own + 1) * dim], t, own, grad_scale, g);
                }
            });
    })
}
