//! Launchers for `shaders/norm.wgsl`: LayerNorm and RMSNorm, forward and backward.

use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec, Recorder};
use crate::kernels::{common_gpu, expect_shape, groups_for, u32_of};
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
    _pad: [u32; 3],
}

/// Which normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    /// (x − μ)/σ · γ + β
    LayerNorm,
    /// x / rms(x) · γ
    RmsNorm,
}

fn setup(
    op: &'static str,
    x: &Tensor,
    gamma: &Tensor,
    stats: &Tensor,
    kind: NormKind,
    eps: f32,
    accumulate: bool,
) -> Result<Params> {
    let Some(&cols) = x.shape().last() else {
        return Err(Error::Config(format!("{op}: x must have at least one dimension")));
    };
    let rows = x.len() / cols.max(1);
    expect_shape(op, "gamma", gamma, &[cols])?;
    expect_shape(op, "stats", stats, &[rows, 2])?;
    Ok(Params {
        rows: u32_of(op, "rows", rows)?,
        cols: u32_of(op, "cols", cols)?,
        rms: (kind == NormKind::RmsNorm) as u32,
        accumulate: accumulate as u32,
        eps,
        _pad: [0; 3],
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
    let gpu = common_gpu(OP, &[x, gamma, beta, y, stats])?;
    let p = setup(OP, x, gamma, stats, kind, eps, false)?;
    expect_shape(OP, "y", y, x.shape())?;
    let groups = groups_for(&gpu, p.rows as usize, 1);
    match kind {
        NormKind::LayerNorm => {
            expect_shape(OP, "beta", beta, gamma.shape())?;
            rec.dispatch(
                &LN_FORWARD,
                &[],
                &p,
                &[x.binding(), gamma.binding(), beta.binding(), y.binding(), stats.binding()],
                groups,
            )
        }
        NormKind::RmsNorm => {
            rec.dispatch(&RMS_FORWARD, &[], &p, &[x.binding(), gamma.binding(), y.binding(), stats.binding()], groups)
        }
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
    let gpu = common_gpu(OP, &[x, gamma, stats, dy, dx, dgamma, dbeta])?;
    let p = setup(OP, x, gamma, stats, kind, 0.0, accumulate)?;
    expect_shape(OP, "dy", dy, x.shape())?;
    expect_shape(OP, "dx", dx, x.shape())?;
    expect_shape(OP, "dgamma", dgamma, gamma.shape())?;
    rec.dispatch(
        &BACKWARD_INPUT,
        &[],
        &p,
        &[x.binding(), gamma.binding(), stats.binding(), dy.binding(), dx.binding()],
        groups_for(&gpu, p.rows as usize, 1),
    )?;
    let col_groups = groups_for(&gpu, p.cols as usize, 64);
    match kind {
        NormKind::LayerNorm => {
            expect_shape(OP, "dbeta", dbeta, gamma.shape())?;
            let b = [x.binding(), stats.binding(), dy.binding(), dgamma.binding(), dbeta.binding()];
            rec.dispatch(&LN_BACKWARD_PARAMS, &[], &p, &b, col_groups)
        }
        NormKind::RmsNorm => rec.dispatch(
            &RMS_BACKWARD_PARAMS,
            &[],
            &p,
            &[x.binding(), stats.binding(), dy.binding(), dgamma.binding()],
            col_groups,
        ),
    }
}
