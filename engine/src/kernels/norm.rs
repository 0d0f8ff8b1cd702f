//! Launchers for `shaders/norm.wgsl`: LayerNorm and RMSNorm, forward and backward.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
pub use crate::ops::norm::{NormKind, RowLayout};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const LN_FORWARD: KernelSpec =
    KernelSpec { shader: "norm", entry: "layernorm_forward", storage: &[(1, R), (2, R), (3, R), (4, W), (5, W)] };
const RMS_FORWARD: KernelSpec =
    KernelSpec { shader: "norm", entry: "rmsnorm_forward", storage: &[(1, R), (2, R), (4, W), (5, W)] };
const BACKWARD_INPUT: KernelSpec =
    KernelSpec { shader: "norm", entry: "norm_backward_input", storage: &[(1, R), (2, R), (6, R), (7, R), (8, W)] };
const LN_BACKWARD_PARAMS: KernelSpec = KernelSpec {
    shader: "norm",
    entry: "layernorm_backward_params",
    storage: &[(1, R), (6, R), (7, R), (9, W), (10, W)],
};
const RMS_BACKWARD_PARAMS: KernelSpec =
    KernelSpec { shader: "norm", entry: "rmsnorm_backward_params", storage: &[(1, R), (6, R), (7, R), (9, W)] };

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    rms: u32,
    accumulate: u32,
    eps: f32,
    group: u32,
    outer: u32,
    offset: u32,
}

fn contiguous_rows(op: &'static str, x: &Tensor) -> Result<RowLayout> {
    let Some(&cols) = x.shape().last() else {
        return Err(Error::Config(format!("{op}: x must have at least one dimension")));
    };
    Ok(RowLayout::contiguous(x.len() / cols.max(1), cols))
}

#[allow(clippy::too_many_arguments)]
fn setup(
    op: &'static str,
    rl: &RowLayout,
    rowed: &[(&str, &Tensor)],
    gamma: &Tensor,
    stats: &Tensor,
    kind: NormKind,
    eps: f32,
    accumulate: bool,
) -> Result<Params> {
    if rl.group == 0 || rl.cols == 0 {
        return Err(Error::Config(format!("{op}: row layout {rl:?} has an empty group or row")));
    }
    for (what, t) in rowed {
        if t.len() < rl.span() {
            return Err(Error::shape(
                op,
                format!("{what} (row layout spans {} elements)", rl.span()),
                &[rl.span()],
                t.shape(),
            ));
        }
    }
    expect_shape(op, "gamma", gamma, &[rl.cols])?;
    expect_shape(op, "stats", stats, &[rl.rows, 2])?;
    Ok(Params {
        rows: u32_of(op, "rows", rl.rows)?,
        cols: u32_of(op, "cols", rl.cols)?,
        rms: (kind == NormKind::RmsNorm) as u32,
        accumulate: accumulate as u32,
        eps,
        group: u32_of(op, "group", rl.group)?,
        outer: u32_of(op, "outer", rl.outer)?,
        offset: u32_of(op, "offset", rl.offset)?,
    })
}

/// Normalises each row of `x` into `y`; `stats` (rows, 2) receives (mean, rstd) per row.
/// `beta` is used by LayerNorm only (pass any tensor of the right shape for RMSNorm).
pub fn norm_forward(
    rec: &mut Recorder,
    kind: NormKind,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    y: &Tensor,
    stats: &Tensor,
    eps: f32,
) -> Result<()> {
    const OP: &str = "norm_forward";
    expect_shape(OP, "y", y, x.shape())?;
    norm_forward_rows(rec, kind, &contiguous_rows(OP, x)?, x, gamma, beta, y, stats, eps)
}

/// `norm_forward` over the rows of `rl` (x and y share that layout; elements of y outside
/// the rows are left as they are).
#[allow(clippy::too_many_arguments)]
pub fn norm_forward_rows(
    rec: &mut Recorder,
    kind: NormKind,
    rl: &RowLayout,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    y: &Tensor,
    stats: &Tensor,
    eps: f32,
) -> Result<()> {
    const OP: &str = "norm_forward";
    let p = setup(OP, rl, &[("x", x), ("y", y)], gamma, stats, kind, eps, false)?;
    if kind == NormKind::LayerNorm {
        expect_shape(OP, "beta", beta, gamma.shape())?;
    }
    match rec.exec(OP, &[x, gamma, beta, y, stats])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), p.rows as usize, 1);
            match kind {
                NormKind::LayerNorm => {
                    let b = [x.binding()?, gamma.binding()?, beta.binding()?, y.binding()?, stats.binding()?];
                    g.dispatch(&LN_FORWARD, &[], &p, &b, groups)
                }
                NormKind::RmsNorm => {
                    let b = [x.binding()?, gamma.binding()?, y.binding()?, stats.binding()?];
                    g.dispatch(&RMS_FORWARD, &[], &p, &b, groups)
                }
            }
        }
        Exec::Cpu => cpu::norm::forward(kind, rl, x, gamma, beta, y, stats, eps),
    }
}

/// Gradient of a norm: `dx` (+)= ∂L/∂x, and `dgamma` (and LayerNorm's `dbeta`) += their
/// gradients. With `accumulate`, `dx` is added into (the residual stream's gradient).
/// `dbeta` is ignored by RMSNorm.
pub fn norm_backward(
    rec: &mut Recorder,
    kind: NormKind,
    x: &Tensor,
    gamma: &Tensor,
    stats: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    dgamma: &Tensor,
    dbeta: &Tensor,
    accumulate: bool,
) -> Result<()> {
    const OP: &str = "norm_backward";
    expect_shape(OP, "dy", dy, x.shape())?;
    expect_shape(OP, "dx", dx, x.shape())?;
    let rl = contiguous_rows(OP, x)?;
    norm_backward_rows(rec, kind, &rl, x, gamma, stats, dy, dx, dgamma, dbeta, accumulate)
}

/// `norm_backward` over the rows of `rl` (x, dy and dx share that layout).
#[allow(clippy::too_many_arguments)]
pub fn norm_backward_rows(
    rec: &mut Recorder,
    kind: NormKind,
    rl: &RowLayout,
    x: &Tensor,
    gamma: &Tensor,
    stats: &Tensor,
    dy: &Tensor,
    dx: &Tensor,
    dgamma: &Tensor,
    dbeta: &Tensor,
    accumulate: bool,
) -> Result<()> {
    const OP: &str = "norm_backward";
    let p = setup(OP, rl, &[("x", x), ("dy", dy), ("dx", dx)], gamma, stats, kind, 0.0, accumulate)?;
    expect_shape(OP, "dgamma", dgamma, gamma.shape())?;
    if kind == NormKind::LayerNorm {
        expect_shape(OP, "dbeta", dbeta, gamma.shape())?;
    }
    match rec.exec(OP, &[x, gamma, stats, dy, dx, dgamma, dbeta])? {
        Exec::Gpu(g) => {
            let b = [x.binding()?, gamma.binding()?, stats.binding()?, dy.binding()?, dx.binding()?];
            let groups = groups_for(g.gpu(), p.rows as usize, 1);
            g.dispatch(&BACKWARD_INPUT, &[], &p, &b, groups)?;
            let col_groups = groups_for(g.gpu(), p.cols as usize, 64);
            match kind {
                NormKind::LayerNorm => {
                    let b = [x.binding()?, stats.binding()?, dy.binding()?, dgamma.binding()?, dbeta.binding()?];
                    g.dispatch(&LN_BACKWARD_PARAMS, &[], &p, &b, col_groups)
                }
                NormKind::RmsNorm => {
                    let b = [x.binding()?, stats.binding()?, dy.binding()?, dgamma.binding()?];
                    g.dispatch(&RMS_BACKWARD_PARAMS, &[], &p, &b, col_groups)
                }
            }
        }
        Exec::Cpu => {
            cpu::norm::backward_input(kind, rl, x, gamma, stats, dy, dx, accumulate)?;
            cpu::norm::backward_params(kind, rl, x, stats, dy, dgamma, dbeta)
        }
    }
}
