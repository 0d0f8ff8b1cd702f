//! CPU twin of `shaders/optim.wgsl`: global gradient norm, AdamW with clipping, EMA.

use rayon::prelude::*;

use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::ops::optim::AdamWStep;
use crate::tensor::Tensor;

/// Elements per rayon task.
const CHUNK: usize = 1 << 14;

/// `norm[0] = ‖x‖₂`; per-chunk partial sums (fixed chunking, so the result does not depend on
/// the thread count) are combined in order. `partials` is left untouched: the CPU needs no
/// scratch, but the launcher keeps one signature for both backends.
pub(crate) fn global_norm(x: &Tensor, partials: &Tensor, norm: &Tensor) -> Result<()> {
    kernel("global_norm", [x, partials], [norm], |[x, _], [norm]| {
        let parts: Vec<f64> = x.par_chunks(CHUNK).map(rows::sum_squares).collect();
        norm[0] = parts.iter().sum::<f64>().sqrt() as f32;
    })
}

/// AdamW with decoupled decay on the first `n_decay` elements and clipping by `norm[0]`.
pub(crate) fn adamw(param: &Tensor, grad: &Tensor, m: &Tensor, v: &Tensor, norm: &Tensor, s: &AdamWStep) -> Result<()> {
    let bc1 = 1.0 - s.beta1.powi(s.t as i32);
    let bc2 = 1.0 - s.beta2.powi(s.t as i32);
    kernel("adamw", [grad, norm], [param, m, v], |[grad, norm], [param, m, v]| {
        let gn = norm[0];
        let scale = if s.clip > 0.0 && gn > s.clip { s.clip / gn } else { 1.0 };
        param.par_chunks_mut(CHUNK).zip(m.par_chunks_mut(CHUNK)).zip(v.par_chunks_mut(CHUNK)).enumerate().for_each(
            |(c, ((p, m), v))| {
                let base = c * CHUNK;
                rows::adamw(base, p, m, v, &grad[base..base + p.len()], scale, s, bc1, bc2);
            },
        );
    })
}

/// `e ← ρ·e + (1 − ρ)·x`.
pub(crate) fn ema(x: &Tensor, ema: &Tensor, rho: f32) -> Result<()> {
    kernel("ema", [x], [ema], |[x], [e]| {
        e.par_chunks_mut(CHUNK).enumerate().for_each(|(c, e)| {
            for (i, v) in e.iter_mut().enumerate() {
                *v = rho * *v + (1.0 - rho) * x[c * CHUNK + i];
            }
        });
    })
}
