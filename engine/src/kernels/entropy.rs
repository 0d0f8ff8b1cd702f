//! Launcher for `shaders/entropy.wgsl`: the test-time adaptation objectives on the entropy
//! of each row's softmax (Tent, SAR's entropy filter, REALM's robust entropy), loss and logit
//! gradient in one pass.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const ENTROPY: KernelSpec = KernelSpec { shader: "entropy", entry: "entropy_loss", storage: &[(1, R), (2, W), (3, W)] };

/// What a test-time update minimises, as a function ρ of each sample's prediction entropy H.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TtaObjective {
    /// Tent: ρ(H) = H, every sample weighted alike.
    Tent,
    /// SAR's entropy filter (without its sharpness-aware step): ρ(H) = H where H < threshold,
    /// else 0 — high-entropy samples are skipped outright.
    Filter {
        /// Entropy above which a sample is skipped (SAR: 0.4·ln C).
        threshold: f32,
    },
    /// REALM [I]: Barron's robust loss on the entropy, c·ρ(H; α, c), so a sample's weight
    /// ρ′(H) falls smoothly as its entropy grows past c instead of dropping to 0.
    Realm {
        /// Shape α (2: quadratic, 0: Cauchy, −∞: Welsch; below 2 tempers high-entropy samples).
        alpha: f32,
        /// Scale c in nats (tied to SAR's E0 = 0.4·ln C by default).
        scale: f32,
    },
}

impl TtaObjective {
    /// The labelled REALM default for `classes` classes [I]: α = `REALM_ALPHA`, c = 0.4·ln C.
    pub fn realm_default(classes: usize) -> TtaObjective {
        TtaObjective::Realm { alpha: REALM_ALPHA, scale: sar_margin(classes) }
    }

    /// SAR's filter at its published margin, E0 = 0.4·ln C.
    pub fn filter_default(classes: usize) -> TtaObjective {
        TtaObjective::Filter { threshold: sar_margin(classes) }
    }

    /// Short name for tables and file columns.
    pub fn name(&self) -> &'static str {
        match self {
            TtaObjective::Tent => "tent",
            TtaObjective::Filter { .. } => "filter",
            TtaObjective::Realm { .. } => "realm",
        }
    }

    /// Checks the constants are usable, naming the one that is not.
    pub fn validate(&self) -> Result<()> {
        match *self {
            TtaObjective::Tent => Ok(()),
            TtaObjective::Filter { threshold } if threshold > 0.0 && threshold.is_finite() => Ok(()),
            TtaObjective::Filter { threshold } => Err(Error::Config(format!(
                "entropy filter threshold must be a positive number of nats, got {threshold}"
            ))),
            TtaObjective::Realm { alpha, scale } => {
                if !(scale > 0.0 && scale.is_finite()) {
                    return Err(Error::Config(format!("REALM scale c must be a positive number of nats, got {scale}")));
                }
                if alpha.is_nan() || alpha == f32::INFINITY {
                    return Err(Error::Config(format!("REALM shape α must be a number or −∞, got {alpha}")));
                }
                Ok(())
            }
        }
    }

    /// The shader's mode code (see entropy.wgsl): α = 2, 0 and −∞ are their own limits.
    pub(crate) fn mode(&self) -> u32 {
        match *self {
            TtaObjective::Tent => 0,
            TtaObjective::Filter { .. } => 1,
            TtaObjective::Realm { alpha: 2.0, .. } => 2,
            TtaObjective::Realm { alpha: 0.0, .. } => 3,
            TtaObjective::Realm { alpha, .. } if alpha == f32::NEG_INFINITY => 4,
            TtaObjective::Realm { .. } => 5,
        }
    }
}

/// REALM's shape α by default [I]: the paper's value is not public; −4 (a taper between
/// Geman–McClure's −2 and Welsch's −∞) did best among 0, −2, −4 and −∞ on the shape streams
/// of seeds 0–2 (README, "Test-time adaptation"), so it is a tuned default, labelled as such.
pub const REALM_ALPHA: f32 = -4.0;

/// SAR's entropy margin E0 = 0.4·ln C for C classes.
pub fn sar_margin(classes: usize) -> f32 {
    0.4 * (classes.max(2) as f32).ln()
}

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
