//! The reference backward passes against central finite differences of their forwards.

use super::*;
use crate::rng::Rng;

const H: f64 = 1e-6;

fn randn(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

/// ∂/∂x_i of f by central differences, for every i.
fn numeric_grad(x: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    let mut xp = x.to_vec();
    for i in 0..x.len() {
        xp[i] = x[i] + H;
        let up = f(&xp);
        xp[i] = x[i] - H;
        let down = f(&xp);
        xp[i] = x[i];
        g[i] = (up - down) / (2.0 * H);
    }
    g
}

fn close(analytic: &[f64], numeric: &[f64]) {
    let num: f64 = analytic.iter().zip(numeric).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    let den: f64 = numeric.iter().map(|b| b * b).sum::<f64>().sqrt().max(1e-12);
    assert!(num / den < 1e-6, "analytic vs numeric gradient: rel. error {:.3e}", num / den);
}

/// Σ w ⊙ y: a random linear functional makes every output matter.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn gelu_gradient() {
    let mut rng = Rng::new(1);
    let x = randn(&mut rng, 50);
    let w = randn(&mut rng, 50);
    let analytic: Vec<f64> = x.iter().zip(&w).map(|(v, wi)| wi * elementwise::gelu_grad(*v)).collect();
    close(&analytic, &numeric_grad(&x, |x| dot(&x.iter().map(|v| elementwise::gelu(*v)).collect::<Vec<_>>(), &w)));
}

#[test]
fn softmax_gradient_full_and_causal() {
    let mut rng = Rng::new(2);
    for causal in [false, true] {
        let (q, cols) = (5, 7);
        let x = randn(&mut rng, 2 * q * cols);
        let w = randn(&mut rng, x.len());
        let y = softmax::softmax_forward(&x, cols, 0.7, causal, q);
        let analytic = softmax::softmax_backward(&y, &w, cols, 0.7);
        close(&analytic, &numeric_grad(&x, |x| dot(&softmax::softmax_forward(x, cols, 0.7, causal, q), &w)));
    }
}

#[test]
fn norm_gradients_input_gamma_beta() {
    let mut rng = Rng::new(3);
    for rms in [false, true] {
        let (rows, cols) = (3, 9);
        let (x, g, b, w) =
            (randn(&mut rng, rows * cols), randn(&mut rng, cols), randn(&mut rng, cols), randn(&mut rng, rows * cols));
        let (_, stats) = norm::norm_forward(&x, &g, &b, rms, 1e-5);
        let (dx, dg, db) = norm::norm_backward(&x, &g, &stats, &w, rms);
        close(&dx, &numeric_grad(&x, |x| dot(&norm::norm_forward(x, &g, &b, rms, 1e-5).0, &w)));
        close(&dg, &numeric_grad(&g, |g| dot(&norm::norm_forward(&x, g, &b, rms, 1e-5).0, &w)));
        if !rms {
            close(&db, &numeric_grad(&b, |b| dot(&norm::norm_forward(&x, &g, b, rms, 1e-5).0, &w)));
        }
    }
}

#[test]
fn cross_entropy_gradient() {
    let mut rng = Rng::new(4);
    let (rows, vocab) = (4, 6);
    let logits = randn(&mut rng, rows * vocab);
    let targets = [1u32, 5, u32::MAX, 0];
    let (_, grad) = cross_entropy::cross_entropy(&logits, &targets, vocab, 0.25);
    close(
        &grad,
        &numeric_grad(&logits, |l| cross_entropy::cross_entropy(l, &targets, vocab, 0.25).0.iter().sum::<f64>() * 0.25),
    );
}

#[test]
fn distillation_gradient_and_limits() {
    let mut rng = Rng::new(24);
    let (rows, vocab) = (4, 7);
    let student = randn(&mut rng, rows * vocab);
    let teacher: Vec<f64> = randn(&mut rng, rows * vocab).iter().map(|v| 2.0 * v).collect();
    let targets = [3u32, 0, u32::MAX, 6];
    for (tau, lambda) in [(1.0, 1.0), (2.0, 0.5), (0.5, 0.0), (3.0, 0.9)] {
        let f = |s: &[f64]| distill::distill_loss(s, &teacher, &targets, vocab, tau, lambda, 0.25);
        close(&f(&student).1, &numeric_grad(&student, |s| f(s).0.iter().sum::<f64>() * 0.25));
    }
    // λ = 0 is the cross-entropy; a student equal to its teacher has no distillation loss.
    let (kd0, _) = distill::distill_loss(&student, &teacher, &targets, vocab, 2.0, 0.0, 1.0);
    close(&kd0, &cross_entropy::cross_entropy(&student, &targets, vocab, 1.0).0);
    let (same, g) = distill::distill_loss(&teacher, &teacher, &targets, vocab, 1.7, 1.0, 1.0);
    assert!(same.iter().chain(&g).all(|v| v.abs() < 1e-12), "{same:?}");
}

#[test]
fn entropy_objectives_gradients_and_robust_limits() {
    use crate::ops::entropy::TtaObjective;
    let mut rng = Rng::new(14);
    let (rows, classes) = (5, 7);
    let logits: Vec<f64> = randn(&mut rng, rows * classes).iter().map(|v| 2.0 * v).collect();
    let realm = |alpha| TtaObjective::Realm { alpha, scale: 0.6 };
    // The filter's threshold lies between rows' entropies, so no row sits on its step.
    let mut hs: Vec<f64> = logits.chunks(classes).map(entropy::entropy).collect();
    hs.sort_by(f64::total_cmp);
    let threshold = (0.5 * (hs[2] + hs[3])) as f32;
    for o in [
        TtaObjective::Tent,
        TtaObjective::Filter { threshold },
        realm(2.0),
        realm(0.0),
        realm(f32::NEG_INFINITY),
        realm(-2.0),
        realm(1.0),
    ] {
        let (_, grad) = entropy::entropy_loss(&logits, classes, o, 0.2);
        let loss = |l: &[f64]| entropy::entropy_loss(l, classes, o, 0.2).0.iter().step_by(2).sum::<f64>() * 0.2;
        close(&grad, &numeric_grad(&logits, loss));
    }
    // The general form tends to its limits, which are what the kernels special-case.
    for x in [0.1, 0.7, 2.5] {
        let near = |a: f64, b: f64| {
            let (p, q) = (entropy::barron(x, a, 0.6), entropy::barron(x, b, 0.6));
            let off = |u: f64, v: f64| (u - v).abs() / v.abs().max(1.0);
            assert!(off(p.0, q.0) < 1e-3 && off(p.1, q.1) < 1e-3, "α {a} vs {b} at {x}: {p:?} {q:?}");
        };
        near(1.9999, 2.0);
        near(1e-6, 0.0);
        near(-1e6, f64::NEG_INFINITY);
    }
}

#[test]
fn embedding_gradient() {
    let mut rng = Rng::new(5);
    let (vocab, dim) = (5, 3);
    let ids = [0u32, 3, 3, 4, 1, 3];
    let table = randn(&mut rng, vocab * dim);
    let w = randn(&mut rng, ids.len() * dim);
    let analytic = embedding::embedding_backward(&ids, &w, vocab, dim);
    close(&analytic, &numeric_grad(&table, |t| dot(&embedding::embedding_forward(&ids, t, dim), &w)));
}

#[test]
fn matmul_gradients() {
    let mut rng = Rng::new(6);
    let (m, n, k) = (3, 4, 5);
    let (a, b, w) = (randn(&mut rng, m * k), randn(&mut rng, k * n), randn(&mut rng, m * n));
    let f = |a: &[f64], b: &[f64]| {
        let mut c = vec![0.0; m * n];
        matmul::matmul(a, b, &mut c, m, n, k, false, false, 1.0, false);
        dot(&c, &w)
    };
    // dA = W·Bᵀ, dB = Aᵀ·W: the products the Linear backward records.
    let mut da = vec![0.0; m * k];
    matmul::matmul(&w, &b, &mut da, m, k, n, false, true, 1.0, false);
    let mut dbm = vec![0.0; k * n];
    matmul::matmul(&a, &w, &mut dbm, k, n, m, true, false, 1.0, false);
    close(&da, &numeric_grad(&a, |a| f(a, &b)));
    close(&dbm, &numeric_grad(&b, |b| f(&a, b)));
}

#[test]
fn attention_gradients() {
    let mut rng = Rng::new(7);
    let (bh, t, d) = (2, 5, 3);
    let (q, k, v, w) = (
        randn(&mut rng, bh * t * d),
        randn(&mut rng, bh * t * d),
        randn(&mut rng, bh * t * d),
        randn(&mut rng, bh * t * d),
    );
    let (_, p) = attention::attention_forward(&q, &k, &v, bh, t, d, true);
    let (dq, dk, dv) = attention::attention_backward(&q, &k, &v, &p, &w, bh, t, d);
    close(&dq, &numeric_grad(&q, |q| dot(&attention::attention_forward(q, &k, &v, bh, t, d, true).0, &w)));
    close(&dk, &numeric_grad(&k, |k| dot(&attention::attention_forward(&q, k, &v, bh, t, d, true).0, &w)));
    close(&dv, &numeric_grad(&v, |v| dot(&attention::attention_forward(&q, &k, v, bh, t, d, true).0, &w)));
}

#[test]
fn adamw_clips_to_the_global_norm() {
    let (mut p, g, mut m, mut v) = (vec![1.0, 1.0], vec![3.0, 4.0], vec![0.0; 2], vec![0.0; 2]);
    let step = crate::ops::optim::AdamWStep {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        clip: 1.0,
        t: 1,
        n_decay: 0,
    };
    let norm = optim::adamw(&mut p, &g, &mut m, &mut v, &step);
    assert!((norm - 5.0).abs() < 1e-12);
    // First step of Adam moves each coordinate by lr·sign(g) regardless of scale.
    assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] - 0.9).abs() < 1e-6);
    assert!((m[0] - 0.1 * 0.6).abs() < 1e-7, "m uses the clipped gradient");
}

#[test]
fn flash_reference_gradients_sigmoid_softmax_alibi() {
    let mut rng = Rng::new(8);
    for (sigmoid, causal, alibi) in
        [(true, true, false), (true, false, true), (false, true, true), (false, false, false)]
    {
        let s = flash::AttnSpec { bh: 2, heads: 2, n: 4, d: 3, causal, alibi, sigmoid, bias: -1.3 };
        let len = s.bh * s.n * s.d;
        let (q, k, v, w) = (randn(&mut rng, len), randn(&mut rng, len), randn(&mut rng, len), randn(&mut rng, len));
        let (_, p) = flash::forward(&s, &q, &k, &v);
        let (dq, dk, dv) = flash::backward(&s, &q, &k, &v, &p, &w);
        close(&dq, &numeric_grad(&q, |q| dot(&flash::forward(&s, q, &k, &v).0, &w)));
        close(&dk, &numeric_grad(&k, |k| dot(&flash::forward(&s, &q, k, &v).0, &w)));
        close(&dv, &numeric_grad(&v, |v| dot(&flash::forward(&s, &q, &k, v).0, &w)));
    }
}

#[test]
fn flash_reference_softmax_matches_the_materialised_attention() {
    let mut rng = Rng::new(9);
    let s = flash::AttnSpec { bh: 3, heads: 3, n: 6, d: 4, causal: true, alibi: false, sigmoid: false, bias: 0.0 };
    let len = s.bh * s.n * s.d;
    let (q, k, v) = (randn(&mut rng, len), randn(&mut rng, len), randn(&mut rng, len));
    let (a, _) = flash::forward(&s, &q, &k, &v);
    let (b, _) = attention::attention_forward(&q, &k, &v, s.bh, s.n, s.d, true);
    close(&a, &b);
}
