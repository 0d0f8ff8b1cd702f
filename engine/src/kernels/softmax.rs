//! Launchers for `shaders/softmax.wgsl`: scaled, optionally causal row softmax and backward.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
pub use crate::ops::softmax::SoftmaxOpts;
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const FORWARD: KernelSpec =
    KernelSpec { shader: "softmax", entry: "softmax_forward", storage: &[(1, Access::Read), (2, Access::ReadWrite)] };
const BACKWARD: KernelSpec = KernelSpec {
    shader: "softmax",
    entry: "softmax_backward",
    storage: &[(3, Access::Read), (4, Access::Read), (5, Access::ReadWrite)],
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    q_len: u32,
    causal: u32,
    scale: f32,
    _pad: [u32; 3],
}

fn params(op: &'static str, x: &Tensor, o: &SoftmaxOpts) -> Result<Params> {
    let cols = *x.shape().last().unwrap_or(&0);
    if cols == 0 {
        return Err(Error::Config(format!("{op}: rows must not be empty (shape {:?})", x.shape())));
    }
    if o.causal && (o.q_len == 0 || o.q_len > cols) {
        return Err(Error::Config(format!("{op}: causal q_len {} must be in 1..={cols}", o.q_len)));
    }
    Ok(Params {
        rows: u32_of(op, "rows", x.len() / cols)?,
        cols: u32_of(op, "cols", cols)?,
        q_len: o.q_len.max(1) as u32,
        causal: o.causal as u32,
        scale: o.scale,
        _pad: [0; 3],
    })
}

/// `y = softmax(scale·x)` over the last dimension (masked keys get exactly 0).
pub fn softmax_forward(rec: &mut Recorder, x: &Tensor, y: &Tensor, o: SoftmaxOpts) -> Result<()> {
    const OP: &str = "softmax_forward";
    expect_shape(OP, "y", y, x.shape())?;
    let p = params(OP, x, &o)?;
    match rec.exec(OP, &[x, y])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), p.rows as usize, 1);
            g.dispatch(&FORWARD, &[], &p, &[x.binding()?, y.binding()?], groups)
        }
        Exec::Cpu => cpu::softmax::forward(x, y, p.cols as usize, &o),
    }
}

/// `dx = scale · y ⊙ (dy − rowsum(y ⊙ dy))`, the gradient through `softmax_forward`.
pub fn softmax_backward(rec: &mut Recorder, y: &Tensor, dy: &Tensor, dx: &Tensor, o: SoftmaxOpts) -> Result<()> {
    const OP: &str = "softmax_backward";
    expect_shape(OP, "dy", dy, y.shape())?;
    expect_shape(OP, "dx", dx, y.shape())?;
    let p = params(OP, y, &o)?;
    match rec.exec(OP, &[y, dy, dx])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), p.rows as usize, 1);
            g.dispatch(&BACKWARD, &[], &p, &[y.binding()?, dy.binding()?, dx.binding()?], groups)
        }
        Exec::Cpu => cpu::softmax::backward(y, dy, dx, p.cols as usize, o.scale),
    }
}
