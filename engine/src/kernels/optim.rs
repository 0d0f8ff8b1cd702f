//! Launchers for `shaders/optim.wgsl`: global gradient norm, AdamW, EMA.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
pub use crate::ops::optim::AdamWStep;
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const SUMSQ_PARTIAL: KernelSpec = KernelSpec { shader: "optim", entry: "sumsq_partial", storage: &[(1, R), (2, W)] };
const SUMSQ_FINISH: KernelSpec = KernelSpec { shader: "optim", entry: "sumsq_finish", storage: &[(3, R), (4, W)] };
const ADAMW: KernelSpec =
    KernelSpec { shader: "optim", entry: "adamw", storage: &[(5, W), (6, R), (7, W), (8, W), (9, R)] };
const EMA: KernelSpec = KernelSpec { shader: "optim", entry: "ema", storage: &[(1, R), (10, W)] };

/// Workgroups of the first norm pass; the partials tensor must hold this many floats.
pub const NORM_PARTIALS: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    n_decay: u32,
    groups: u32,
    _pad0: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    clip: f32,
    bc1: f32,
    bc2: f32,
    rho: f32,
    _pad: [u32; 3],
}

/// `norm[0] = ‖x‖₂` in two deterministic passes through `partials` (NORM_PARTIALS floats).
pub fn global_norm(rec: &mut Recorder, x: &Tensor, partials: &Tensor, norm: &Tensor) -> Result<()> {
    const OP: &str = "global_norm";
    expect_shape(OP, "partials", partials, &[NORM_PARTIALS])?;
    expect_shape(OP, "norm", norm, &[1])?;
    let groups = x.len().div_ceil(1024).clamp(1, NORM_PARTIALS);
    let p = Params { n: u32_of(OP, "elements", x.len())?, groups: groups as u32, ..Default::default() };
    match rec.exec(OP, &[x, partials, norm])? {
        Exec::Gpu(g) => {
            g.dispatch(&SUMSQ_PARTIAL, &[], &p, &[x.binding()?, partials.binding()?], [groups as u32, 1, 1])?;
            g.dispatch(&SUMSQ_FINISH, &[], &p, &[partials.binding()?, norm.binding()?], [1, 1, 1])
        }
        Exec::Cpu => cpu::optim::global_norm(x, partials, norm),
    }
}

/// AdamW over flat `param`, `grad`, `m`, `v`; `norm` holds ‖grad‖ from `global_norm`.
pub fn adamw(
    rec: &mut Recorder,
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    norm: &Tensor,
    s: &AdamWStep,
) -> Result<()> {
    const OP: &str = "adamw";
    for (what, t) in [("grad", grad), ("m", m), ("v", v)] {
        expect_shape(OP, what, t, param.shape())?;
    }
    expect_shape(OP, "norm", norm, &[1])?;
    if s.t == 0 {
        return Err(Error::Config(format!("{OP}: step numbers start at 1")));
    }
    let p = Params {
        n: u32_of(OP, "elements", param.len())?,
        n_decay: u32_of(OP, "n_decay", s.n_decay.min(param.len()))?,
        lr: s.lr,
        beta1: s.beta1,
        beta2: s.beta2,
        eps: s.eps,
        weight_decay: s.weight_decay,
        clip: s.clip,
        bc1: 1.0 - s.beta1.powi(s.t as i32),
        bc2: 1.0 - s.beta2.powi(s.t as i32),
        ..Default::default()
    };
    match rec.exec(OP, &[param, grad, m, v, norm])? {
        Exec::Gpu(g) => {
            let b = [param.binding()?, grad.binding()?, m.binding()?, v.binding()?, norm.binding()?];
            let groups = groups_for(g.gpu(), param.len(), 256);
            g.dispatch(&ADAMW, &[], &p, &b, groups)
        }
        Exec::Cpu => cpu::optim::adamw(param, grad, m, v, norm, s),
    }
}

/// `ema = rho·ema + (1 − rho)·x`.
pub fn ema(rec: &mut Recorder, x: &Tensor, ema: &Tensor, rho: f32) -> Result<()> {
    const OP: &str = "ema";
    expect_shape(OP, "ema", ema, x.shape())?;
    let p = Params { n: u32_of(OP, "elements", x.len())?, rho, ..Default::default() };
    match rec.exec(OP, &[x, ema])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), x.len(), 256);
            g.dispatch(&EMA, &[], &p, &[x.binding()?, ema.binding()?], groups)
        }
        Exec::Cpu => cpu::optim::ema(x, ema, rho),
    }
}
