//! The classroom's last step: the mixture a sweep's fit predicts is best for one target loss,
//! how much better than the uniform mixture the law says it is, and how a trained run of it
//! compares with the uniform run at the same size and budget.

use crate::error::{Error, Result};
use crate::laws::{MixOptions, MixTarget, OptimalMixture, mixture_law, optimal_mixture};
use crate::sweep::{Extrapolation, SweepRow};

/// Smallest weight of any domain in a searched optimum: the classroom's mixtures are drawn
/// above this floor, so the law is not asked about mixtures unlike any it was fitted on.
pub const OPTIMUM_FLOOR: f64 = 0.1;

/// The mixture minimising `target` at (`n`, `d`) under its fit in `fits` (N counted as the
/// fit counted it).
pub fn optimal_for(fits: &[Extrapolation], target: &str, n: f64, d: f64) -> Result<OptimalMixture> {
    let Some(fit) = fits.iter().find(|f| f.target == target) else {
        let names: Vec<&str> = fits.iter().map(|f| f.target.as_str()).collect();
        return Err(Error::Fit(format!("no fit of `{target}`; the fitted targets are {}", names.join(", "))));
    };
    let law = mixture_law(&fit.fit.law, fit.fit.params.len())?;
    let targets = [MixTarget { law: law.as_ref(), theta: fit.fit.theta(), weight: 1.0 }];
    optimal_mixture(&targets, n, d, &MixOptions { floor: OPTIMUM_FLOOR, starts: 2, ..Default::default() })
}

/// Whether every weight of `h` is the same: the uniform mixture.
pub fn is_uniform(h: &[f64]) -> bool {
    h.iter().all(|w| (w - h[0]).abs() < 1e-6)
}

/// The uniform-mixture run at the largest size and its largest budget: what a trained optimum
/// is compared with (`None` when the sweep has no such run).
pub fn uniform_at_largest(rows: &[SweepRow]) -> Option<&SweepRow> {
    let n = rows.iter().map(|r| r.model_size).max()?;
    let d = rows.iter().filter(|r| r.model_size == n).map(|r| r.n_tokens).max()?;
    rows.iter().find(|r| r.model_size == n && r.n_tokens == d && is_uniform(&r.config.mixture))
}

/// A trained optimum against its prediction and against the uniform run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimumCheck {
    /// The loss optimised, e.g. `code_loss`.
    pub target: String,
    /// The optimal mixture trained.
    pub weights: Vec<f64>,
    /// The law's loss at the optimum.
    pub predicted: f64,
    /// The law's loss at the uniform mixture.
    pub predicted_uniform: f64,
    /// The trained optimum's loss.
    pub measured: f64,
    /// The uniform run's loss at the same size and budget.
    pub measured_uniform: f64,
}

impl OptimumCheck {
    /// What the law says the optimum gains over the uniform mixture (nats).
    pub fn predicted_gain(&self) -> f64 {
        self.predicted_uniform - self.predicted
    }

    /// What training gained over the uniform run (nats).
    pub fn measured_gain(&self) -> f64 {
        self.measured_uniform - self.measured
    }

    /// Whether the optimum beat the uniform mixture by at least half the gain the law
    /// promised: the law's advice held.
    pub fn confirmed(&self) -> bool {
        self.measured_gain() > 0.0 && self.measured_gain() >= 0.5 * self.predicted_gain()
    }

    /// One line for people: both gains and the verdict.
    pub fn summary(&self) -> String {
        format!(
            "{}: optimum predicted {:.3}, measured {:.3}; uniform predicted {:.3}, measured {:.3}; gain predicted {:+.3} nats, measured {:+.3}: {}",
            self.target,
            self.predicted,
            self.measured,
            self.predicted_uniform,
            self.measured_uniform,
            self.predicted_gain(),
            self.measured_gain(),
            if self.confirmed() { "confirmed" } else { "not confirmed" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_confirmed_only_when_the_optimum_wins_by_half_the_promise() {
        let check = |measured: f64| OptimumCheck {
            target: "code_loss".into(),
            weights: vec![0.25; 4],
            predicted: 0.50,
            predicted_uniform: 0.60,
            measured,
            measured_uniform: 0.61,
        };
        assert!(check(0.52).confirmed());
        assert!(!check(0.57).confirmed(), "a gain of 0.04 is under half the 0.10 promised");
        assert!(!check(0.62).confirmed());
        assert!(check(0.52).summary().contains("confirmed"));
        assert!(is_uniform(&[0.25; 4]) && !is_uniform(&[0.3, 0.2, 0.25, 0.25]));
    }
}
