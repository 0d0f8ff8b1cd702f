//! CPU twin of `shaders/cross_entropy.wgsl`: per-row loss and logit gradient in one pass.

use rayon::prelude::*;

use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::tensor::Tensor;

/// `losses[r] = lse(logits[r]) − logits[r, t]`, with the gradient when `dlogits` is given.
pub(crate) fn run(
    logits: &Tensor,
    targets: &Tensor,
    losses: &Tensor,
    dlogits: Option<&Tensor>,
    vocab: usize,
    scale: f32,
) -> Result<()> {
    let vocab = vocab.max(1);
    match dlogits {
        Some(d) => kernel("cross_entropy", [logits, targets], [losses, d], |[x, t], [l, d]| {
            let t: &[u32] = bytemuck::cast_slice(t);
            l.par_iter_mut().zip(d.par_chunks_mut(vocab)).enumerate().for_each(|(r, (l, g))| {
                *l = rows::cross_entropy(&x[r * vocab..(r + 1) * vocab], t[r], scale, Some(g));
            });
        }),
        None => kernel("cross_entropy", [logits, targets], [losses], |[x, t], [l]| {
            let t: &[u32] = bytemuck::cast_slice(t);
            l.par_iter_mut()
                .enumerate()
                .for_each(|(r, l)| *l = rows::cross_entropy(&x[r * vocab..(r + 1) * vocab], t[r], scale, None));
        }),
    }
}
