//! Launcher for `shaders/byol.wgsl`: BYOL's normalised regression loss between the online
//! network's predictions and the target network's projections of the other views of each
//! sample, with the prediction gradient, in one pass.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const BYOL: KernelSpec = KernelSpec { shader: "byol", entry: "byol_loss", storage: &[(1, R), (2, R), (3, W), (4, W)] };

/// Most views per sample the kernel pairs (its per-row partner arrays are this long).
pub const MAX_VIEWS: usize = 8;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    dim: u32,
    views: u32,
    _pad0: u32,
    grad_scale: f32,
    _pad: [f32; 3],
}

/// Rows r = i·views + α of `predictions` and `targets` (rows × dim): `losses[r]` = the mean over
/// the sample's other views β of ‖q̂_r − t̂_β‖² (= 2 − 2·cos), and `dq = grad_scale · ∂losses/∂q`
/// (grad_scale = 1/rows: the gradient of the mean loss). The targets get no gradient.
pub fn byol_loss(
    rec: &mut Recorder,
    predictions: &Tensor,
    targets: &Tensor,
    losses: &Tensor,
    dq: &Tensor,
    views: usize,
    grad_scale: f32,
) -> Result<()> {
    const OP: &str = "byol_loss";
    let &[rows, dim] = predictions.shape() else {
        return Err(Error::Config(format!("{OP}: predictions must be rows × dim, got {:?}", predictions.shape())));
    };
    if !(2..=MAX_VIEWS).contains(&views) {
        return Err(Error::Config(format!(
            "{OP}: {views} views per sample; BYOL pairs each view with the sample's others, so use 2 to {MAX_VIEWS}"
        )));
    }
    if dim == 0 || rows == 0 || !rows.is_multiple_of(views) {
        return Err(Error::Config(format!(
            "{OP}: {rows} rows of width {dim} do not split into samples of {views} views"
        )));
    }
    expect_shape(OP, "targets", targets, &[rows, dim])?;
    expect_shape(OP, "losses", losses, &[rows])?;
    expect_shape(OP, "dq", dq, &[rows, dim])?;
    let p = Params {
        rows: u32_of(OP, "rows", rows)?,
        dim: u32_of(OP, "dim", dim)?,
        views: views as u32,
        _pad0: 0,
        grad_scale,
        _pad: [0.0; 3],
    };
    match rec.exec(OP, &[predictions, targets, losses, dq])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), rows, 1);
            let b = [predictions.binding()?, targets.binding()?, losses.binding()?, dq.binding()?];
            g.dispatch(&BYOL, &[], &p, &b, groups)
        }
        Exec::Cpu => cpu::byol::run(predictions, targets, losses, dq, dim, views, grad_scale),
    }
}
