//! Launcher for `shaders/entropy.wgsl`: the test-time adaptation objectives on the entropy
//! of each row's softmax (Tent, SAR's entropy filter, REALM's robust entropy), loss and logit
//! gradient in one pass.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
pub use crate::ops::entropy::{REALM_ALPHA, TtaObjective, sar_margin};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const ENTROPY: KernelSpec = KernelSpec { shader: "entropy", entry: "entropy_loss", storage: &[(1, R), (2, W), (3, W)] };

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    classes: u32,
    mode: u32,
    _pad0: u32,
    grad_scale: f32,
    alpha: f32,
    scale: f32,
    threshold: f32,
}

/// Per row of `logits` (rows × classes): `terms[r] = (ρ(H_r), H_r)` and
/// `dlogits = grad_scale · ρ′(H) · ∂H/∂logits` (usually grad_scale = 1/rows: the gradient of
/// the mean objective).
pub fn entropy_loss(
    rec: &mut Recorder,
    logits: &Tensor,
    terms: &Tensor,
    dlogits: &Tensor,
    objective: TtaObjective,
    grad_scale: f32,
) -> Result<()> {
    const OP: &str = "entropy_loss";
    objective.validate()?;
    let classes = *logits.shape().last().unwrap_or(&0);
    if classes == 0 {
        return Err(Error::Config(format!("{OP}: logits {:?} have no classes", logits.shape())));
    }
    let rows = logits.len() / classes;
    expect_shape(OP, "terms", terms, &[rows, 2])?;
    expect_shape(OP, "dlogits", dlogits, logits.shape())?;
    let (alpha, scale, threshold) = match objective {
        TtaObjective::Tent => (0.0, 1.0, 0.0),
        TtaObjective::Filter { threshold } => (0.0, 1.0, threshold),
        TtaObjective::Realm { alpha, scale } => (if alpha.is_finite() { alpha } else { 0.0 }, scale, 0.0),
    };
    let p = Params {
        rows: u32_of(OP, "rows", rows)?,
        classes: u32_of(OP, "classes", classes)?,
        mode: objective.mode(),
        _pad0: 0,
        grad_scale,
        alpha,
        scale,
        threshold,
    };
    match rec.exec(OP, &[logits, terms, dlogits])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), rows, 1);
            g.dispatch(&ENTROPY, &[], &p, &[logits.binding()?, terms.binding()?, dlogits.binding()?], groups)
        }
        Exec::Cpu => cpu::entropy::run(logits, terms, dlogits, classes, objective, grad_scale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_get_their_own_modes_and_bad_constants_are_named() {
        let realm = |alpha| TtaObjective::Realm { alpha, scale: 0.5 };
        assert_eq!(realm(2.0).mode(), 2);
        assert_eq!(realm(0.0).mode(), 3);
        assert_eq!(realm(f32::NEG_INFINITY).mode(), 4);
        assert_eq!(realm(-2.0).mode(), 5);
        assert!(realm(f32::NAN).validate().unwrap_err().to_string().contains("α"));
        let err = TtaObjective::Realm { alpha: 0.0, scale: -1.0 }.validate().unwrap_err().to_string();
        assert!(err.contains("-1"), "{err}");
        assert!(TtaObjective::Filter { threshold: 0.0 }.validate().is_err());
        assert!((sar_margin(1000) - 0.4 * 1000f32.ln()).abs() < 1e-6);
    }
}
