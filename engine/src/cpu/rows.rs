//! The CPU kernels' inner loops over one row or chunk, each compiled twice — for the
//! baseline instruction set and for AVX2+FMA (NEON on ARM) — and picked at run time by
//! `multiversion`, so a portable binary still runs 8-wide where the CPU allows.
//!
//! Reductions keep eight independent partial sums: the compiler may not reorder a plain
//! float sum, but it vectorises eight lanes it was given.

use multiversion::multiversion;

use crate::cpu::math::{exp, exp_m1, gelu, gelu_grad, sigmoid};
use crate::ops::optim::AdamWStep;

const LANES: usize = 8;

#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    for c in chunks {
        for l in 0..LANES {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    acc.iter().fold(tail, |a, b| a.max(*b))
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn sum_exp(x: &[f32], m: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| exp(v - m)).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += exp(c[l] - m);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Cross-entropy of one row: returns lse − logit[t]; with `grad`, writes scale·(softmax − onehot).
/// A target out of range (the ignore index) gives 0 and a zero gradient. As in
/// cross_entropy.wgsl, the target's term is kept apart (rest = Σ_{j≠t} e_j), so a confident
/// row's small loss (log_1p) and 1 − p_t = rest/s keep their relative precision.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn cross_entropy(logits: &[f32], target: u32, scale: f32, grad: Option<&mut [f32]>) -> f32 {
    let t = target as usize;
    if t >= logits.len() {
        if let Some(g) = grad {
            g.fill(0.0);
        }
        return 0.0;
    }
    let m = max(logits);
    let d_t = logits[t] - m;
    let e_t = exp(d_t);
    let rest = match grad {
        Some(g) => {
            for (g, v) in g.iter_mut().zip(logits) {
                *g = exp(v - m);
            }
            g[t] = 0.0;
            let rest = sum(g);
            let k = scale / (e_t + rest);
            g.iter_mut().for_each(|v| *v *= k);
            g[t] = -rest * k;
            rest
        }
        None => sum_exp(&logits[..t], m) + sum_exp(&logits[t + 1..], m),
    };
    ((e_t - 1.0) + rest).ln_1p() - d_t
}

/// Σ e^(x·k − m) in eight lanes.
#[inline(always)]
fn sum_exp_scaled(x: &[f32], k: f32, m: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| exp(v * k - m)).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += exp(c[l] * k - m);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Σ e·(e^((t − s)·k) − 1) in eight lanes, e holding e^(s·k − m): distill.wgsl's Σ q·(e^u − 1),
/// unnormalised.
#[inline(always)]
fn sum_shift(e: &[f32], s: &[f32], t: &[f32], k: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ce, cs, ct) = (e.chunks_exact(LANES), s.chunks_exact(LANES), t.chunks_exact(LANES));
    let tail: f32 = ce
        .remainder()
        .iter()
        .zip(cs.remainder().iter().zip(ct.remainder()))
        .map(|(e, (v, t))| e * exp_m1((t - v) * k))
        .sum();
    for (e, (a, b)) in ce.zip(cs.zip(ct)) {
        for l in 0..LANES {
            acc[l] += e[l] * exp_m1((b[l] - a[l]) * k);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// max |t − s|·k in eight lanes.
#[inline(always)]
fn max_abs_diff(s: &[f32], t: &[f32], k: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (cs, ct) = (s.chunks_exact(LANES), t.chunks_exact(LANES));
    let tail = cs.remainder().iter().zip(ct.remainder()).fold(0.0f32, |m, (v, t)| m.max(((t - v) * k).abs()));
    for (a, b) in cs.zip(ct) {
        for l in 0..LANES {
            let d = ((b[l] - a[l]) * k).abs();
            acc[l] = if d > acc[l] { d } else { acc[l] };
        }
    }
    acc.iter().fold(tail, |a, b| a.max(*b))
}

/// What one logit of a distillation row needs besides itself and its teacher's.
#[derive(Clone, Copy)]
struct DistillRow {
    inv: f32,
    ma: f32,
    ms: f32,
    c: f32,
    inv_sa: f32,
    inv_sb: f32,
    k_soft: f32,
    /// (1 − λ)·scale / (e_t + rest): the hard part's softmax factor.
    k_hard: f32,
    scale: f32,
}

/// (KL term q·φ(w), gradient) of student logit `v` (with `eb` = e^(v/τ − mb)) against teacher
/// logit `t`, the hard part as for a non-target symbol; both forms computed and one kept, so
/// loops over it vectorise.
#[inline(always)]
fn distill_elem(r: &DistillRow, v: f32, eb: f32, t: f32) -> (f32, f32) {
    let q = eb * r.inv_sb;
    let p = exp(t * r.inv - r.ma) * r.inv_sa;
    let w = (t - v) * r.inv - r.c;
    let small = w.abs() < 0.25;
    let term = if small { q * phi(w) } else { p * (w - 1.0) + q };
    let q_minus_p = if small { -q * exp_m1(w) } else { q - p };
    (term, r.scale * r.k_soft * q_minus_p + r.k_hard * exp(v - r.ms))
}

/// One row of distill.wgsl: (1 − λ)·CE(s, target) + λ·τ²·KL(softmax(t/τ) ‖ softmax(s/τ)) with its
/// gradient, grad_scale times, in `g`; KL summed term by term as q·φ(ln p/q) ≥ 0 the way the
/// shader does, so a student that nearly matches its teacher keeps its small loss's precision.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn distill(s: &[f32], t: &[f32], target: usize, tau: f32, lambda: f32, scale: f32, g: &mut [f32]) -> f32 {
    let inv = 1.0 / tau;
    let (ma, mb, ms) = (max(t) * inv, max(s) * inv, max(s));
    let near = max_abs_diff(s, t, inv) < 64.0;
    // g holds e^(s/τ − mb) until the last pass overwrites it with the gradient.
    for (g, v) in g.iter_mut().zip(s) {
        *g = exp(v * inv - mb);
    }
    let (sa, sb) = (sum_exp_scaled(t, inv, ma), sum(g));
    let hard = lambda < 1.0;
    let rest = if hard { sum_exp(&s[..target], ms) + sum_exp(&s[target + 1..], ms) } else { 0.0 };
    let y = if near { sum_shift(g, s, t, inv) / sb } else { 0.0 };
    let c = if near && y.abs() < 0.5 { y.ln_1p() } else { (ma - mb) + sa.ln() - sb.ln() };
    let d_t = s[target] - ms;
    let inv_hard = 1.0 / (exp(d_t) + rest);
    let k_hard = if hard { (1.0 - lambda) * scale * inv_hard } else { 0.0 };
    let r = DistillRow { inv, ma, ms, c, inv_sa: 1.0 / sa, inv_sb: 1.0 / sb, k_soft: lambda * tau, k_hard, scale };
    let mut acc = [0.0f32; LANES];
    let mut tail = 0.0;
    {
        let (mut cg, cs, ct) = (g.chunks_exact_mut(LANES), s.chunks_exact(LANES), t.chunks_exact(LANES));
        let (rs, rt) = (cs.remainder(), ct.remainder());
        for ((g, a), b) in (&mut cg).zip(cs).zip(ct) {
            for l in 0..LANES {
                let (term, grad) = distill_elem(&r, a[l], g[l], b[l]);
                acc[l] += term;
                g[l] = grad;
            }
        }
        for ((g, v), t) in cg.into_remainder().iter_mut().zip(rs).zip(rt) {
            let (term, grad) = distill_elem(&r, *v, *g, *t);
            tail += term;
            *g = grad;
        }
    }
    if hard {
        // The target's own hard term is p_t − 1 = −rest / (e_t + rest), not e_t / (…).
        let eb = exp(s[target] * inv - mb);
        let soft = distill_elem(&DistillRow { k_hard: 0.0, ..r }, s[target], eb, t[target]).1;
        g[target] = soft - (1.0 - lambda) * scale * rest * inv_hard;
    }
    let kl = acc.iter().sum::<f32>() + tail;
    let mut loss = lambda * tau * tau * kl.max(0.0);
    if hard {
        loss += (1.0 - lambda) * (((exp(d_t) - 1.0) + rest).ln_1p() - d_t);
    }
    loss
}

/// φ(w) = e^w·(w − 1) + 1 by its series, for |w| < 1/4 (distill.wgsl's `phi`).
#[inline(always)]
fn phi(w: f32) -> f32 {
    w * w * (1.0 / 2.0 + w * (1.0 / 3.0 + w * (1.0 / 8.0 + w * (1.0 / 30.0 + w * (1.0 / 144.0 + w / 840.0)))))
}

/// Softmax entropy of one row of logits z: writes e_j = exp(z_j − max) into `e` and returns
/// (H, max, Σe, T) with T = Σ e_j (z_j − max) ≤ 0 and H = ln Σe − T/Σe, ln Σe taken as log_1p of
/// Σe − 1 summed without the maximum's 1 (entropy.wgsl's form: a confident row's small H keeps
/// its relative precision).
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn entropy(z: &[f32], e: &mut [f32]) -> (f32, f32, f32, f32) {
    let m = max(z);
    let (mut acc_low, mut acc_top, mut acc_t) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
    let mut out = e.chunks_exact_mut(LANES);
    for (c, o) in z.chunks_exact(LANES).zip(&mut out) {
        for l in 0..LANES {
            let d = c[l] - m;
            o[l] = exp(d);
            let top = d >= 0.0;
            acc_low[l] += if top { 0.0 } else { o[l] };
            acc_top[l] += if top { 1.0 } else { 0.0 };
            acc_t[l] += o[l] * d;
        }
    }
    let (mut low, mut top, mut t) = (0.0, 0.0, 0.0);
    for (v, o) in z.chunks_exact(LANES).remainder().iter().zip(out.into_remainder()) {
        let d = v - m;
        *o = exp(d);
        if d >= 0.0 {
            top += 1.0;
        } else {
            low += *o;
        }
        t += *o * d;
    }
    let low = acc_low.iter().sum::<f32>() + low;
    let top = acc_top.iter().sum::<f32>() + top;
    let t = acc_t.iter().sum::<f32>() + t;
    let s = low + top;
    ((low + (top - 1.0)).ln_1p() - t / s, m, s, t)
}

/// Normalises one row: y = (x − μ)·rstd·γ (+ β); returns (μ, rstd) (μ = 0 without `beta`,
/// i.e. RMSNorm).
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn norm_forward(x: &[f32], gamma: &[f32], beta: Option<&[f32]>, eps: f32, y: &mut [f32]) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = if beta.is_some() { sum(x) / n } else { 0.0 };
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += (c[l] - mean) * (c[l] - mean);
        }
    }
    let var = (acc.iter().sum::<f32>() + tail) / n;
    let rstd = 1.0 / (var + eps).sqrt();
    match beta {
        Some(b) => {
            for (((y, x), g), b) in y.iter_mut().zip(x).zip(gamma).zip(b) {
                *y = (x - mean) * rstd * g + b;
            }
        }
        None => {
            for ((y, x), g) in y.iter_mut().zip(x).zip(gamma) {
                *y = (x - mean) * rstd * g;
            }
        }
    }
    (mean, rstd)
}

/// Input gradient of one normalised row: dx (+)= rstd·(g − mean(g) − x̂·mean(g·x̂)), g = γ·dy
/// (mean(g) dropped for RMSNorm).
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn norm_backward(
    x: &[f32],
    gamma: &[f32],
    dy: &[f32],
    mean: f32,
    rstd: f32,
    rms: bool,
    accumulate: bool,
    dx: &mut [f32],
) {
    let n = x.len() as f32;
    let (mut sg, mut sgx) = ([0.0f32; LANES], [0.0f32; LANES]);
    let (cx, cg, cd) = (x.chunks_exact(LANES), gamma.chunks_exact(LANES), dy.chunks_exact(LANES));
    let (mut tg, mut tgx) = (0.0f32, 0.0f32);
    for ((x, g), d) in cx.remainder().iter().zip(cg.remainder()).zip(cd.remainder()) {
        tg += g * d;
        tgx += g * d * (x - mean) * rstd;
    }
    for ((x, g), d) in cx.zip(cg).zip(cd) {
        for l in 0..LANES {
            let gd = g[l] * d[l];
            sg[l] += gd;
            sgx[l] += gd * (x[l] - mean) * rstd;
        }
    }
    let mg = if rms { 0.0 } else { (sg.iter().sum::<f32>() + tg) / n };
    let mgx = (sgx.iter().sum::<f32>() + tgx) / n;
    for (((o, x), g), d) in dx.iter_mut().zip(x).zip(gamma).zip(dy) {
        let v = rstd * (g * d - mg - (x - mean) * rstd * mgx);
        *o = if accumulate { *o + v } else { v };
    }
}

/// Attention probabilities of query row `i` from its pre-scaled dot products, in place: bias
/// and ALiBi added, keys after `visible` zeroed; sigmoid, or softmax normalised by `lse` when
/// given (backward) or by the row's own sum, whose log is returned (forward).
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention_probabilities(
    row: &mut [f32],
    i: usize,
    visible: usize,
    bias: f32,
    slope: f32,
    sigmoid_kind: bool,
    lse: Option<f32>,
) -> f32 {
    let fi = i as f32;
    for (j, s) in row[..visible].iter_mut().enumerate() {
        *s += bias - slope * (fi - j as f32).abs();
    }
    row[visible..].iter_mut().for_each(|p| *p = 0.0);
    let row = &mut row[..visible];
    if sigmoid_kind {
        row.iter_mut().for_each(|s| *s = sigmoid(*s));
        return 0.0;
    }
    if let Some(lse) = lse {
        row.iter_mut().for_each(|s| *s = exp(*s - lse));
        return lse;
    }
    let m = max(row);
    row.iter_mut().for_each(|s| *s = exp(*s - m));
    let total = sum(row);
    let inv = 1.0 / total;
    row.iter_mut().for_each(|p| *p *= inv);
    m + total.ln()
}

/// `y[..visible] = softmax(scale·x[..visible])`, the rest of `y` zero.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn softmax(x: &[f32], scale: f32, visible: usize, y: &mut [f32]) {
    let (xv, (yv, rest)) = (&x[..visible], y.split_at_mut(visible));
    for (y, x) in yv.iter_mut().zip(xv) {
        *y = scale * x;
    }
    let m = max(yv);
    yv.iter_mut().for_each(|v| *v = exp(*v - m));
    let inv = 1.0 / sum(yv);
    yv.iter_mut().for_each(|v| *v *= inv);
    rest.fill(0.0);
}

/// `dx = scale · y ⊙ (dy − Σ y ⊙ dy)` over one row.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn softmax_backward(y: &[f32], dy: &[f32], scale: f32, dx: &mut [f32]) {
    let d = dot(y, dy);
    for ((o, y), g) in dx.iter_mut().zip(y).zip(dy) {
        *o = scale * y * (g - d);
    }
}

/// `pre = x + b`, `out = gelu(pre)` over one row.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn bias_gelu(x: &[f32], b: &[f32], out: &mut [f32], pre: &mut [f32]) {
    for (((o, p), x), b) in out.iter_mut().zip(pre.iter_mut()).zip(x).zip(b) {
        *p = x + b;
        *o = gelu(*p);
    }
}

/// `dpre = dout · gelu'(pre)` over a chunk.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn gelu_backward(pre: &[f32], dout: &[f32], dpre: &mut [f32]) {
    for ((d, p), g) in dpre.iter_mut().zip(pre).zip(dout) {
        *d = g * gelu_grad(*p);
    }
}

/// Σ dO·O of one attention row (the softmax backward's D).
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn row_dot(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
}

/// Σ (a·sa − b·sb)²: BYOL's ‖q̂ − t̂‖² summed as squared differences (byol.wgsl's form: a
/// well-aligned pair's small loss keeps its relative precision).
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn squared_distance(a: &[f32], sa: f32, b: &[f32], sb: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| (x * sa - y * sb).powi(2)).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            let e = x[l] * sa - y[l] * sb;
            acc[l] += e * e;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// g += (t·st − q·sq) + h·q·sq: one partner's share of BYOL's prediction gradient, the
/// difference taken per element before anything is summed.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn add_partner_gradient(q: &[f32], sq: f32, t: &[f32], st: f32, h: f32, g: &mut [f32]) {
    for ((g, q), t) in g.iter_mut().zip(q).zip(t) {
        let qh = q * sq;
        *g += (t * st - qh) + h * qh;
    }
}

/// Sum of squares of a chunk, in f64 lanes for the gradient norm.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn sum_squares(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 4];
    let chunks = x.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().map(|v| (*v as f64) * (*v as f64)).sum();
    for c in chunks {
        for l in 0..4 {
            acc[l] += (c[l] as f64) * (c[l] as f64);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// One AdamW chunk starting at element `base`; `scale` is the clipping factor.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn adamw(
    base: usize,
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grad: &[f32],
    scale: f32,
    s: &AdamWStep,
    bc1: f32,
    bc2: f32,
) {
    let decay_end = s.n_decay.saturating_sub(base).min(p.len());
    let step = |p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], wd: f32| {
        for i in 0..p.len() {
            let gi = g[i] * scale;
            let mi = s.beta1 * m[i] + (1.0 - s.beta1) * gi;
            let vi = s.beta2 * v[i] + (1.0 - s.beta2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] -= s.lr * ((mi / bc1) / ((vi / bc2).sqrt() + s.eps) + wd * p[i]);
        }
    };
    let (pd, pr) = p.split_at_mut(decay_end);
    let (md, mr) = m.split_at_mut(decay_end);
    let (vd, vr) = v.split_at_mut(decay_end);
    step(pd, md, vd, &grad[..decay_end], s.weight_decay);
    step(pr, mr, vr, &grad[decay_end..], 0.0);
}

/// log Σ eˣ over `x` outside `x[skip]` (a contrastive row without its own sample's views);
/// −∞ when nothing is left.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn log_sum_exp_outside(x: &[f32], skip: std::ops::Range<usize>) -> f32 {
    let (head, rest) = x.split_at(skip.start.min(x.len()));
    let tail = &rest[skip.len().min(rest.len())..];
    let m = max(head).max(max(tail));
    if m == f32::NEG_INFINITY {
        return m;
    }
    let mut acc = [0.0f32; LANES];
    for part in [head, tail] {
        let chunks = part.chunks_exact(LANES);
        for (l, v) in chunks.remainder().iter().enumerate() {
            acc[l] += exp(v - m);
        }
        for c in chunks {
            for l in 0..LANES {
                acc[l] += exp(c[l] - m);
            }
        }
    }
    m + acc.iter().sum::<f32>().ln()
}

/// e^{s − shift} for every s of `x`, in place, with `x[skip]` (a contrastive row's own
/// sample) set to 0; returns the sum.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn exp_shifted_outside(x: &mut [f32], shift: f32, skip: std::ops::Range<usize>) -> f32 {
    for v in x.iter_mut() {
        *v = exp(*v - shift);
    }
    let end = skip.end.min(x.len());
    x[skip.start.min(end)..end].fill(0.0);
    sum(x)
}

/// `acc += x`, element by element.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn add_assign(acc: &mut [f32], x: &[f32]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a += *v;
    }
}

/// The symmetric contrastive gradient of a row of similarities under one shared shift:
/// `e^{s − shift}·(w_r + w_c)` with w = a·e^{shift − lse} per row, one exponential per pair.
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn contrastive_grad_shared(s: &mut [f32], w: &[f32], w_r: f32, shift: f32) {
    for (v, wc) in s.iter_mut().zip(w) {
        *v = exp(*v - shift) * (w_r + wc);
    }
}

/// Turns a row of similarities s_rc into the contrastive gradient of its negatives,
/// `a_r·e^{s − lse_r} + a_c·e^{s − lse_c}` (row r's and column c's softmax terms).
#[multiversion(targets("x86_64+avx2+fma", "aarch64+neon"))]
pub(crate) fn contrastive_grad(s: &mut [f32], lse: &[f32], a: &[f32], a_r: f32, lse_r: f32) {
    for ((v, l), ac) in s.iter_mut().zip(lse).zip(a) {
        *v = a_r * exp(*v - lse_r) + ac * exp(*v - l);
    }
}
