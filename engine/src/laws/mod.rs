//! Scaling laws as data: each law names its parameters, predicts a loss from an observation
//! (N, D, mixture h) and gives the gradient of that prediction with respect to its internal
//! parameters, so the fitter can run L-BFGS with analytic gradients.
//!
//! All parameters here are positive and live in log space internally (θ = ln p), which keeps
//! them positive without bounds, as the Chinchilla fitting practice does.
//! Each law's file cites its paper and marks its form [V] (verified against the paper) or [I]
//! (a reconstruction, used as a labelled default).

mod bootstrap;
mod chinchilla;
mod data;
mod distill;
mod ema;
mod fit;
mod forgetting;
mod mixture;
mod moe;
mod optimal_mixture;
mod search;

pub use bootstrap::{Bootstrap, Interval, bootstrap};
pub use chinchilla::Chinchilla;
pub use data::{NamedFit, Observation, RunTable, TokensFrom, read_fits};
pub use distill::{Distillation, SupervisedPower};
pub use ema::{Hyper, Optimizer, scale_ema, scale_hyper};
pub use fit::{FitOptions, FitResult, fit, fit_from, mre};
pub use forgetting::{Forgetting, ForgettingTokens, relative_forgetting};
pub use mixture::{MixtureAdditive, MixtureForm, MixtureJoint, fit_mixture};
pub use moe::MoeSparsity;
pub use optimal_mixture::{MixOptions, MixTarget, MixtureLaw, OptimalMixture, mixture_law, optimal_mixture};
pub use search::golden_min;

/// A scaling law with positive parameters fitted in log space.
pub trait Law: Sync {
    /// Short name, e.g. "chinchilla".
    fn name(&self) -> &'static str;
    /// Parameter names, in θ order.
    fn param_names(&self) -> Vec<String>;
    /// Predicted loss and its gradient with respect to θ (natural-log parameters).
    fn eval(&self, theta: &[f64], x: &Observation, grad: &mut [f64]) -> f64;
    /// A random starting point for θ drawn from plausible ranges.
    fn random_start(&self, rng: &mut crate::rng::Rng) -> Vec<f64>;

    /// Predictions and gradients for many rows: `each(i, prediction, gradient)` per row.
    /// Laws override it to compute e^θ once per call instead of once per row (the fitter's
    /// inner loop).
    fn eval_rows(&self, theta: &[f64], data: &[Observation], each: &mut dyn FnMut(usize, f64, &[f64])) {
        let mut g = vec![0.0; self.n_params()];
        for (i, x) in data.iter().enumerate() {
            let p = self.eval(theta, x, &mut g);
            each(i, p, &g);
        }
    }

    /// Number of parameters.
    fn n_params(&self) -> usize {
        self.param_names().len()
    }

    /// Predicted loss only.
    fn predict(&self, theta: &[f64], x: &Observation) -> f64 {
        let mut g = vec![0.0; self.n_params()];
        self.eval(theta, x, &mut g)
    }
}

/// Uniform draw in [lo, hi).
pub(crate) fn uniform(rng: &mut crate::rng::Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}
