//! The distillation loss's settings, shared by the launcher, the CPU twin and the f64 reference.

use crate::error::{Error, Result};

/// How the student learns from its teacher: L = (1 − λ)·CE(student, labels) + λ·τ²·KL(p_T^τ ‖ q_S^τ).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillLoss {
    /// Softening temperature τ > 0 (the paper's main runs, and its authors' advice: 1).
    pub temperature: f32,
    /// Weight λ in [0, 1] of the teacher's term (the paper's main runs: 1, pure distillation).
    pub lambda: f32,
}

impl Default for DistillLoss {
    fn default() -> Self {
        DistillLoss { temperature: 1.0, lambda: 1.0 }
    }
}

impl DistillLoss {
    /// Checks τ and λ make a loss.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::Config(format!(
                "the distillation temperature must be a positive number, got {}; 1 is the usual choice",
                self.temperature
            )));
        }
        if !(0.0..=1.0).contains(&self.lambda) {
            return Err(Error::Config(format!(
                "the distillation weight λ must lie in [0, 1] (0 = labels only, 1 = teacher only), got {}",
                self.lambda
            )));
        }
        Ok(())
    }
}
