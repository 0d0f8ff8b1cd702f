//! CPU twin of `shaders/cross_entropy.wgsl`: per-row loss and logit gradient in one pass.

use rayon::prelude::*;

use crate::cpu::kernel;
use crate::error::Result;
use crate::tensor::Tensor;

/// Loss of one row and, when `grad` is given, `grad = scale·(softmax − onehot)`; a target out
/// of range (the ignore index) gives loss 0 and a zero gradient.
fn row(logits: &[f32], target: u32, scale: f32, grad: Option<&mut [f32]>) -> f32 {
    let t = target as usize;
    if t >= logits.len() {
        if let Some(g) = grad {
            g.fill(0.0);
        }
        return 0.0;
    }
    let m = logits.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    let s: f32 = logits.iter().map(|v| (v - m).exp()).sum();
    if let Some(g) = grad {
        let inv = 1.0 / s;
        for (g, v) in g.iter_mut().zip(logits) {
            *g = scale * (v - m).exp() * inv;
        }
        g[t] -= scale;
    }
    s.ln() + m - logits[t]
}

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
                *l = row(&x[r * vocab..(r + 1) * vocab], t[r], scale, Some(g));
            });
        }),
        None => kernel("cross_entropy", [logits, targets], [losses], |[x, t], [l]| {
            let t: &[u32] = bytemuck::cast_slice(t);
            l.par_iter_mut().enumerate().for_each(|(r, l)| *l = row(&x[r * vocab..(r + 1) * vocab], t[r], scale, None));
        }),
    }
}
