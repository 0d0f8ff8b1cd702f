//! Launchers for `shaders/elementwise.wgsl`: residual add, bias add, fused bias+GELU and
//! their gradients.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const ADD: KernelSpec = KernelSpec { shader: "elementwise", entry: "add", storage: &[(1, R), (2, R), (4, W)] };
const BIAS_ADD: KernelSpec =
    KernelSpec { shader: "elementwise", entry: "bias_add", storage: &[(1, R), (3, R), (4, W)] };
const BIAS_GELU: KernelSpec =
    KernelSpec { shader: "elementwise", entry: "bias_gelu", storage: &[(1, R), (3, R), (4, W), (5, W)] };
const GELU_BACKWARD: KernelSpec =
    KernelSpec { shader: "elementwise", entry: "gelu_backward", storage: &[(6, R), (7, R), (8, W)] };
const BIAS_GRAD: KernelSpec = KernelSpec { shader: "elementwise", entry: "bias_grad", storage: &[(7, R), (9, W)] };

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    cols: u32,
    rows: u32,
    _pad: u32,
}

/// (rows, cols) of a tensor seen as a matrix over its last dimension.
fn rows_cols(op: &'static str, t: &Tensor) -> Result<(usize, usize)> {
    let Some(&cols) = t.shape().last() else {
        return Err(Error::Config(format!("{op}: a scalar has no columns")));
    };
    Ok((t.len() / cols.max(1), cols))
}

fn params(op: &'static str, n: usize, rows: usize, cols: usize) -> Result<Params> {
    Ok(Params {
        n: u32_of(op, "elements", n)?,
        cols: u32_of(op, "cols", cols)?,
        rows: u32_of(op, "rows", rows)?,
        _pad: 0,
    })
}

/// `out = x + y`, all of one shape.
pub fn add(rec: &mut Recorder, x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    const OP: &str = "add";
    expect_shape(OP, "y", y, x.shape())?;
    expect_shape(OP, "out", out, x.shape())?;
    let p = params(OP, x.len(), 1, 1)?;
    match rec.exec(OP, &[x, y, out])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), x.len(), 256);
            g.dispatch(&ADD, &[], &p, &[x.binding()?, y.binding()?, out.binding()?], groups)
        }
        Exec::Cpu => cpu::elementwise::add(x, y, out),
    }
}

/// `out[r, c] = x[r, c] + bias[c]` with `bias` of the last dimension's length.
pub fn bias_add(rec: &mut Recorder, x: &Tensor, bias: &Tensor, out: &Tensor) -> Result<()> {
    const OP: &str = "bias_add";
    let (rows, cols) = rows_cols(OP, x)?;
    expect_shape(OP, "bias", bias, &[cols])?;
    expect_shape(OP, "out", out, x.shape())?;
    let p = params(OP, x.len(), rows, cols)?;
    match rec.exec(OP, &[x, bias, out])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), x.len(), 256);
            g.dispatch(&BIAS_ADD, &[], &p, &[x.binding()?, bias.binding()?, out.binding()?], groups)
        }
        Exec::Cpu => cpu::elementwise::bias_add(x, bias, out),
    }
}

/// Fused `pre = x + bias`, `out = gelu(pre)`; `pre` is kept for the backward pass.
pub fn bias_gelu(rec: &mut Recorder, x: &Tensor, bias: &Tensor, out: &Tensor, pre: &Tensor) -> Result<()> {
    const OP: &str = "bias_gelu";
    let (rows, cols) = rows_cols(OP, x)?;
    expect_shape(OP, "bias", bias, &[cols])?;
    expect_shape(OP, "out", out, x.shape())?;
    expect_shape(OP, "pre", pre, x.shape())?;
    let p = params(OP, x.len(), rows, cols)?;
    match rec.exec(OP, &[x, bias, out, pre])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), x.len(), 256);
            let b = [x.binding()?, bias.binding()?, out.binding()?, pre.binding()?];
            g.dispatch(&BIAS_GELU, &[], &p, &b, groups)
        }
        Exec::Cpu => cpu::elementwise::bias_gelu(x, bias, out, pre),
    }
}

/// `dpre = dout · gelu'(pre)`.
pub fn gelu_backward(rec: &mut Recorder, pre: &Tensor, dout: &Tensor, dpre: &Tensor) -> Result<()> {
    const OP: &str = "gelu_backward";
    expect_shape(OP, "dout", dout, pre.shape())?;
    expect_shape(OP, "dpre", dpre, pre.shape())?;
    let p = params(OP, pre.len(), 1, 1)?;
    match rec.exec(OP, &[pre, dout, dpre])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), pre.len(), 256);
            g.dispatch(&GELU_BACKWARD, &[], &p, &[pre.binding()?, dout.binding()?, dpre.binding()?], groups)
        }
        Exec::Cpu => cpu::elementwise::gelu_backward(pre, dout, dpre),
    }
}

/// `dbias[c] += Σ_r dy[r, c]` (accumulates: gradients are cleared once per step).
pub fn bias_grad(rec: &mut Recorder, dy: &Tensor, dbias: &Tensor) -> Result<()> {
    const OP: &str = "bias_grad";
    let (rows, cols) = rows_cols(OP, dy)?;
    expect_shape(OP, "dbias", dbias, &[cols])?;
    let p = params(OP, dy.len(), rows, cols)?;
    match rec.exec(OP, &[dy, dbias])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), cols, 256);
            g.dispatch(&BIAS_GRAD, &[], &p, &[dy.binding()?, dbias.binding()?], groups)
        }
        Exec::Cpu => cpu::elementwise::bias_grad(dy, dbias, cols),
    }
}
