//! CPU twin of `shaders/entropy.wgsl`: each row's prediction entropy H, the objective ρ(H)
//! and the logit gradient grad_scale·ρ′(H)·∂H/∂z, in one pass over the row.

use rayon::prelude::*;

use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::kernels::entropy::TtaObjective;
use crate::tensor::Tensor;

/// (ρ(H), ρ′(H)) as the shader computes them (its mode table, in f32).
fn objective(o: TtaObjective, h: f32) -> (f32, f32) {
    match o {
        TtaObjective::Tent => (h, 1.0),
        TtaObjective::Filter { threshold } => {
            if h < threshold {
                (h, 1.0)
            } else {
                (0.0, 0.0)
            }
        }
        TtaObjective::Realm { alpha, scale: c } => {
            let x = h / c;
            if alpha == 2.0 {
                (0.5 * c * x * x, x)
            } else if alpha == 0.0 {
                let q = 0.5 * x * x + 1.0;
                (c * q.ln(), x / q)
            } else if alpha == f32::NEG_INFINITY {
                let e = (-0.5 * x * x).exp();
                (c * (1.0 - e), x * e)
            } else {
                let b = (alpha - 2.0).abs();
                let q = x * x / b + 1.0;
                let a = 0.5 * alpha;
                (c * b / alpha * (q.powf(a) - 1.0), x * q.powf(a - 1.0))
            }
        }
    }
}

/// One row: writes the gradient into `g`, returns (ρ(H), H).
fn row(z: &[f32], o: TtaObjective, grad_scale: f32, g: &mut [f32]) -> (f32, f32) {
    let (h, m, s) = rows::entropy(z, g);
    let (rho, weight) = objective(o, h);
    let (k, log_s) = (grad_scale * weight / s, s.ln());
    for (g, v) in g.iter_mut().zip(z) {
        *g = -k * *g * (v - m - log_s + h);
    }
    (rho, h)
}

/// `terms[r] = (ρ(H_r), H_r)`, `dlogits[r] = grad_scale·ρ′(H_r)·∂H_r/∂logits[r]`.
pub(crate) fn run(
    logits: &Tensor,
    terms: &Tensor,
    dlogits: &Tensor,
    classes: usize,
    objective: TtaObjective,
    grad_scale: f32,
) -> Result<()> {
    kernel("entropy_loss", [logits], [terms, dlogits], |[z], [t, d]| {
        t.par_chunks_mut(2).zip(d.par_chunks_mut(classes)).zip(z.par_chunks(classes)).for_each(|((t, g), z)| {
            let (rho, h) = row(z, objective, grad_scale, g);
            t[0] = rho;
            t[1] = h;
        });
    })
}
