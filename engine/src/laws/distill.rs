//! Distillation scaling laws (Busbridge et al. 2025, arXiv 2502.08606).
//!
//! Supervised [V]: L(N, D) = E + (A/N^α + B/D^β)^γ, N non-embedding parameters.
//! Distillation, Eq. 8 [V]: L_S = L_T + L_T^(−c0)·(1 + (L_T/(L̃_S·d1))^(1/f1))^(−c1·f1)·(A′/N_S^α′ + B′/D_S^β′)^γ′,
//! with L̃_S = L(N_S, D_S) from a supervised fit held fixed. As written L_S ≥ L_T always
//! (docs/papers.md notes the paper's "students beat weak teachers" window cannot come from it).
//! Observations carry the teacher's loss L_T as `h[0]`.

use crate::laws::{Law, Observation, uniform};
use crate::rng::Rng;

/// u = A·N^−α + B·D^−β and its two terms.
fn capacity(a: f64, al: f64, b: f64, be: f64, n: f64, d: f64) -> (f64, f64, f64) {
    let (tn, td) = (a * (-al * n.ln()).exp(), b * (-be * d.ln()).exp());
    (tn + td, tn, td)
}

/// The supervised law E + (A/N^α + B/D^β)^γ; θ = ln(E, A, α, B, β, γ).
#[derive(Clone, Copy, Debug, Default)]
pub struct SupervisedPower;

impl Law for SupervisedPower {
    fn name(&self) -> &'static str {
        "supervised"
    }

    fn param_names(&self) -> Vec<String> {
        ["E", "A", "alpha", "B", "beta", "gamma"].map(String::from).to_vec()
    }

    fn eval(&self, t: &[f64], x: &Observation, g: &mut [f64]) -> f64 {
        let [e, a, al, b, be, ga] = [t[0], t[1], t[2], t[3], t[4], t[5]].map(f64::exp);
        let (u, tn, td) = capacity(a, al, b, be, x.n, x.d);
        let p = u.powf(ga);
        let k = ga * p / u;
        g[0] = e;
        g[1] = k * tn;
        g[2] = k * (-al * x.n.ln() * tn);
        g[3] = k * td;
        g[4] = k * (-be * x.d.ln() * td);
        g[5] = ga * u.ln() * p;
        e + p
    }

    fn random_start(&self, rng: &mut Rng) -> Vec<f64> {
        vec![
            uniform(rng, -1.0, 1.5),
            uniform(rng, 0.0, 10.0),
            uniform(rng, -2.5, -0.5),
            uniform(rng, 0.0, 10.0),
            uniform(rng, -2.5, -0.5),
            uniform(rng, -0.7, 0.7),
        ]
    }
}

/// The distillation law with a fixed supervised law for L̃_S;
/// θ = ln(c0, c1, f1, d1, A′, α′, B′, β′, γ′).
#[derive(Clone, Debug)]
pub struct Distillation {
    /// Fitted supervised parameters (E, A, α, B, β, γ), positive, not log.
    pub supervised: [f64; 6],
}

impl Law for Distillation {
    fn name(&self) -> &'static str {
        "distill"
    }

    fn param_names(&self) -> Vec<String> {
        ["c0", "c1", "f1", "d1", "A'", "alpha'", "B'", "beta'", "gamma'"].map(String::from).to_vec()
    }

    fn eval(&self, t: &[f64], x: &Observation, g: &mut [f64]) -> f64 {
        let [c0, c1, f1, d1, a, al, b, be, ga] = [t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]].map(f64::exp);
        let lt = x.h.first().copied().unwrap_or(f64::NAN);
        let sup = SupervisedPower.predict(&self.supervised.map(f64::ln), x);
        let xr = lt / (sup * d1);
        let xp = xr.powf(1.0 / f1);
        let q = 1.0 + xp;
        let m = q.powf(-c1 * f1);
        let tt = lt.powf(-c0);
        let (u, tn, td) = capacity(a, al, b, be, x.n, x.d);
        let p = u.powf(ga);
        let rest = tt * m * p;
        g[0] = -c0 * lt.ln() * rest;
        g[1] = -c1 * f1 * q.ln() * rest;
        g[2] = f1 * (-c1 * q.ln() + c1 * xp * xr.ln() / (q * f1)) * rest;
        g[3] = c1 * xp / q * rest;
        let k = tt * m * ga * p / u;
        g[4] = k * tn;
        g[5] = k * (-al * x.n.ln() * tn);
        g[6] = k * td;
        g[7] = k * (-be * x.d.ln() * td);
        g[8] = tt * m * ga * u.ln() * p;
        lt + rest
    }

    fn random_start(&self, rng: &mut Rng) -> Vec<f64> {
        vec![
            uniform(rng, -3.0, 0.0),
            uniform(rng, -2.0, 0.5),
            uniform(rng, -1.0, 1.0),
            uniform(rng, -0.5, 0.5),
            uniform(rng, 0.0, 10.0),
            uniform(rng, -2.5, -0.5),
            uniform(rng, 0.0, 10.0),
            uniform(rng, -2.5, -0.5),
            uniform(rng, -0.7, 0.7),
        ]
    }
}
