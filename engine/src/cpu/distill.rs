//! CPU twin of `shaders/distill.wgsl`: per row, the distillation loss against the teacher's
//! softened distribution mixed with the hard-label loss, and the student's logit gradient.

use rayon::prelude::*;

use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::ops::distill::DistillLoss;
use crate::tensor::Tensor;

/// `losses[r]` and `dstudent[r]` of every row; a target ≥ vocab gives a zero row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    student: &Tensor,
    teacher: &Tensor,
    targets: &Tensor,
    losses: &Tensor,
    dstudent: &Tensor,
    vocab: usize,
    loss: DistillLoss,
    grad_scale: f32,
) -> Result<()> {
    kernel("distill_loss", [student, teacher, targets], [losses, dstudent], |[s, t, y], [l, d]| {
        let y: &[u32] = bytemuck::cast_slice(y);
        l.par_iter_mut().zip(d.par_chunks_mut(vocab)).enumerate().for_each(|(r, (l, g))| {
            let target = y[r] as usize;
            if target >= vocab {
                *l = 0.0;
                g.fill(0.0);
                return;
            }
            let row = r * vocab..(r + 1) * vocab;
            *l = rows::distill(&s[row.clone()], &t[row], target, loss.temperature, loss.lambda, grad_scale, g);
        });
    })
}
