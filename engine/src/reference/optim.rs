//! Reference AdamW with global-norm clipping, and EMA.

use crate::ops::optim::AdamWStep;

/// One AdamW step in place (hyper-parameters as the kernel gets them); returns the gradient
/// norm before clipping.
pub fn adamw(param: &mut [f64], grad: &[f64], m: &mut [f64], v: &mut [f64], s: &AdamWStep) -> f64 {
    let (lr, beta1, beta2, eps) = (s.lr as f64, s.beta1 as f64, s.beta2 as f64, s.eps as f64);
    let (wd, clip, t) = (s.weight_decay as f64, s.clip as f64, s.t as i32);
    let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    let scale = if clip > 0.0 && norm > clip { clip / norm } else { 1.0 };
    let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
    for i in 0..param.len() {
        let g = grad[i] * scale;
        m[i] = beta1 * m[i] + (1.0 - beta1) * g;
        v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
        let d = if i < s.n_decay { wd } else { 0.0 };
        param[i] -= lr * ((m[i] / bc1) / ((v[i] / bc2).sqrt() + eps) + d * param[i]);
    }
    norm
}

/// ema ← rho·ema + (1 − rho)·x.
pub fn ema(x: &[f64], ema: &mut [f64], rho: f64) {
    for (e, v) in ema.iter_mut().zip(x) {
        *e = rho * *e + (1.0 - rho) * v;
    }
}
