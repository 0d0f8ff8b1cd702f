//! Data-mixture scaling laws (Shukor et al. 2025, arXiv 2507.09404).
//!
//! Additive [V]: L(N, D, h) = E + 1/Σ_i C_i·h_i^γ_i + A/N^α + B/D^β   (2k + 5 parameters).
//! Only the bias term depends on h, so the optimal mixture does not move with N and D.
//!
//! Joint [I — structure verified, exact A_h/B_h form unverified; a labelled default]:
//! L = E + 1/Σ_i C_i·h_i^γ_i + A_h/N^α + B_h/D^β with A_h = (Σ_i C^A_i·h_i)^γ^A and
//! B_h = (Σ_i C^B_i·h_i)^γ^B (4k + 5 parameters: 37 at k = 8, the paper's count).

use crate::laws::{Law, MixtureLaw, Observation, uniform};
use crate::rng::Rng;

/// The additive mixture law over `k` domains.
#[derive(Clone, Copy, Debug)]
pub struct MixtureAdditive {
    /// Number of domains.
    pub k: usize,
}

/// Σ C_i h_i^γ_i and, per domain, C_i h_i^γ_i (0 where h_i = 0).
fn bias_terms(c: &[f64], gam: &[f64], h: &[f64]) -> (f64, Vec<f64>) {
    let terms: Vec<f64> =
        c.iter().zip(gam).zip(h).map(|((c, g), h)| if *h > 0.0 { c * h.powf(*g) } else { 0.0 }).collect();
    (terms.iter().sum(), terms)
}

impl Law for MixtureAdditive {
    fn name(&self) -> &'static str {
        "mixture-additive"
    }

    fn param_names(&self) -> Vec<String> {
        let mut v: Vec<String> = ["E", "A", "alpha", "B", "beta"].map(String::from).to_vec();
        v.extend((0..self.k).map(|i| format!("C{i}")));
        v.extend((0..self.k).map(|i| format!("gamma{i}")));
        v
    }

    fn eval(&self, t: &[f64], x: &Observation, g: &mut [f64]) -> f64 {
        let k = self.k;
        let base = super::Chinchilla.eval(&t[..5], x, &mut g[..5]);
        let c: Vec<f64> = t[5..5 + k].iter().map(|v| v.exp()).collect();
        let gam: Vec<f64> = t[5 + k..5 + 2 * k].iter().map(|v| v.exp()).collect();
        let (s, terms) = bias_terms(&c, &gam, &x.h);
        let inv2 = 1.0 / (s * s);
        for i in 0..k {
            g[5 + i] = -inv2 * terms[i];
            g[5 + k + i] = if x.h[i] > 0.0 { -inv2 * terms[i] * gam[i] * x.h[i].ln() } else { 0.0 };
        }
        base + 1.0 / s
    }

    fn random_start(&self, rng: &mut Rng) -> Vec<f64> {
        let mut t = super::Chinchilla.random_start(rng);
        t.extend((0..self.k).map(|_| uniform(rng, -1.5, 1.5)));
        t.extend((0..self.k).map(|_| uniform(rng, -2.0, 0.5)));
        t
    }
}

/// The joint mixture law over `k` domains ([I] form of A_h and B_h).
#[derive(Clone, Copy, Debug)]
pub struct MixtureJoint {
    /// Number of domains.
    pub k: usize,
}

impl MixtureJoint {
    /// The joint-law point equal to an additive fit (θ of `MixtureAdditive`): γ^A = γ^B = 1 and
    /// C^A_i = A, C^B_i = B, so A_h = Σ_i A·h_i = A on the simplex. A warm start that makes the
    /// joint fit at least as good as the additive one it contains.
    pub fn from_additive(&self, additive_theta: &[f64]) -> Vec<f64> {
        let k = self.k;
        let t = additive_theta;
        let mut out = vec![t[0], t[2], t[4], 0.0, 0.0];
        out.extend_from_slice(&t[5..5 + 2 * k]);
        out.extend(std::iter::repeat_n(t[1], k));
        out.extend(std::iter::repeat_n(t[3], k));
        out
    }
}

impl Law for MixtureJoint {
    fn name(&self) -> &'static str {
        "mixture-joint"
    }

    fn param_names(&self) -> Vec<String> {
        let k = self.k;
        let mut v: Vec<String> = ["E", "alpha", "beta", "gammaA", "gammaB"].map(String::from).to_vec();
        for p in ["C", "gamma", "CA", "CB"] {
            v.extend((0..k).map(|i| format!("{p}{i}")));
        }
        v
    }

    fn eval(&self, t: &[f64], x: &Observation, g: &mut [f64]) -> f64 {
        let k = self.k;
        let [e, al, be, ga, gb] = [t[0].exp(), t[1].exp(), t[2].exp(), t[3].exp(), t[4].exp()];
        let ex = |r: std::ops::Range<usize>| -> Vec<f64> { t[r].iter().map(|v| v.exp()).collect() };
        let (c, gam, ca, cb) = (ex(5..5 + k), ex(5 + k..5 + 2 * k), ex(5 + 2 * k..5 + 3 * k), ex(5 + 3 * k..5 + 4 * k));
        let (s, terms) = bias_terms(&c, &gam, &x.h);
        let sa: f64 = ca.iter().zip(&x.h).map(|(c, h)| c * h).sum();
        let sb: f64 = cb.iter().zip(&x.h).map(|(c, h)| c * h).sum();
        let (a_h, b_h) = (sa.powf(ga), sb.powf(gb));
        let (pn, pd) = ((-al * x.n.ln()).exp(), (-be * x.d.ln()).exp());
        let (tn, td) = (a_h * pn, b_h * pd);
        g[0] = e;
        g[1] = -al * x.n.ln() * tn;
        g[2] = -be * x.d.ln() * td;
        g[3] = ga * sa.ln() * tn;
        g[4] = gb * sb.ln() * td;
        let inv2 = 1.0 / (s * s);
        for i in 0..k {
            g[5 + i] = -inv2 * terms[i];
            g[5 + k + i] = if x.h[i] > 0.0 { -inv2 * terms[i] * gam[i] * x.h[i].ln() } else { 0.0 };
            // d(sa^γA)/d ln CA_i = γA·sa^(γA−1)·CA_i·h_i
            g[5 + 2 * k + i] = pn * ga * a_h / sa * ca[i] * x.h[i];
            g[5 + 3 * k + i] = pd * gb * b_h / sb * cb[i] * x.h[i];
        }
        e + 1.0 / s + tn + td
    }

    fn random_start(&self, rng: &mut Rng) -> Vec<f64> {
        let k = self.k;
        let mut t = vec![
            uniform(rng, -1.0, 1.5),
            uniform(rng, -2.5, -0.5),
            uniform(rng, -2.5, -0.5),
            uniform(rng, -0.5, 1.5),
            uniform(rng, -0.5, 1.5),
        ];
        t.extend((0..k).map(|_| uniform(rng, -1.5, 1.5)));
        t.extend((0..k).map(|_| uniform(rng, -2.0, 0.5)));
        t.extend((0..2 * k).map(|_| uniform(rng, 0.0, 6.0)));
        t
    }
}

/// ∂(1/Σ C_i h_i^γ_i)/∂h_i = −C_i γ_i h_i^(γ_i − 1) / S².
fn bias_grad_h(c: &[f64], gam: &[f64], h: &[f64]) -> Vec<f64> {
    let (s, _) = bias_terms(c, gam, h);
    c.iter()
        .zip(gam)
        .zip(h)
        .map(|((c, g), h)| if *h > 0.0 { -c * g * h.powf(g - 1.0) / (s * s) } else { f64::NEG_INFINITY })
        .collect()
}

impl MixtureLaw for MixtureAdditive {
    fn domains(&self) -> usize {
        self.k
    }

    fn grad_h(&self, t: &[f64], x: &Observation) -> Vec<f64> {
        let k = self.k;
        let ex = |r: std::ops::Range<usize>| -> Vec<f64> { t[r].iter().map(|v| v.exp()).collect() };
        bias_grad_h(&ex(5..5 + k), &ex(5 + k..5 + 2 * k), &x.h)
    }
}

impl MixtureLaw for MixtureJoint {
    fn domains(&self) -> usize {
        self.k
    }

    fn grad_h(&self, t: &[f64], x: &Observation) -> Vec<f64> {
        let k = self.k;
        let [al, be, ga, gb] = [t[1].exp(), t[2].exp(), t[3].exp(), t[4].exp()];
        let ex = |r: std::ops::Range<usize>| -> Vec<f64> { t[r].iter().map(|v| v.exp()).collect() };
        let (c, gam, ca, cb) = (ex(5..5 + k), ex(5 + k..5 + 2 * k), ex(5 + 2 * k..5 + 3 * k), ex(5 + 3 * k..5 + 4 * k));
        let sa: f64 = ca.iter().zip(&x.h).map(|(c, h)| c * h).sum();
        let sb: f64 = cb.iter().zip(&x.h).map(|(c, h)| c * h).sum();
        let (pn, pd) = ((-al * x.n.ln()).exp(), (-be * x.d.ln()).exp());
        let (da, db) = (pn * ga * sa.powf(ga - 1.0), pd * gb * sb.powf(gb - 1.0));
        bias_grad_h(&c, &gam, &x.h).iter().enumerate().map(|(i, g)| g + da * ca[i] + db * cb[i]).collect()
    }
}
