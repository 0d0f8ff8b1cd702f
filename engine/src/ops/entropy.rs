//! The test-time adaptation objectives (Tent, SAR's filter, REALM), shared by the launcher, the
//! CPU twin and the f64 reference.

use crate::error::{Error, Result};

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
