//! Forgetting during finetuning with pretraining-data injection (Bethune et al. 2025,
//! arXiv 2502.06042). The paper's functional forms are not public in what we could verify:
//! this is the structural guess of PAPERS.md, **[I] a labelled default**:
//! ΔL_pt = L_pt(after) − L_pt(before) ≈ A′·D_ft^β′ / ((1 + B′·p)·N)^α′,
//! where (1 + B′p) reads injected data as extra effective capacity. The finetuning loss itself
//! follows Chinchilla's form. Observations carry the injected fraction p as `h[0]` and the
//! forgetting ΔL_pt as `loss`.

use crate::laws::{Law, Observation, uniform};
use crate::rng::Rng;

/// θ = ln(A′, β′, B′, α′).
#[derive(Clone, Copy, Debug, Default)]
pub struct Forgetting;

impl Law for Forgetting {
    fn name(&self) -> &'static str {
        "forgetting"
    }

    fn param_names(&self) -> Vec<String> {
        ["A'", "beta'", "B'", "alpha'"].map(String::from).to_vec()
    }

    fn eval(&self, t: &[f64], x: &Observation, g: &mut [f64]) -> f64 {
        let [a, be, b, al] = [t[0], t[1], t[2], t[3]].map(f64::exp);
        let p = x.h.first().copied().unwrap_or(0.0);
        let cap = (1.0 + b * p) * x.n;
        let l = a * (be * x.d.ln() - al * cap.ln()).exp();
        g[0] = l;
        g[1] = be * x.d.ln() * l;
        g[2] = -al * b * p / (1.0 + b * p) * l;
        g[3] = -al * cap.ln() * l;
        l
    }

    fn random_start(&self, rng: &mut Rng) -> Vec<f64> {
        vec![uniform(rng, -2.0, 6.0), uniform(rng, -3.0, -0.5), uniform(rng, 0.0, 6.0), uniform(rng, -3.0, -0.5)]
    }
}

/// The fraction of pretraining progress lost [I]: (L_after − L_before) / (L_init − L_before).
pub fn relative_forgetting(before: f64, after: f64, random_init: f64) -> f64 {
    (after - before) / (random_init - before)
}
