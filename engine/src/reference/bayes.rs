//! f64 reference of Bayes-by-Backprop weights, written from the definitions: w = μ + σ·ε with
//! σ = ln(1 + e^ρ), KL(N(μ, σ²) ‖ N(0, σ_p²)) = ln(σ_p/σ) + (σ² + μ²)/(2σ_p²) − ½, and the
//! gradients of `Σ dw·w + k·KL` with respect to μ and ρ.

use crate::ops::bayes::{BayesOpts, epsilon_bits};

/// ε exactly (the shader's integer sum, centred and scaled, in f64).
pub fn epsilon(seed: u32, i: usize) -> f64 {
    (f64::from(epsilon_bits(seed, i as u32)) - 6.0 * 16_777_216.0) / 16_777_216.0
}

fn softplus(r: f64) -> f64 {
    r.max(0.0) + (-r.abs()).exp().ln_1p()
}

/// The drawn weights.
pub fn sample(mu: &[f64], rho: &[f64], seed: u32) -> Vec<f64> {
    mu.iter().zip(rho).enumerate().map(|(i, (m, r))| m + softplus(*r) * epsilon(seed, i)).collect()
}

/// KL(q ‖ p) summed over the weights.
pub fn kl(mu: &[f64], rho: &[f64], prior_std: f64) -> f64 {
    mu.iter()
        .zip(rho)
        .map(|(m, r)| {
            let s = softplus(*r);
            (prior_std / s).ln() + (s * s + m * m) / (2.0 * prior_std * prior_std) - 0.5
        })
        .sum()
}

/// (dμ, dρ) of `Σ dw_i·w_i + k·KL`, the chain rule through w and σ written out.
pub fn backward(mu: &[f64], rho: &[f64], dw: &[f64], o: &BayesOpts) -> (Vec<f64>, Vec<f64>) {
    let (sp2, k) = (f64::from(o.prior_std).powi(2), f64::from(o.kl_weight));
    let mut dmu = Vec::with_capacity(mu.len());
    let mut drho = Vec::with_capacity(mu.len());
    for i in 0..mu.len() {
        let s = softplus(rho[i]);
        let ds_drho = 1.0 / (1.0 + (-rho[i]).exp());
        dmu.push(dw[i] + k * mu[i] / sp2);
        drho.push((dw[i] * epsilon(o.seed, i) + k * (s / sp2 - 1.0 / s)) * ds_drho);
    }
    (dmu, drho)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_has_mean_zero_and_unit_variance() {
        let n = 20_000;
        let e: Vec<f64> = (0..n).map(|i| epsilon(7, i)).collect();
        let mean = e.iter().sum::<f64>() / n as f64;
        let var = e.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean}, variance {var}");
        assert!(e.iter().all(|x| x.abs() <= 6.0));
        assert_ne!(epsilon(7, 3), epsilon(8, 3), "the seed changes the draw");
    }

    #[test]
    fn the_gradients_match_finite_differences_of_the_loss() {
        let o = BayesOpts { seed: 11, prior_std: 0.7, kl_weight: 0.3 };
        let mu = [0.4, -1.2, 0.05, 2.0];
        let rho = [-3.0, 0.5, -0.2, 1.7];
        let dw = [0.9, -0.4, 1.3, 0.2];
        let loss = |mu: &[f64], rho: &[f64]| {
            let w = sample(mu, rho, o.seed);
            w.iter().zip(&dw).map(|(w, d)| w * d).sum::<f64>()
                + f64::from(o.kl_weight) * kl(mu, rho, f64::from(o.prior_std))
        };
        let (dmu, drho) = backward(&mu, &rho, &dw, &o);
        let h = 1e-6;
        for i in 0..mu.len() {
            let (mut up, mut down) = (mu, mu);
            up[i] += h;
            down[i] -= h;
            let fd = (loss(&up, &rho) - loss(&down, &rho)) / (2.0 * h);
            assert!((fd - dmu[i]).abs() < 1e-7 * (1.0 + fd.abs()), "dmu[{i}]: {} vs {fd}", dmu[i]);
            let (mut up, mut down) = (rho, rho);
            up[i] += h;
            down[i] -= h;
            let fd = (loss(&mu, &up) - loss(&mu, &down)) / (2.0 * h);
            assert!((fd - drho[i]).abs() < 1e-7 * (1.0 + fd.abs()), "drho[{i}]: {} vs {fd}", drho[i]);
        }
    }

    #[test]
    fn the_kl_vanishes_at_the_prior_and_grows_away_from_it() {
        // softplus(ρ) = 0.7 at ρ = ln(e^0.7 − 1).
        let r = (0.7f64.exp() - 1.0).ln();
        assert!(kl(&[0.0], &[r], 0.7).abs() < 1e-12);
        assert!(kl(&[0.5], &[r], 0.7) > 0.1 && kl(&[0.0], &[r - 2.0], 0.7) > 0.1);
    }
}
