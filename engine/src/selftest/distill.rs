//! The distillation loss against the reference: far from the teacher, and nearly matching it
//! (where the loss is small and a careless sum would lose it).

use super::{Check, check, poisoned};
use crate::error::Result;
use crate::kernels::cross_entropy::IGNORE;
use crate::kernels::distill::{DistillLoss, distill_loss};
use crate::recorder::Recorder;
use crate::reference::{self as refr, to_f64};
use crate::rng::Rng;
use crate::tensor::{Device, Tensor};

/// Loss and student gradient over `rows` × `vocab` at `loss`'s τ and λ, some rows ignored;
/// with `near` the student is the teacher plus noise of 0.01 (a student that has learnt it).
pub async fn check_distill(
    device: &Device,
    rng: &mut Rng,
    rows: usize,
    vocab: usize,
    loss: DistillLoss,
    near: bool,
) -> Result<Vec<Check>> {
    let targets: Vec<u32> = (0..rows).map(|r| if r % 7 == 3 { IGNORE } else { rng.below(vocab) as u32 }).collect();
    let td: Vec<f32> = rng.uniform_vec(rows * vocab, -6.0, 6.0);
    let sd: Vec<f32> = if near {
        td.iter().map(|t| t + 0.01 * rng.uniform_vec(1, -1.0, 1.0)[0]).collect()
    } else {
        rng.uniform_vec(rows * vocab, -4.0, 4.0)
    };
    let student = Tensor::from_f32(device, "student logits", &[rows, vocab], &sd)?;
    let teacher = Tensor::from_f32(device, "teacher logits", &[rows, vocab], &td)?;
    let tt = Tensor::from_u32(device, "targets", &[rows], &targets)?;
    let (losses, grad) = (poisoned(device, &[rows])?, poisoned(device, &[rows, vocab])?);
    let scale = 1.0 / rows as f32;
    let mut rec = Recorder::new(device);
    distill_loss(&mut rec, &student, &teacher, &tt, &losses, &grad, loss, scale)?;
    rec.submit()?;
    let (lr, gr) = refr::distill::distill_loss(
        &to_f64(&sd),
        &to_f64(&td),
        &targets,
        vocab,
        loss.temperature as f64,
        loss.lambda as f64,
        scale as f64,
    );
    let what = format!("τ={} λ={}{}", loss.temperature, loss.lambda, if near { ", near" } else { "" });
    let s = format!("{rows}×{vocab}");
    Ok(vec![
        check(format!("distill_loss {what} (loss)"), &s, &losses.read_f32().await?, &lr),
        check(format!("distill_loss {what} (dstudent)"), &s, &grad.read_f32().await?, &gr),
    ])
}
