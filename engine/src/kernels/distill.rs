//! Launcher for `shaders/distill.wgsl`: the student's distillation loss against a teacher's
//! temperature-softened distribution, mixed with the hard-label loss, and its logit gradient,
//! in one pass (Busbridge et al. 2025, arXiv 2502.08606).

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_dtype, expect_shape, groups_for, u32_of};
pub use crate::ops::distill::DistillLoss;
use crate::recorder::{Exec, Recorder};
use crate::tensor::{DType, Tensor};

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const DISTILL: KernelSpec =
    KernelSpec { shader: "distill", entry: "distill_loss", storage: &[(1, R), (2, R), (3, R), (4, W), (5, W)] };

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    vocab: u32,
    _pad0: [u32; 2],
    grad_scale: f32,
    temperature: f32,
    lambda: f32,
    _pad1: u32,
}

/// Per row r of `student` and `teacher` (rows × vocab) with label `targets[r]`:
/// `losses[r]` = (1 − λ)·CE + λ·τ²·KL(softmax(teacher/τ) ‖ softmax(student/τ)) and
/// `dstudent = grad_scale · ∂losses/∂student`. A target ≥ vocab (e.g. `cross_entropy::IGNORE`)
/// marks a padding row: loss 0, gradient 0. The teacher gets no gradient.
pub fn distill_loss(
    rec: &mut Recorder,
    student: &Tensor,
    teacher: &Tensor,
    targets: &Tensor,
    losses: &Tensor,
    dstudent: &Tensor,
    loss: DistillLoss,
    grad_scale: f32,
) -> Result<()> {
    const OP: &str = "distill_loss";
    loss.validate()?;
    expect_dtype(OP, "targets", targets, DType::U32)?;
    let &[rows, vocab] = student.shape() else {
        return Err(Error::Config(format!("{OP}: student logits must be rows × vocab, got {:?}", student.shape())));
    };
    if vocab == 0 {
        return Err(Error::Config(format!("{OP}: the vocabulary is empty")));
    }
    expect_shape(OP, "teacher", teacher, &[rows, vocab])?;
    expect_shape(OP, "targets", targets, &[rows])?;
    expect_shape(OP, "losses", losses, &[rows])?;
    expect_shape(OP, "dstudent", dstudent, &[rows, vocab])?;
    let p = Params {
        rows: u32_of(OP, "rows", rows)?,
        vocab: u32_of(OP, "vocab", vocab)?,
        _pad0: [0; 2],
        grad_scale,
        temperature: loss.temperature,
        lambda: loss.lambda,
        _pad1: 0,
    };
    match rec.exec(OP, &[student, teacher, targets, losses, dstudent])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), rows, 1);
            let b =
                [student.binding()?, teacher.binding()?, targets.binding()?, losses.binding()?, dstudent.binding()?];
            g.dispatch(&DISTILL, &[], &p, &b, groups)
        }
        Exec::Cpu => cpu::distill::run(student, teacher, targets, losses, dstudent, vocab, loss, grad_scale),
    }
}
