//! Data-mixture scaling laws (Shukor et al. 2025, arXiv 2507.09404).
//!
//! Additive [V]: L(N, D, h) = E + 1/Σ_i C_i·h_i^γ_i + A/N^α + B/D^β   (2k + 5 parameters).
//! Only the bias term depends on h, so the optimal mixture does not move with N and D.
//!
//! Joint [I — structure verified, exact A_h/B_h form unverified; a labelled default]:
//! L = E + 1/Σ_i C_i·h_i^γ_i + A_h/N^α + B_h/D^β with A_h = (Σ_i C^A_i·h_i)^γ^A and
//! B_h = (Σ_i C^B_i·h_i)^γ^B (4k + 5 parameters: 37 at k = 8, the paper's count).

use crate::error::Result;
use crate::laws::{FitOptions, FitResult, Law, MixtureLaw, Observation, fit, fit_from, uniform};
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

/// One row through `eval_rows` (where these laws keep their formula).
fn eval_one(law: &dyn Law, t: &[f64], x: &Observation, g: &mut [f64]) -> f64 {
    let mut out = 0.0;
    law.eval_rows(t, std::slice::from_ref(x), &mut |_, p, grad| {
        out = p;
        g.copy_from_slice(grad);
    });
    out
}

/// The bias term 1/Σ_i C_i h_i^γ_i with C and γ exponentiated once for many rows.
struct Bias {
    c: Vec<f64>,
    gam: Vec<f64>,
    terms: Vec<f64>,
}

impl Bias {
    fn new(ln_c: &[f64], ln_gam: &[f64]) -> Bias {
        Bias {
            c: ln_c.iter().map(|v| v.exp()).collect(),
            gam: ln_gam.iter().map(|v| v.exp()).collect(),
            terms: vec![0.0; ln_c.len()],
        }
    }

    /// 1/S at `h`, writing ∂/∂ln C_i to `g_c` and ∂/∂ln γ_i to `g_gam`.
    fn eval(&mut self, h: &[f64], g_c: &mut [f64], g_gam: &mut [f64]) -> f64 {
        let mut s = 0.0;
        for ((term, (c, gam)), h) in self.terms.iter_mut().zip(self.c.iter().zip(&self.gam)).zip(h) {
            *term = if *h > 0.0 { c * (gam * h.ln()).exp() } else { 0.0 };
            s += *term;
        }
        let inv2 = 1.0 / (s * s);
        for (((gc, gg), (term, gam)), h) in
            g_c.iter_mut().zip(g_gam.iter_mut()).zip(self.terms.iter().zip(&self.gam)).zip(h)
        {
            *gc = -inv2 * term;
            *gg = if *h > 0.0 { *gc * gam * h.ln() } else { 0.0 };
        }
        1.0 / s
    }
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
        eval_one(self, t, x, g)
    }

    fn eval_rows(&self, t: &[f64], data: &[Observation], each: &mut dyn FnMut(usize, f64, &[f64])) {
        let k = self.k;
        let [e, a, al, b, be] = [t[0], t[1], t[2], t[3], t[4]].map(f64::exp);
        let mut bias = Bias::new(&t[5..5 + k], &t[5 + k..5 + 2 * k]);
        let mut g = vec![0.0; 5 + 2 * k];
        for (i, x) in data.iter().enumerate() {
            let (ln_n, ln_d) = (x.n.ln(), x.d.ln());
            let tn = a * (-al * ln_n).exp();
            let td = b * (-be * ln_d).exp();
            g[..5].copy_from_slice(&[e, tn, -al * ln_n * tn, td, -be * ln_d * td]);
            let (g_c, g_gam) = g[5..].split_at_mut(k);
            let inv_s = bias.eval(&x.h, g_c, g_gam);
            each(i, e + tn + td + inv_s, &g);
        }
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
        eval_one(self, t, x, g)
    }

    fn eval_rows(&self, t: &[f64], data: &[Observation], each: &mut dyn FnMut(usize, f64, &[f64])) {
        let k = self.k;
        let [e, al, be, ga, gb] = [t[0], t[1], t[2], t[3], t[4]].map(f64::exp);
        let mut bias = Bias::new(&t[5..5 + k], &t[5 + k..5 + 2 * k]);
        let ca: Vec<f64> = t[5 + 2 * k..5 + 3 * k].iter().map(|v| v.exp()).collect();
        let cb: Vec<f64> = t[5 + 3 * k..5 + 4 * k].iter().map(|v| v.exp()).collect();
        let mut g = vec![0.0; 5 + 4 * k];
        for (row, x) in data.iter().enumerate() {
            let sa: f64 = ca.iter().zip(&x.h).map(|(c, h)| c * h).sum();
            let sb: f64 = cb.iter().zip(&x.h).map(|(c, h)| c * h).sum();
            let (a_h, b_h) = ((ga * sa.ln()).exp(), (gb * sb.ln()).exp());
            let (ln_n, ln_d) = (x.n.ln(), x.d.ln());
            let (pn, pd) = ((-al * ln_n).exp(), (-be * ln_d).exp());
            let (tn, td) = (a_h * pn, b_h * pd);
            g[..5].copy_from_slice(&[e, -al * ln_n * tn, -be * ln_d * td, ga * sa.ln() * tn, gb * sb.ln() * td]);
            let (g_c, rest) = g[5..].split_at_mut(k);
            let (g_gam, rest) = rest.split_at_mut(k);
            let inv_s = bias.eval(&x.h, g_c, g_gam);
            // d(sa^γA)/d ln CA_i = γA·sa^(γA−1)·CA_i·h_i
            let (fa, fb) = (pn * ga * a_h / sa, pd * gb * b_h / sb);
            for i in 0..k {
                rest[i] = fa * ca[i] * x.h[i];
                rest[k + i] = fb * cb[i] * x.h[i];
            }
            each(row, e + inv_s + tn + td, &g);
        }
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

/// Which data-mixture law a sweep fits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MixtureForm {
    /// Only the bias term depends on the mixture (2k + 5 parameters): a mixture helps or hurts
    /// every size and budget by the same amount.
    Additive,
    /// A_h and B_h depend on the mixture too ([I] form, 4k + 5 parameters): a mixture's effect
    /// may shrink as models grow, as the classroom's code loss shows (a larger model needs a
    /// smaller share of code for the same code loss).
    #[default]
    Joint,
}

impl MixtureForm {
    /// The law over `k` domains.
    pub fn law(self, k: usize) -> Box<dyn MixtureLaw> {
        match self {
            MixtureForm::Additive => Box::new(MixtureAdditive { k }),
            MixtureForm::Joint => Box::new(MixtureJoint { k }),
        }
    }

    /// The law's name, as fits carry it (`mixture-additive`, `mixture-joint`).
    pub fn name(self) -> &'static str {
        match self {
            MixtureForm::Additive => "mixture-additive",
            MixtureForm::Joint => "mixture-joint",
        }
    }
}

/// Fits the mixture law of `form` over `k` domains. The joint law contains the additive one:
/// it starts from an additive fit and hops around that (random joint starts land in worse
/// basins than this warm start).
pub fn fit_mixture(form: MixtureForm, k: usize, data: &[Observation], opts: &FitOptions) -> Result<FitResult> {
    let additive = fit(&MixtureAdditive { k }, data, opts)?;
    match form {
        MixtureForm::Additive => Ok(additive),
        MixtureForm::Joint => {
            let joint = MixtureJoint { k };
            let warm = joint.from_additive(&additive.theta());
            fit_from(&joint, data, &FitOptions { starts: 0, ..opts.clone() }, &[warm])
        }
    }
}
