//! Reference mixture-of-experts routing and dispatch in f64: gate probabilities, top-K with
//! ties to the lower index, optional renormalisation, the grouping of slots (t·K + k) by
//! expert in slot order with an optional capacity, gather and weighted combine.

/// Marks a dropped slot in `position`.
pub const NONE: u32 = u32::MAX;

/// Everything routing produces.
#[derive(Clone, Debug, PartialEq)]
pub struct Routing {
    /// Gate probabilities (T, E).
    pub probs: Vec<f64>,
    /// Chosen experts (T, K).
    pub experts: Vec<u32>,
    /// Their gates (T, K).
    pub gates: Vec<f64>,
    /// Slots routed to each expert (E).
    pub counts: Vec<u32>,
    /// Row offsets of each expert's group (E + 1), then the number of dropped slots.
    pub offsets: Vec<u32>,
    /// Slot at each grouped row (rows past offsets[E] unused).
    pub order: Vec<u32>,
    /// Grouped row of each slot, or `NONE` when dropped.
    pub position: Vec<u32>,
}

/// Routes `tokens` rows of `logits` (T, E) to `top_k` experts each; `capacity` 0 = dropless.
pub fn route(
    logits: &[f64],
    tokens: usize,
    e: usize,
    top_k: usize,
    sigmoid: bool,
    renorm: bool,
    capacity: usize,
) -> Routing {
    let mut probs = vec![0.0; tokens * e];
    let (mut experts, mut gates) = (vec![0u32; tokens * top_k], vec![0.0; tokens * top_k]);
    for t in 0..tokens {
        let row = &logits[t * e..(t + 1) * e];
        let pr = &mut probs[t * e..(t + 1) * e];
        if sigmoid {
            pr.iter_mut().zip(row).for_each(|(p, l)| *p = 1.0 / (1.0 + (-l).exp()));
        } else {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|l| (l - m).exp()).sum();
            pr.iter_mut().zip(row).for_each(|(p, l)| *p = (l - m).exp() / s);
        }
        let mut taken = vec![false; e];
        for k in 0..top_k {
            let mut best: Option<usize> = None;
            for j in 0..e {
                if !taken[j] && best.is_none_or(|b| pr[j] > pr[b]) {
                    best = Some(j);
                }
            }
            let b = best.unwrap_or(0);
            taken[b] = true;
            experts[t * top_k + k] = b as u32;
            gates[t * top_k + k] = pr[b];
        }
        if renorm {
            let s: f64 = gates[t * top_k..(t + 1) * top_k].iter().sum();
            gates[t * top_k..(t + 1) * top_k].iter_mut().for_each(|g| *g /= s);
        }
    }
    let slots = tokens * top_k;
    let mut counts = vec![0u32; e];
    for &x in &experts {
        counts[x as usize] += 1;
    }
    let kept: Vec<u32> = counts.iter().map(|c| if capacity == 0 { *c } else { (*c).min(capacity as u32) }).collect();
    let mut offsets = vec![0u32; e + 2];
    for j in 0..e {
        offsets[j + 1] = offsets[j] + kept[j];
    }
    offsets[e + 1] = counts.iter().sum::<u32>() - kept.iter().sum::<u32>();
    let (mut order, mut position) = (vec![0u32; slots], vec![NONE; slots]);
    let mut rank = vec![0u32; e];
    for s in 0..slots {
        let j = experts[s] as usize;
        if rank[j] < kept[j] {
            let row = offsets[j] + rank[j];
            order[row as usize] = s as u32;
            position[s] = row;
        }
        rank[j] += 1;
    }
    Routing { probs, experts, gates, counts, offsets, order, position }
}

/// Tokens grouped by expert: row r of the result is x of the token of slot order[r].
pub fn gather(x: &[f64], r: &Routing, top_k: usize, dim: usize) -> Vec<f64> {
    let e = r.counts.len();
    let rows = r.offsets[e] as usize;
    let mut xs = vec![0.0; r.order.len() * dim];
    for row in 0..rows {
        let t = r.order[row] as usize / top_k;
        xs[row * dim..(row + 1) * dim].copy_from_slice(&x[t * dim..(t + 1) * dim]);
    }
    xs
}

/// out[t] = Σ_k gates[t, k] · ys[position[t·K + k]] over kept slots.
pub fn combine(ys: &[f64], r: &Routing, tokens: usize, top_k: usize, dim: usize) -> Vec<f64> {
    let mut out = vec![0.0; tokens * dim];
    for t in 0..tokens {
        for k in 0..top_k {
            let row = r.position[t * top_k + k];
            if row != NONE {
                let g = r.gates[t * top_k + k];
                for c in 0..dim {
                    out[t * dim + c] += g * ys[row as usize * dim + c];
                }
            }
        }
    }
    out
}

/// c[r] (+)= a[r] · op(W_e) (+ bias_e) for every grouped row r of expert e; W_e is (k_in, n),
/// or (n, k_in) used transposed when `trans_w`; `(k_in, n)` are a's and c's widths.
pub fn grouped_matmul(
    a: &[f64],
    w: &[f64],
    bias: Option<&[f64]>,
    c0: &[f64],
    offsets: &[u32],
    (k_in, n): (usize, usize),
    trans_w: bool,
) -> Vec<f64> {
    let mut c = c0.to_vec();
    for e in 0..offsets.len() - 2 {
        for r in offsets[e] as usize..offsets[e + 1] as usize {
            for j in 0..n {
                let mut s = bias.map_or(0.0, |b| b[e * n + j]);
                for k in 0..k_in {
                    let wv = if trans_w { w[(e * n + j) * k_in + k] } else { w[(e * k_in + k) * n + j] };
                    s += a[r * k_in + k] * wv;
                }
                c[r * n + j] += s;
            }
        }
    }
    c
}

/// dw[e] (+)= a_eᵀ · b_e and db[e] (+)= Σ rows of b_e, over each expert's grouped rows.
pub fn grouped_wgrad(a: &[f64], b: &[f64], offsets: &[u32], k_in: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let e_n = offsets.len() - 2;
    let (mut dw, mut db) = (vec![0.0; e_n * k_in * n], vec![0.0; e_n * n]);
    for e in 0..e_n {
        for r in offsets[e] as usize..offsets[e + 1] as usize {
            for j in 0..n {
                db[e * n + j] += b[r * n + j];
                for k in 0..k_in {
                    dw[(e * k_in + k) * n + j] += a[r * k_in + k] * b[r * n + j];
                }
            }
        }
    }
    (dw, db)
}

/// Backward of `combine`: (dys, dgates) with dys rows = gate · dout[t] (kept slots only;
/// other rows 0) and dgates = dout[t] · ys[row] (0 when dropped).
pub fn combine_backward(dout: &[f64], ys: &[f64], r: &Routing, top_k: usize, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let slots = r.position.len();
    let (mut dys, mut dg) = (vec![0.0; slots * dim], vec![0.0; slots]);
    for (s, g) in dg.iter_mut().enumerate() {
        let row = r.position[s];
        if row == NONE {
            continue;
        }
        let (t, row) = (s / top_k, row as usize);
        for c in 0..dim {
            dys[row * dim + c] = r.gates[s] * dout[t * dim + c];
            *g += dout[t * dim + c] * ys[row * dim + c];
        }
    }
    (dys, dg)
}

/// The auxiliary losses (balance, z) at `logits` for a routing `r` (f_e from its counts).
pub fn aux_losses(logits: &[f64], r: &Routing, e: usize, top_k: usize, balance: f64, z: f64) -> (f64, f64) {
    let t = logits.len() / e;
    let slots = (t * top_k) as f64;
    let bal: f64 =
        (0..e).map(|j| r.counts[j] as f64 / slots * (0..t).map(|i| r.probs[i * e + j]).sum::<f64>() / t as f64).sum();
    let zl: f64 = logits
        .chunks(e)
        .map(|row| {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            lse * lse
        })
        .sum::<f64>()
        / t as f64;
    (balance * e as f64 * bal, z * zl)
}

/// dlogits of Σ dgates·gates + the auxiliary losses (f_e held fixed: it is a count).
#[allow(clippy::too_many_arguments)]
pub fn route_backward(
    logits: &[f64],
    r: &Routing,
    dgates: &[f64],
    e: usize,
    top_k: usize,
    sigmoid: bool,
    renorm: bool,
    coefs: (f64, f64),
) -> Vec<f64> {
    let t_n = logits.len() / e;
    let slots = (t_n * top_k) as f64;
    let mut dl = vec![0.0; t_n * e];
    for t in 0..t_n {
        let pr = &r.probs[t * e..(t + 1) * e];
        let ex = &r.experts[t * top_k..(t + 1) * top_k];
        let (g, dg) = (&r.gates[t * top_k..(t + 1) * top_k], &dgates[t * top_k..(t + 1) * top_k]);
        let mut dp: Vec<f64> = (0..e).map(|j| coefs.0 * e as f64 / t_n as f64 * r.counts[j] as f64 / slots).collect();
        let sum_p: f64 = ex.iter().map(|&j| pr[j as usize]).sum();
        let dot: f64 = dg.iter().zip(g).map(|(a, b)| a * b).sum();
        for (k, &j) in ex.iter().enumerate() {
            dp[j as usize] += if renorm { (dg[k] - dot) / sum_p } else { dg[k] };
        }
        let row = &mut dl[t * e..(t + 1) * e];
        if sigmoid {
            for j in 0..e {
                row[j] = dp[j] * pr[j] * (1.0 - pr[j]);
            }
        } else {
            let pdot: f64 = pr.iter().zip(&dp).map(|(a, b)| a * b).sum();
            for j in 0..e {
                row[j] = pr[j] * (dp[j] - pdot);
            }
        }
        let lg = &logits[t * e..(t + 1) * e];
        let m = lg.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = lg.iter().map(|v| (v - m).exp()).sum();
        for j in 0..e {
            row[j] += 2.0 * coefs.1 * (m + s.ln()) / t_n as f64 * (lg[j] - m).exp() / s;
        }
    }
    dl
}

/// The parameters of one MoE block, f64.
pub struct LayerParams<'a> {
    /// Router (E, C).
    pub router: &'a [f64],
    /// Expert first layers (E, C, H).
    pub w1: &'a [f64],
    /// Their biases (E, H).
    pub b1: &'a [f64],
    /// Expert second layers (E, H, C).
    pub w2: &'a [f64],
    /// Their biases (E, C).
    pub b2: &'a [f64],
}

/// The whole block: logits = x·routerᵀ, routing, each token through its K experts' GELU
/// MLPs, outputs combined by the gates. Returns (y, routing, logits).
#[allow(clippy::too_many_arguments)]
pub fn layer_forward(
    x: &[f64],
    p: &LayerParams<'_>,
    tokens: usize,
    dim: usize,
    hidden: usize,
    experts: usize,
    top_k: usize,
    sigmoid: bool,
    renorm: bool,
) -> (Vec<f64>, Routing, Vec<f64>) {
    let mut logits = vec![0.0; tokens * experts];
    crate::reference::matmul::matmul(x, p.router, &mut logits, tokens, experts, dim, false, true, 1.0, false);
    let r = route(&logits, tokens, experts, top_k, sigmoid, renorm, 0);
    let slots = tokens * top_k;
    let xs = gather(x, &r, top_k, dim);
    let h = grouped_matmul(&xs, p.w1, Some(p.b1), &vec![0.0; slots * hidden], &r.offsets, (dim, hidden), false);
    let act: Vec<f64> = h.iter().map(|v| crate::reference::elementwise::gelu(*v)).collect();
    let ys = grouped_matmul(&act, p.w2, Some(p.b2), &vec![0.0; slots * dim], &r.offsets, (hidden, dim), false);
    (combine(&ys, &r, tokens, top_k, dim), r, logits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::matmul::matmul;
    use crate::rng::Rng;

    #[test]
    fn one_expert_holding_every_row_is_a_plain_matmul() {
        let mut rng = Rng::new(2);
        let (rows, k_in, n) = (7, 5, 3);
        let a: Vec<f64> = (0..rows * k_in).map(|_| rng.normal()).collect();
        let w: Vec<f64> = (0..k_in * n).map(|_| rng.normal()).collect();
        let g: Vec<f64> = (0..rows * n).map(|_| rng.normal()).collect();
        let offsets = [0, rows as u32, rows as u32, 0];
        let mut want = vec![0.0; rows * n];
        matmul(&a, &w, &mut want, rows, n, k_in, false, false, 1.0, false);
        assert_eq!(grouped_matmul(&a, &w, None, &vec![0.0; rows * n], &offsets, (k_in, n), false), want);
        let mut dx = vec![0.0; rows * k_in];
        matmul(&g, &w, &mut dx, rows, k_in, n, false, true, 1.0, false);
        assert_eq!(grouped_matmul(&g, &w, None, &vec![0.0; rows * k_in], &offsets, (n, k_in), true), dx);
        let mut dw = vec![0.0; k_in * n];
        matmul(&a, &g, &mut dw, k_in, n, rows, true, false, 1.0, false);
        let (got, db) = grouped_wgrad(&a, &g, &offsets, k_in, n);
        assert!(got.iter().zip(&dw).all(|(x, y)| (x - y).abs() < 1e-12));
        assert!((db[1] - (0..rows).map(|r| g[r * n + 1]).sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn the_route_backward_matches_finite_differences() {
        let mut rng = Rng::new(4);
        let (t, e, k) = (5, 6, 2);
        // Distinct logits, so a small step never changes which experts are chosen.
        let logits: Vec<f64> = (0..t).flat_map(|i| (0..e).map(move |j| 0.4 * ((i * 7 + j * 5) % e) as f64)).collect();
        let logits: Vec<f64> = logits.iter().map(|v| v + 0.01 * rng.normal()).collect();
        let dg: Vec<f64> = (0..t * k).map(|_| rng.normal()).collect();
        for (sigmoid, renorm) in [(false, true), (false, false), (true, true), (true, false)] {
            let base = route(&logits, t, e, k, sigmoid, renorm, 0);
            let objective = |l: &[f64]| {
                let r = route(l, t, e, k, sigmoid, renorm, 0);
                // f_e is a count: hold it at the base routing's.
                let r = Routing { counts: base.counts.clone(), ..r };
                let (b, z) = aux_losses(l, &r, e, k, 0.3, 0.2);
                r.gates.iter().zip(&dg).map(|(g, d)| g * d).sum::<f64>() + b + z
            };
            let analytic = route_backward(&logits, &base, &dg, e, k, sigmoid, renorm, (0.3, 0.2));
            for i in 0..logits.len() {
                let (mut up, mut down) = (logits.clone(), logits.clone());
                up[i] += 1e-6;
                down[i] -= 1e-6;
                let num = (objective(&up) - objective(&down)) / 2e-6;
                assert!(
                    (num - analytic[i]).abs() < 1e-6 * (1.0 + num.abs()),
                    "sigmoid {sigmoid}, renorm {renorm}, [{i}]: {} vs {num}",
                    analytic[i]
                );
            }
        }
    }

    #[test]
    fn grouping_keeps_slot_order_and_drops_past_the_capacity() {
        // Slots route to experts [1, 0, 1, 1, 0, 1] (top-1): expert 1 holds slots 0, 2, 3, 5.
        let logits: Vec<f64> =
            [1, 0, 1, 1, 0, 1].iter().flat_map(|&e| if e == 1 { [0.0, 2.0] } else { [2.0, 0.0] }).collect();
        let r = route(&logits, 6, 2, 1, false, true, 3);
        assert_eq!(r.counts, vec![2, 4]);
        assert_eq!(r.offsets, vec![0, 2, 5, 1]);
        assert_eq!(&r.order[..5], &[1, 4, 0, 2, 3]);
        assert_eq!(r.position, vec![2, 0, 3, 4, 1, NONE]);
        assert!(r.gates.iter().all(|g| (g - 1.0).abs() < 1e-12), "top-1 renormalised gates are 1");
    }
}
