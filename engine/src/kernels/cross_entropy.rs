//! Launcher for `shaders/cross_entropy.wgsl`: loss and logit gradient in one pass.

use crate::cpu;
use crate::error::Result;
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_dtype, expect_shape, groups_for, u32_of};
use crate::recorder::{Exec, Recorder};
use crate::tensor::{DType, Tensor};

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const WITH_GRAD: KernelSpec =
    KernelSpec { shader: "cross_entropy", entry: "cross_entropy", storage: &[(1, R), (2, R), (3, W), (4, W)] };
const LOSS_ONLY: KernelSpec =
    KernelSpec { shader: "cross_entropy", entry: "cross_entropy_loss", storage: &[(1, R), (2, R), (3, W)] };

/// Target id that marks a row to skip (padding).
pub const IGNORE: u32 = u32::MAX;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    vocab: u32,
    _pad0: [u32; 2],
    grad_scale: f32,
    _pad: [u32; 3],
}

/// Per-row loss `losses[r] = lse(logits[r]) − logits[r, t]` and, when `dlogits` is given,
/// `dlogits = grad_scale · (softmax − onehot)`.
pub fn cross_entropy(
    rec: &mut Recorder,
    logits: &Tensor,
    targets: &Tensor,
    losses: &Tensor,
    dlogits: Option<&Tensor>,
    grad_scale: f32,
) -> Result<()> {
    const OP: &str = "cross_entropy";
    expect_dtype(OP, "targets", targets, DType::U32)?;
    let vocab = *logits.shape().last().unwrap_or(&0);
    let rows = logits.len() / vocab.max(1);
    expect_shape(OP, "targets", targets, &[rows])?;
    expect_shape(OP, "losses", losses, &[rows])?;
    if let Some(d) = dlogits {
        expect_shape(OP, "dlogits", d, logits.shape())?;
    }
    let p = Params {
        rows: u32_of(OP, "rows", rows)?,
        vocab: u32_of(OP, "vocab", vocab)?,
        _pad0: [0; 2],
        grad_scale,
        _pad: [0; 3],
    };
    let mut operands = vec![logits, targets, losses];
    operands.extend(dlogits);
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), rows, 1);
            let (l, t, s) = (logits.binding()?, targets.binding()?, losses.binding()?);
            match dlogits {
                Some(d) => g.dispatch(&WITH_GRAD, &[], &p, &[l, t, s, d.binding()?], groups),
                None => g.dispatch(&LOSS_ONLY, &[], &p, &[l, t, s], groups),
            }
        }
        Exec::Cpu => cpu::cross_entropy::run(logits, targets, losses, dlogits, vocab, grad_scale),
    }
}
