//! Reference softmax cross-entropy.

/// Per-row losses and grad_scale·(softmax − onehot); rows with target ≥ vocab count 0.
pub fn cross_entropy(logits: &[f64], targets: &[u32], vocab: usize, grad_scale: f64) -> (Vec<f64>, Vec<f64>) {
    let mut losses = vec![0.0; targets.len()];
    let mut grad = vec![0.0; logits.len()];
    for (r, &t) in targets.iter().enumerate() {
        let t = t as usize;
        if t >= vocab {
            continue;
        }
        let row = &logits[r * vocab..(r + 1) * vocab];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        losses[r] = s.ln() + m - row[t];
        for j in 0..vocab {
            grad[r * vocab + j] = grad_scale * ((row[j] - m).exp() / s - if j == t { 1.0 } else { 0.0 });
        }
    }
    (losses, grad)
}
