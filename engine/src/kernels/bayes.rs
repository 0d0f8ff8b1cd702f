//! Launchers for `shaders/bayes.wgsl`: Bayes-by-Backprop weights (BYOV). A layer keeps a
//! mean μ and a raw scale ρ per weight, draws w = μ + softplus(ρ)·ε each step, runs as if w
//! were its weights, then turns the gradient of w (plus the KL term's) into those of μ and ρ.

use crate::cpu;
use crate::error::Result;
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
pub use crate::ops::bayes::{BayesOpts, KL_PARTIALS};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const SAMPLE: KernelSpec = KernelSpec { shader: "bayes", entry: "bayes_sample", storage: &[(1, R), (2, R), (3, W)] };
const BACKWARD: KernelSpec =
    KernelSpec { shader: "bayes", entry: "bayes_backward", storage: &[(1, R), (2, R), (4, R), (5, W), (6, W)] };
const KL_PARTIAL: KernelSpec =
    KernelSpec { shader: "bayes", entry: "bayes_kl_partial", storage: &[(1, R), (2, R), (7, W)] };
const KL_FINISH: KernelSpec = KernelSpec { shader: "bayes", entry: "bayes_kl_finish", storage: &[(8, R), (9, W)] };

/// Mirrors `Params` in `shaders/bayes.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    groups: u32,
    seed: u32,
    _pad0: u32,
    prior_std: f32,
    kl_weight: f32,
    _pad: [u32; 2],
}

fn params(op: &'static str, mu: &Tensor, rho: &Tensor, o: &BayesOpts) -> Result<Params> {
    expect_shape(op, "rho", rho, mu.shape())?;
    let valid = o.prior_std.is_finite() && o.prior_std > 0.0 && o.kl_weight.is_finite() && o.kl_weight >= 0.0;
    if !valid {
        return Err(crate::Error::Config(format!(
            "{op}: the prior's std must be a positive number and the KL weight a number ≥ 0; got {} and {}",
            o.prior_std, o.kl_weight
        )));
    }
    Ok(Params {
        n: u32_of(op, "weights", mu.len())?,
        seed: o.seed,
        prior_std: o.prior_std,
        kl_weight: o.kl_weight,
        ..Default::default()
    })
}

/// Draws `w = mu + softplus(rho)·ε(seed)`, every tensor of one shape.
pub fn bayes_sample(rec: &mut Recorder, mu: &Tensor, rho: &Tensor, w: &Tensor, o: &BayesOpts) -> Result<()> {
    const OP: &str = "bayes_sample";
    let p = params(OP, mu, rho, o)?;
    expect_shape(OP, "w", w, mu.shape())?;
    match rec.exec(OP, &[mu, rho, w])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), mu.len(), 256);
            g.dispatch(&SAMPLE, &[], &p, &[mu.binding()?, rho.binding()?, w.binding()?], groups)
        }
        Exec::Cpu => cpu::bayes::sample(mu, rho, w, o),
    }
}

/// Adds the gradients of μ and ρ, through the draw of `bayes_sample` with the same seed, of
/// `dw·w + kl_weight·KL(q ‖ p)`: `dmu += dw + k·μ/σ_p²`, `drho += (dw·ε + k·(σ/σ_p² − 1/σ))·sigmoid(ρ)`.
pub fn bayes_backward(
    rec: &mut Recorder,
    mu: &Tensor,
    rho: &Tensor,
    dw: &Tensor,
    dmu: &Tensor,
    drho: &Tensor,
    o: &BayesOpts,
) -> Result<()> {
    const OP: &str = "bayes_backward";
    let p = params(OP, mu, rho, o)?;
    for (what, t) in [("dw", dw), ("dmu", dmu), ("drho", drho)] {
        expect_shape(OP, what, t, mu.shape())?;
    }
    match rec.exec(OP, &[mu, rho, dw, dmu, drho])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), mu.len(), 256);
            let b = [mu.binding()?, rho.binding()?, dw.binding()?, dmu.binding()?, drho.binding()?];
            g.dispatch(&BACKWARD, &[], &p, &b, groups)
        }
        Exec::Cpu => cpu::bayes::backward(mu, rho, dw, dmu, drho, o),
    }
}

/// `kl[0] = KL(q ‖ p)` summed over every weight, in two deterministic passes through
/// `partials` (KL_PARTIALS floats); `o.seed` and `o.kl_weight` are not used.
pub fn bayes_kl(
    rec: &mut Recorder,
    mu: &Tensor,
    rho: &Tensor,
    partials: &Tensor,
    kl: &Tensor,
    o: &BayesOpts,
) -> Result<()> {
    const OP: &str = "bayes_kl";
    let mut p = params(OP, mu, rho, o)?;
    expect_shape(OP, "partials", partials, &[KL_PARTIALS])?;
    expect_shape(OP, "kl", kl, &[1])?;
    let groups = mu.len().div_ceil(1024).clamp(1, KL_PARTIALS);
    p.groups = groups as u32;
    match rec.exec(OP, &[mu, rho, partials, kl])? {
        Exec::Gpu(g) => {
            g.dispatch(&KL_PARTIAL, &[], &p, &[mu.binding()?, rho.binding()?, partials.binding()?], [p.groups, 1, 1])?;
            g.dispatch(&KL_FINISH, &[], &p, &[partials.binding()?, kl.binding()?], [1, 1, 1])
        }
        Exec::Cpu => cpu::bayes::kl(mu, rho, kl, o),
    }
}
