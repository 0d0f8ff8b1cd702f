//! The optimal mixture: minimise a fitted mixture law (or a weighted sum of several, one per
//! target domain) over the simplex at a given (N, D). The weights are a softmax of free
//! parameters, optionally lifted to a floor (h = f + (1 − k·f)·softmax(z)), and L-BFGS runs
//! from several starts, the uniform mixture first.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::error::{Error, Result};
use crate::laws::{Law, Observation};
use crate::rng::Rng;

/// A law whose prediction has a gradient with respect to the mixture weights.
pub trait MixtureLaw: Law {
    /// Number of domains.
    fn domains(&self) -> usize;
    /// ∂L/∂h at `x` (h on the simplex, each weight > 0).
    fn grad_h(&self, theta: &[f64], x: &Observation) -> Vec<f64>;
}

/// The mixture law a fit of `law` with `n_params` parameters was made with (the input of
/// `sigmix mix`, which reads fits back from JSON).
pub fn mixture_law(law: &str, n_params: usize) -> Result<Box<dyn MixtureLaw>> {
    match law {
        "mixture-additive" if n_params >= 7 && (n_params - 5).is_multiple_of(2) => {
            Ok(Box::new(crate::laws::MixtureAdditive { k: (n_params - 5) / 2 }))
        }
        "mixture-joint" if n_params >= 9 && (n_params - 5).is_multiple_of(4) => {
            Ok(Box::new(crate::laws::MixtureJoint { k: (n_params - 5) / 4 }))
        }
        _ => Err(Error::Fit(format!(
            "a fit of `{law}` with {n_params} parameters is not a mixture law; fit mixture-additive or mixture-joint first"
        ))),
    }
}

/// One fitted target of the objective.
pub struct MixTarget<'a> {
    /// The law.
    pub law: &'a dyn MixtureLaw,
    /// Its fitted θ (log parameters).
    pub theta: Vec<f64>,
    /// Its weight in the objective.
    pub weight: f64,
}

/// Settings of the search.
#[derive(Clone, Debug)]
pub struct MixOptions {
    /// Smallest weight of any domain (0 allows leaving one out).
    pub floor: f64,
    /// Random starts after the uniform one.
    pub starts: usize,
    /// Seed of the starts.
    pub seed: u64,
}

impl Default for MixOptions {
    fn default() -> Self {
        MixOptions { floor: 0.0, starts: 8, seed: 0 }
    }
}

/// The optimum found.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OptimalMixture {
    /// N it is optimal for.
    pub n: f64,
    /// D it is optimal for.
    pub d: f64,
    /// The weights, on the simplex.
    pub weights: Vec<f64>,
    /// The objective there (weighted sum of predicted losses).
    pub objective: f64,
    /// Each target's predicted loss there.
    pub per_target: Vec<f64>,
    /// The objective at the uniform mixture, for comparison.
    pub uniform_objective: f64,
}

struct Problem<'a> {
    targets: &'a [MixTarget<'a>],
    n: f64,
    d: f64,
    floor: f64,
}

impl Problem<'_> {
    fn weights(&self, z: &[f64]) -> Vec<f64> {
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        let scale = 1.0 - self.floor * z.len() as f64;
        e.iter().map(|v| self.floor + scale * v / s).collect()
    }

    fn at(&self, h: &[f64]) -> Observation {
        Observation { n: self.n, d: self.d, h: h.to_vec(), loss: 0.0 }
    }

    fn objective(&self, h: &[f64]) -> f64 {
        self.targets.iter().map(|t| t.weight * t.law.predict(&t.theta, &self.at(h))).sum()
    }

    /// The objective at parameters `z` (∞ where z is not finite).
    fn cost_at(&self, z: &[f64]) -> f64 {
        if z.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        self.objective(&self.weights(z))
    }

    /// ∂objective/∂z: argmin asks for the cost and the gradient separately, so each is
    /// computed on its own rather than both twice.
    fn grad_at(&self, z: &[f64]) -> Vec<f64> {
        if z.iter().any(|v| !v.is_finite()) {
            return vec![0.0; z.len()];
        }
        let h = self.weights(z);
        let x = self.at(&h);
        let mut gh = vec![0.0; h.len()];
        for t in self.targets {
            for (g, v) in gh.iter_mut().zip(t.law.grad_h(&t.theta, &x)) {
                *g += t.weight * v;
            }
        }
        // h_i = f + s·p_i with p = softmax(z): ∂h_i/∂z_j = s·p_i(δ_ij − p_j).
        let scale = 1.0 - self.floor * z.len() as f64;
        let p: Vec<f64> = h.iter().map(|v| (v - self.floor) / scale).collect();
        let dot: f64 = p.iter().zip(&gh).map(|(p, g)| p * g).sum();
        p.iter().zip(&gh).map(|(p, g)| scale * p * (g - dot)).collect()
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, z: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.cost_at(z))
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, z: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.grad_at(z))
    }
}

/// The mixture minimising Σ_t w_t·L_t(N, D, h) over the simplex (each h_i ≥ `opts.floor`).
pub fn optimal_mixture(targets: &[MixTarget<'_>], n: f64, d: f64, opts: &MixOptions) -> Result<OptimalMixture> {
    let Some(k) = targets.first().map(|t| t.law.domains()) else {
        return Err(Error::Fit("name at least one fitted target to optimise".into()));
    };
    if targets.iter().any(|t| t.law.domains() != k) {
        return Err(Error::Fit("every target must be fitted over the same domains".into()));
    }
    if !(0.0..1.0 / k as f64).contains(&opts.floor) {
        return Err(Error::Fit(format!("the floor must be in [0, 1/{k}), got {}", opts.floor)));
    }
    if !(n > 0.0 && d > 0.0) {
        return Err(Error::Fit(format!("N and D must be positive, got N = {n}, D = {d}")));
    }
    let problem = Problem { targets, n, d, floor: opts.floor };
    let uniform = vec![1.0 / k as f64; k];
    let mut rng = Rng::new(opts.seed);
    let mut starts = vec![vec![0.0; k]];
    starts.extend((0..opts.starts).map(|_| (0..k).map(|_| 2.0 * rng.normal()).collect()));
    let mut best: Option<(Vec<f64>, f64)> = None;
    for z0 in starts {
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), 8)
            .with_tolerance_grad(1e-10)
            .and_then(|s| s.with_tolerance_cost(1e-14))
            .map_err(|e| Error::Fit(e.to_string()))?;
        let p = Problem { targets, n, d, floor: opts.floor };
        let Ok(res) = Executor::new(p, solver).configure(|s| s.param(z0).max_iters(300)).run() else { continue };
        let state = res.state();
        if let Some(z) = state.get_best_param() {
            let c = state.get_best_cost();
            if c.is_finite() && best.as_ref().is_none_or(|(_, bc)| c < *bc) {
                best = Some((z.clone(), c));
            }
        }
    }
    let Some((z, objective)) = best else {
        return Err(Error::Fit("the predicted loss could not be evaluated at any mixture".into()));
    };
    let weights = problem.weights(&z);
    let x = problem.at(&weights);
    Ok(OptimalMixture {
        n,
        d,
        per_target: targets.iter().map(|t| t.law.predict(&t.theta, &x)).collect(),
        weights,
        objective,
        uniform_objective: problem.objective(&uniform),
    })
}
