//! Chinchilla (Hoffmann et al. 2022) [V]: L(N, D) = E + A/N^α + B/D^β.

use crate::laws::{Law, Observation, uniform};
use crate::rng::Rng;

/// L = E + A·N^−α + B·D^−β; θ = ln(E, A, α, B, β).
#[derive(Clone, Copy, Debug, Default)]
pub struct Chinchilla;

impl Law for Chinchilla {
    fn name(&self) -> &'static str {
        "chinchilla"
    }

    fn param_names(&self) -> Vec<String> {
        ["E", "A", "alpha", "B", "beta"].map(String::from).to_vec()
    }

    fn eval(&self, t: &[f64], x: &Observation, g: &mut [f64]) -> f64 {
        let [e, a, al, b, be] = [t[0].exp(), t[1].exp(), t[2].exp(), t[3].exp(), t[4].exp()];
        let (ln_n, ln_d) = (x.n.ln(), x.d.ln());
        let tn = a * (-al * ln_n).exp();
        let td = b * (-be * ln_d).exp();
        g[0] = e;
        g[1] = tn;
        g[2] = -al * ln_n * tn;
        g[3] = td;
        g[4] = -be * ln_d * td;
        e + tn + td
    }

    fn random_start(&self, rng: &mut Rng) -> Vec<f64> {
        vec![
            uniform(rng, -1.0, 1.5),
            uniform(rng, 0.0, 10.0),
            uniform(rng, -2.5, -0.5),
            uniform(rng, 0.0, 10.0),
            uniform(rng, -2.5, -0.5),
        ]
    }
}
