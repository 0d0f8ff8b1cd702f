//! f64 oracle for the contrastive losses: the whole similarity matrix, each loss written
//! from its definition term by term (anchor, positive, candidate set), and the gradient by
//! the chain rule over those terms. A different road from the kernels' per-row statistics.

use crate::ops::contrastive::ContrastiveLoss;

fn log_sum_exp(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    m + v.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Whether column c is a candidate of the term (anchor r, positive q) under `loss`.
fn candidate(loss: ContrastiveLoss, views: usize, r: usize, q: usize, c: usize) -> bool {
    match loss {
        ContrastiveLoss::MultiCrop => c != r,
        _ => c == q || c / views != r / views,
    }
}

/// The mean loss and dL/dx over rows x (B·M × d, row r = i·M + α) at temperature `tau`.
pub fn loss_and_grad(
    x: &[f64],
    samples: usize,
    views: usize,
    d: usize,
    tau: f64,
    loss: ContrastiveLoss,
) -> (f64, Vec<f64>) {
    let n = samples * views;
    let norms: Vec<f64> = x.chunks(d).map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12)).collect();
    let z: Vec<f64> = x.chunks(d).zip(&norms).flat_map(|(r, nr)| r.iter().map(move |v| v / nr)).collect();
    let s: Vec<f64> = (0..n * n)
        .map(|e| {
            let (r, c) = (e / n, e % n);
            (0..d).map(|k| z[r * d + k] * z[c * d + k]).sum::<f64>() / tau
        })
        .collect();
    let k = (views - 1) as f64;
    let mut total = 0.0;
    // g[r·n + c] = dL/ds_rc.
    let mut g = vec![0.0; n * n];
    for r in 0..n {
        let first = r / views * views;
        let positives: Vec<usize> = (first..first + views).filter(|&q| q != r).collect();
        // ℓ_q = −s_rq + logsumexp over the candidates, and the softmax over them.
        let terms: Vec<(f64, Vec<f64>)> = positives
            .iter()
            .map(|&q| {
                let cands = (0..n).filter(|&c| candidate(loss, views, r, q, c));
                let lse = log_sum_exp(cands.clone().map(|c| s[r * n + c]));
                let mut dl = vec![0.0; n];
                for c in cands {
                    dl[c] = (s[r * n + c] - lse).exp();
                }
                dl[q] -= 1.0;
                (lse - s[r * n + q], dl)
            })
            .collect();
        // The row's loss and dF/dℓ_q for each positive.
        let (f, weights): (f64, Vec<f64>) = match loss {
            ContrastiveLoss::Arithmetic => {
                let neg_l: Vec<f64> = terms.iter().map(|(l, _)| -l).collect();
                let lse = log_sum_exp(neg_l.iter().copied());
                (-lse + k.ln(), neg_l.iter().map(|v| (v - lse).exp()).collect())
            }
            _ => (terms.iter().map(|(l, _)| l / k).sum(), vec![1.0 / k; terms.len()]),
        };
        total += f;
        for ((_, dl), w) in terms.iter().zip(&weights) {
            for c in 0..n {
                g[r * n + c] += w * dl[c] / n as f64;
            }
        }
    }
    // s_rc = z_r·z_c/τ: dz_r = Σ_c (g_rc + g_cr) z_c / τ; then through z = x/‖x‖.
    let mut dx = vec![0.0; n * d];
    for r in 0..n {
        let mut dz = vec![0.0; d];
        for c in 0..n {
            let w = (g[r * n + c] + g[c * n + r]) / tau;
            for kk in 0..d {
                dz[kk] += w * z[c * d + kk];
            }
        }
        let zr = &z[r * d..(r + 1) * d];
        let zd: f64 = zr.iter().zip(&dz).map(|(a, b)| a * b).sum();
        for kk in 0..d {
            dx[r * d + kk] = (dz[kk] - zr[kk] * zd) / norms[r];
        }
    }
    (total / n as f64, dx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn the_gradient_matches_finite_differences_for_every_loss() {
        let mut rng = Rng::new(5);
        for loss in ContrastiveLoss::ALL {
            let views = if loss == ContrastiveLoss::InfoNce { 2 } else { 3 };
            let (samples, d, tau) = (3, 4, 0.3);
            let x: Vec<f64> = (0..samples * views * d).map(|_| rng.normal()).collect();
            let (_, grad) = loss_and_grad(&x, samples, views, d, tau, loss);
            for i in 0..x.len() {
                let h = 1e-6;
                let (mut up, mut dn) = (x.clone(), x.clone());
                up[i] += h;
                dn[i] -= h;
                let fd = (loss_and_grad(&up, samples, views, d, tau, loss).0
                    - loss_and_grad(&dn, samples, views, d, tau, loss).0)
                    / (2.0 * h);
                assert!((fd - grad[i]).abs() < 1e-7, "{loss:?} x[{i}]: finite difference {fd}, analytic {}", grad[i]);
            }
        }
    }

    #[test]
    fn with_two_views_every_loss_is_infonce() {
        let mut rng = Rng::new(9);
        let x: Vec<f64> = (0..5 * 2 * 6).map(|_| rng.normal()).collect();
        let base = loss_and_grad(&x, 5, 2, 6, 0.2, ContrastiveLoss::InfoNce).0;
        for loss in [ContrastiveLoss::MultiCrop, ContrastiveLoss::Geometric, ContrastiveLoss::Arithmetic] {
            let v = loss_and_grad(&x, 5, 2, 6, 0.2, loss).0;
            assert!((v - base).abs() < 1e-12, "{loss:?}: {v} vs InfoNCE {base}");
        }
    }

    #[test]
    fn geometric_is_never_below_arithmetic() {
        // The arithmetic mean of probabilities is at least their geometric mean (AM ≥ GM),
        // so −log of it is at most the mean of −log: the two objectives differ by that gap.
        let mut rng = Rng::new(11);
        let x: Vec<f64> = (0..4 * 5 * 7).map(|_| rng.normal()).collect();
        let geo = loss_and_grad(&x, 4, 5, 7, 0.2, ContrastiveLoss::Geometric).0;
        let ari = loss_and_grad(&x, 4, 5, 7, 0.2, ContrastiveLoss::Arithmetic).0;
        assert!(geo > ari, "geometric {geo} should exceed arithmetic {ari}");
    }
}
