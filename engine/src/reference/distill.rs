//! Reference distillation loss: (1 − λ)·CE + λ·τ²·KL(p_T^τ ‖ q_S^τ), straight from the definitions.

fn softmax(row: &[f64], tau: f64) -> Vec<f64> {
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|v| ((v - m) / tau).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Per-row losses and grad_scale·∂loss/∂student; rows with target ≥ vocab count 0.
pub fn distill_loss(
    student: &[f64],
    teacher: &[f64],
    targets: &[u32],
    vocab: usize,
    temperature: f64,
    lambda: f64,
    grad_scale: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut losses = vec![0.0; targets.len()];
    let mut grad = vec![0.0; student.len()];
    for (r, &t) in targets.iter().enumerate() {
        let t = t as usize;
        if t >= vocab {
            continue;
        }
        let s = &student[r * vocab..(r + 1) * vocab];
        let (p, q, q1) =
            (softmax(&teacher[r * vocab..(r + 1) * vocab], temperature), softmax(s, temperature), softmax(s, 1.0));
        let kl: f64 = p.iter().zip(&q).map(|(p, q)| if *p > 0.0 { p * (p / q).ln() } else { 0.0 }).sum();
        losses[r] = (1.0 - lambda) * -q1[t].ln() + lambda * temperature * temperature * kl;
        for j in 0..vocab {
            let hard = q1[j] - if j == t { 1.0 } else { 0.0 };
            grad[r * vocab + j] = grad_scale * ((1.0 - lambda) * hard + lambda * temperature * (q[j] - p[j]));
        }
    }
    (losses, grad)
}
