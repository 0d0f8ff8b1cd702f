//! Reference test-time adaptation objectives on the prediction entropy (Tent, SAR's filter,
//! REALM's robust entropy [I]), written from their definitions in f64.

use crate::ops::entropy::TtaObjective;

/// Barron's robust loss ρ(x; α, c) and its derivative in x, with α = 2, 0 and −∞ as limits.
pub fn barron(x: f64, alpha: f64, c: f64) -> (f64, f64) {
    let u = x / c;
    if alpha == 2.0 {
        (0.5 * u * u, x / (c * c))
    } else if alpha == 0.0 {
        ((0.5 * u * u).ln_1p(), x / (c * c) / (0.5 * u * u + 1.0))
    } else if alpha == f64::NEG_INFINITY {
        (-(-0.5 * u * u).exp_m1(), x / (c * c) * (-0.5 * u * u).exp())
    } else {
        let b = (alpha - 2.0).abs();
        let ln_base = (u * u / b).ln_1p();
        (b / alpha * (alpha / 2.0 * ln_base).exp_m1(), x / (c * c) * ((alpha / 2.0 - 1.0) * ln_base).exp())
    }
}

/// (ρ(H), ρ′(H)) of `objective`; REALM's is c·ρ(H; α, c).
pub fn objective(objective: TtaObjective, h: f64) -> (f64, f64) {
    match objective {
        TtaObjective::Tent => (h, 1.0),
        TtaObjective::Filter { threshold } => {
            if h < threshold as f64 {
                (h, 1.0)
            } else {
                (0.0, 0.0)
            }
        }
        TtaObjective::Realm { alpha, scale } => {
            let c = scale as f64;
            let (rho, d) = barron(h, alpha as f64, c);
            (c * rho, c * d)
        }
    }
}

/// Softmax entropy H = −Σ p log p of one row of logits.
pub fn entropy(z: &[f64]) -> f64 {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
    -z.iter().map(|v| (v - m).exp() / s).map(|p| if p > 0.0 { p * p.ln() } else { 0.0 }).sum::<f64>()
}

/// Per row: (ρ(H), H) interleaved, and grad_scale·ρ′(H)·∂H/∂z with ∂H/∂z_j = −p_j(log p_j + H).
pub fn entropy_loss(logits: &[f64], classes: usize, o: TtaObjective, grad_scale: f64) -> (Vec<f64>, Vec<f64>) {
    let mut terms = Vec::with_capacity(2 * logits.len() / classes);
    let mut grad = Vec::with_capacity(logits.len());
    for z in logits.chunks(classes) {
        let h = entropy(z);
        let (rho, weight) = objective(o, h);
        terms.extend([rho, h]);
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
        for v in z {
            let p = (v - m).exp() / s;
            grad.push(grad_scale * weight * -p * (p.ln() + h));
        }
    }
    (terms, grad)
}
