//! CPU twin of `shaders/entropy.wgsl`: each row's prediction entropy H, the objective ρ(H)
//! and the logit gradient grad_scale·ρ′(H)·∂H/∂z, in one pass over the row.

use rayon::prelude::*;

use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::ops::entropy::TtaObjective;
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
                let h2 = 0.5 * x * x;
                (c * h2.ln_1p(), x / (h2 + 1.0))
            } else if alpha == f32::NEG_INFINITY {
                let h2 = 0.5 * x * x;
                (-c * (-h2).exp_m1(), x * (-h2).exp())
            } else {
                // As entropy.wgsl: q^(α/2) − 1 as exp_m1 of (α/2)·ln q, exact as α nears 0.
                let b = (alpha - 2.0).abs();
                let ln_q = (x * x / b).ln_1p();
                let a = 0.5 * alpha;
                (c * b / alpha * (a * ln_q).exp_m1(), x * ((a - 1.0) * ln_q).exp())
            }
        }
    }
}

/// One row: writes the gradient into `g`, returns (ρ(H), H).
fn row(z: &[f32], o: TtaObjective, grad_scale: f32, g: &mut [f32]) -> (f32, f32) {
    let (h, m, s, t) = rows::entropy(z, g);
    let (rho, weight) = objective(o, h);
    // log p_j + H = (z_j − max) − T/s: no ln s to cancel.
    let (k, mean) = (grad_scale * weight / s, t / s);
    for (g, v) in g.iter_mut().zip(z) {
        *g = -k * *g * (v - m - mean);
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
