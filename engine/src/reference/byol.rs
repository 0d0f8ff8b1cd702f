//! Reference BYOL loss, written from its definition in f64: the mean over the sample's other
//! views of 2 − 2·cos(q_r, t_β), and its gradient in q by the quotient rule.

/// Per row (rows r = i·views + α): the loss and grad_scale·∂loss/∂q_r.
pub fn byol_loss(q: &[f64], t: &[f64], dim: usize, views: usize, grad_scale: f64) -> (Vec<f64>, Vec<f64>) {
    let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
    let mut losses = Vec::with_capacity(q.len() / dim);
    let mut grad = Vec::with_capacity(q.len());
    for (r, qr) in q.chunks(dim).enumerate() {
        let (first, own) = (r / views * views, r % views);
        let nq = norm(qr);
        let mut loss = 0.0;
        let mut g = vec![0.0; dim];
        for b in (0..views).filter(|b| *b != own) {
            let tb = &t[(first + b) * dim..(first + b + 1) * dim];
            let nt = norm(tb);
            let cos = qr.iter().zip(tb).map(|(a, b)| a * b).sum::<f64>() / (nq * nt);
            loss += 2.0 - 2.0 * cos;
            // ∂cos/∂q = t/(‖q‖‖t‖) − cos·q/‖q‖².
            for ((g, a), b) in g.iter_mut().zip(qr).zip(tb) {
                *g += -2.0 * (b / (nq * nt) - cos * a / (nq * nq));
            }
        }
        let partners = (views - 1) as f64;
        losses.push(loss / partners);
        grad.extend(g.iter().map(|v| grad_scale * v / partners));
    }
    (losses, grad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn the_gradient_matches_finite_differences_and_aligned_rows_cost_nothing() {
        let mut rng = Rng::new(7);
        let (dim, views, samples) = (5, 3, 2);
        let n = dim * views * samples;
        let q: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let t: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let total = |q: &[f64]| byol_loss(q, &t, dim, views, 1.0).0.iter().sum::<f64>();
        let (_, grad) = byol_loss(&q, &t, dim, views, 1.0);
        for i in 0..n {
            let h = 1e-6;
            let (mut up, mut down) = (q.clone(), q.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (total(&up) - total(&down)) / (2.0 * h);
            assert!((fd - grad[i]).abs() < 1e-6, "element {i}: finite difference {fd}, analytic {}", grad[i]);
        }
        // Every view of a sample a positive multiple of one direction: zero loss, zero gradient.
        let dir: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
        let same: Vec<f64> = (0..views).flat_map(|v| dir.iter().map(move |x| x * (v + 1) as f64)).collect();
        let (l, g) = byol_loss(&same, &same, dim, views, 1.0);
        assert!(l.iter().chain(&g).all(|v| v.abs() < 1e-12), "{l:?} {g:?}");
    }
}
