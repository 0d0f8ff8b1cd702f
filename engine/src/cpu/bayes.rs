//! CPU twin of `shaders/bayes.wgsl`: Bayes-by-Backprop draws, their backward and the KL sum.

use rayon::prelude::*;

use crate::cpu::kernel;
use crate::error::Result;
use crate::ops::bayes::{BayesOpts, epsilon};
use crate::tensor::Tensor;

/// Elements per rayon task (fixed, so sums do not depend on the thread count).
const CHUNK: usize = 1 << 14;

/// σ = softplus(ρ), written as the shader writes it (ln_1p keeps small σ precise).
fn softplus(r: f32) -> f32 {
    if r <= 0.0 { r.exp().ln_1p() } else { r + (-r).exp().ln_1p() }
}

fn sigmoid(r: f32) -> f32 {
    1.0 / (1.0 + (-r).exp())
}

/// `w = μ + softplus(ρ)·ε(seed, i)`.
pub(crate) fn sample(mu: &Tensor, rho: &Tensor, w: &Tensor, o: &BayesOpts) -> Result<()> {
    kernel("bayes_sample", [mu, rho], [w], |[mu, rho], [w]| {
        w.par_chunks_mut(CHUNK).enumerate().for_each(|(c, w)| {
            for (j, v) in w.iter_mut().enumerate() {
                let i = c * CHUNK + j;
                *v = mu[i] + softplus(rho[i]) * epsilon(o.seed, i as u32);
            }
        });
    })
}

/// `dμ += dw + k·μ/σ_p²`, `dρ += (dw·ε + k·(σ/σ_p² − 1/σ))·sigmoid(ρ)`.
pub(crate) fn backward(
    mu: &Tensor,
    rho: &Tensor,
    dw: &Tensor,
    dmu: &Tensor,
    drho: &Tensor,
    o: &BayesOpts,
) -> Result<()> {
    let inv_var = 1.0 / (o.prior_std * o.prior_std);
    let k = o.kl_weight;
    kernel("bayes_backward", [mu, rho, dw], [dmu, drho], |[mu, rho, dw], [dmu, drho]| {
        dmu.par_chunks_mut(CHUNK).zip(drho.par_chunks_mut(CHUNK)).enumerate().for_each(|(c, (dm, dr))| {
            for j in 0..dm.len() {
                let i = c * CHUNK + j;
                let sigma = softplus(rho[i]);
                dm[j] += dw[i] + k * mu[i] * inv_var;
                dr[j] += (dw[i] * epsilon(o.seed, i as u32) + k * (sigma * inv_var - 1.0 / sigma)) * sigmoid(rho[i]);
            }
        });
    })
}

/// `kl[0] = Σ ln(σ_p/σ) + (σ² + μ²)/(2σ_p²) − ½`, per-chunk partial sums in f64 combined in
/// order. The launcher's partials tensor is not needed here.
pub(crate) fn kl(mu: &Tensor, rho: &Tensor, kl: &Tensor, o: &BayesOpts) -> Result<()> {
    let (sp, inv_var) = (o.prior_std, 1.0 / (o.prior_std * o.prior_std));
    kernel("bayes_kl", [mu, rho], [kl], |[mu, rho], [kl]| {
        let parts: Vec<f64> = mu
            .par_chunks(CHUNK)
            .zip(rho.par_chunks(CHUNK))
            .map(|(m, r)| {
                m.iter()
                    .zip(r)
                    .map(|(&m, &r)| {
                        let s = softplus(r);
                        f64::from((sp / s).ln() + 0.5 * (s * s + m * m) * inv_var - 0.5)
                    })
                    .sum()
            })
            .collect();
        kl[0] = parts.iter().sum::<f64>() as f32;
    })
}
