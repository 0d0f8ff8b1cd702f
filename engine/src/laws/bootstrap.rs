//! Bootstrap confidence intervals: refit on runs resampled with replacement (each refit
//! warm-started from the full fit, plus a random start and a few hops), then take percentiles
//! of every parameter and of the held-out error. Resamples run in parallel; each has its own
//! seed, so the intervals are deterministic for a seed.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::laws::{FitOptions, FitResult, Law, Observation, fit_from, mre};
use crate::rng::Rng;

/// A two-sided percentile interval.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// Lower percentile.
    pub lo: f64,
    /// Upper percentile.
    pub hi: f64,
}

/// Intervals from `resamples` refits.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Bootstrap {
    /// Refits that converged (of the resamples asked for).
    pub resamples: usize,
    /// Coverage, e.g. 0.95.
    pub level: f64,
    /// One interval per parameter, in the law's order.
    pub params: Vec<Interval>,
    /// Interval of the MRE on the held-out rows, when there are any.
    pub held_out_mre: Option<Interval>,
}

/// The `q`-quantile of sorted `v` (linear interpolation).
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    if i + 1 < v.len() { v[i] * (1.0 - frac) + v[i + 1] * frac } else { v[i] }
}

fn interval(mut v: Vec<f64>, level: f64) -> Interval {
    v.sort_by(f64::total_cmp);
    let tail = 0.5 * (1.0 - level);
    Interval { lo: quantile(&v, tail), hi: quantile(&v, 1.0 - tail) }
}

/// Refits `law` on `resamples` bootstrap samples of `data` and returns `level` intervals.
pub fn bootstrap(
    law: &dyn Law,
    data: &[Observation],
    held_out: &[Observation],
    full: &FitResult,
    resamples: usize,
    level: f64,
    opts: &FitOptions,
) -> Result<Bootstrap> {
    if resamples < 2 || !(0.0 < level && level < 1.0) {
        return Err(Error::Fit(format!(
            "the bootstrap needs ≥ 2 resamples and a level in (0, 1); got {resamples}, {level}"
        )));
    }
    let warm = [full.theta()];
    let refit = FitOptions { starts: 1, hops: opts.hops.min(2), ..opts.clone() };
    let fits: Vec<FitResult> = (0..resamples)
        .into_par_iter()
        .filter_map(|i| {
            let mut rng = Rng::new(opts.seed).fork(i as u64 + 1);
            let sample: Vec<Observation> = (0..data.len()).map(|_| data[rng.below(data.len())].clone()).collect();
            fit_from(law, &sample, &FitOptions { seed: opts.seed ^ (i as u64 + 1), ..refit.clone() }, &warm).ok()
        })
        .collect();
    if fits.len() < 2 {
        return Err(Error::Fit(format!("only {} of {resamples} bootstrap refits converged", fits.len())));
    }
    let params = (0..law.n_params()).map(|p| interval(fits.iter().map(|f| f.params[p]).collect(), level)).collect();
    let held_out_mre =
        (!held_out.is_empty()).then(|| interval(fits.iter().map(|f| mre(law, &f.theta(), held_out)).collect(), level));
    Ok(Bootstrap { resamples: fits.len(), level, params, held_out_mre })
}
