//! CPU twin of the flash attention kernels (`shaders/attention_sigmoid.wgsl`,
//! `shaders/attention_softmax.wgsl`): blocked over keys, O(n) memory, never the n×n matrix.
//!
//! Forward: each task takes one (batch·head, block of query rows); softmax keeps a running
//! max and sum rescaled once per key block, sigmoid needs no normaliser at all. Backward: each
//! task takes one batch·head, recomputes each query row's probabilities (from the forward's
//! LSE for softmax), and accumulates dQ directly and dK, dV in per-head scratch.

use rayon::prelude::*;

use crate::cpu::{SharedOut, kernel};
use crate::error::Result;
use crate::kernels::attention::{AttnKind, AttnLayout, AttnOpts};
use crate::tensor::Tensor;

/// Query rows per forward task.
const QUERY_BLOCK: usize = 16;
/// Keys scored before one softmax rescale.
const KEY_BLOCK: usize = 64;

/// Index arithmetic and constants of one attention problem.
struct Geometry {
    l: AttnLayout,
    scale: f32,
    bias: f32,
    causal: bool,
    alibi: bool,
}

impl Geometry {
    fn new(l: &AttnLayout, o: &AttnOpts) -> Geometry {
        Geometry {
            l: *l,
            scale: 1.0 / (l.d as f32).sqrt(),
            bias: o.bias.unwrap_or(-(l.n as f32).ln()),
            causal: o.causal,
            alibi: o.alibi,
        }
    }

    /// First element of row `t` of Q (0), K (1) or V (2) for head `bh` (also dQ, dK, dV).
    fn qkv(&self, which: usize, bh: usize, t: usize) -> usize {
        let s = &self.l.qkv_strides;
        self.l.qkv_offsets[which] + (bh / self.l.heads) * s[2] + (bh % self.l.heads) * s[1] + t * s[0]
    }

    /// First element of row `t` of O (also dO) for head `bh`.
    fn o(&self, bh: usize, t: usize) -> usize {
        let s = &self.l.o_strides;
        (bh / self.l.heads) * s[2] + (bh % self.l.heads) * s[1] + t * s[0]
    }

    fn slope(&self, bh: usize) -> f32 {
        if self.alibi { (-8.0 * ((bh % self.l.heads) as f32 + 1.0) / self.l.heads as f32).exp2() } else { 0.0 }
    }

    /// Keys query `i` sees.
    fn keys(&self, i: usize) -> usize {
        if self.causal { i + 1 } else { self.l.n }
    }

    /// Logit from the pre-scaled dot product, as in the shaders' `logit`.
    fn logit(&self, dotv: f32, i: usize, j: usize, slope: f32) -> f32 {
        dotv + self.bias - slope * (i as f32 - j as f32).abs()
    }

    /// True when distinct (tensor, batch, head, row, column) index distinct elements of the
    /// QKV buffer, so tasks that own different heads never write the same element.
    fn qkv_disjoint(&self) -> bool {
        let [q, k, v] = self.l.qkv_offsets;
        let mut dims = vec![
            (1, self.l.d),
            (self.l.qkv_strides[0], self.l.n),
            (self.l.qkv_strides[1], self.l.heads),
            (self.l.qkv_strides[2], self.l.batch),
        ];
        if k < q || v < k || k - q != v - k || k == q {
            return false;
        }
        dims.push((k - q, 3));
        strictly_nested(dims)
    }

    /// As `qkv_disjoint`, for the O layout.
    fn o_disjoint(&self) -> bool {
        let s = &self.l.o_strides;
        strictly_nested(vec![(1, self.l.d), (s[0], self.l.n), (s[1], self.l.heads), (s[2], self.l.batch)])
    }
}

/// Sorted by stride, each dimension must step over the whole extent of the ones below it.
fn strictly_nested(mut dims: Vec<(usize, usize)>) -> bool {
    dims.retain(|(_, extent)| *extent > 1);
    dims.sort_unstable();
    dims.windows(2).all(|w| w[1].0 >= w[0].0 * w[0].1)
}

/// Dot product with eight independent accumulators (vectorises without reassociation).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `y += a·x`.
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Runs `f(bh)` for every batch·head, in parallel when heads own disjoint elements.
fn for_heads(g: &Geometry, disjoint: bool, f: impl Fn(usize) + Sync + Send) {
    let bh = g.l.batch * g.l.heads;
    if disjoint { (0..bh).into_par_iter().for_each(f) } else { (0..bh).for_each(f) }
}

/// O = attention(Q, K, V); for softmax also `lse[bh·n + i]` = log-sum-exp of row i's logits.
pub(crate) fn forward(qkv: &Tensor, o: &Tensor, lse: Option<&Tensor>, l: &AttnLayout, opts: &AttnOpts) -> Result<()> {
    let g = Geometry::new(l, opts);
    let run = |qkv: &[f32], out: SharedOut, lse: Option<SharedOut>| {
        let (n, d) = (l.n, l.d);
        let blocks = n.div_ceil(QUERY_BLOCK);
        let task = |t: usize| {
            let (bh, i0) = (t / blocks, (t % blocks) * QUERY_BLOCK);
            let sl = g.slope(bh);
            let mut q = vec![0.0f32; d];
            let mut acc = vec![0.0f32; d];
            let mut scores = [0.0f32; KEY_BLOCK];
            for i in i0..(i0 + QUERY_BLOCK).min(n) {
                let qb = g.qkv(0, bh, i);
                q.iter_mut().zip(&qkv[qb..qb + d]).for_each(|(a, b)| *a = g.scale * b);
                acc.fill(0.0);
                let (mut m, mut sum) = (f32::NEG_INFINITY, 0.0f32);
                let keys = g.keys(i);
                for j0 in (0..keys).step_by(KEY_BLOCK) {
                    let nb = KEY_BLOCK.min(keys - j0);
                    for (jj, s) in scores[..nb].iter_mut().enumerate() {
                        let kb = g.qkv(1, bh, j0 + jj);
                        *s = g.logit(dot(&q, &qkv[kb..kb + d]), i, j0 + jj, sl);
                    }
                    match opts.kind {
                        AttnKind::Sigmoid => {
                            for (jj, s) in scores[..nb].iter().enumerate() {
                                let vb = g.qkv(2, bh, j0 + jj);
                                axpy(&mut acc, sigmoid(*s), &qkv[vb..vb + d]);
                            }
                        }
                        AttnKind::Softmax => {
                            let bm = scores[..nb].iter().fold(m, |a, b| a.max(*b));
                            let rescale = (m - bm).exp();
                            acc.iter_mut().for_each(|a| *a *= rescale);
                            sum *= rescale;
                            m = bm;
                            for (jj, s) in scores[..nb].iter().enumerate() {
                                let p = (s - m).exp();
                                sum += p;
                                let vb = g.qkv(2, bh, j0 + jj);
                                axpy(&mut acc, p, &qkv[vb..vb + d]);
                            }
                        }
                    }
                }
                let inv = if opts.kind == AttnKind::Softmax { 1.0 / sum } else { 1.0 };
                let ob = g.o(bh, i);
                for (c, a) in acc.iter().enumerate() {
                    // SAFETY: row (bh, i) of O belongs to this task alone (disjoint layout
                    // checked, or tasks run sequentially).
                    unsafe { out.set(ob + c, a * inv) };
                }
                if let Some(lse) = lse {
                    // SAFETY: as above, for element bh·n + i of the LSE.
                    unsafe { lse.set(bh * n + i, m + sum.ln()) };
                }
            }
        };
        let tasks = l.batch * l.heads * blocks;
        if g.o_disjoint() { (0..tasks).into_par_iter().for_each(task) } else { (0..tasks).for_each(task) }
    };
    match lse {
        Some(lse) => kernel("attention_forward", [qkv], [o, lse], |[qkv], [o, lse]| {
            run(qkv, SharedOut::new(o), Some(SharedOut::new(lse)))
        }),
        None => kernel("attention_forward", [qkv], [o], |[qkv], [o]| run(qkv, SharedOut::new(o), None)),
    }
}

/// dQ, dK, dV of `forward` into the same layout inside `dqkv`; softmax also writes
/// `delta[bh·n + i] = rowsum(dO ⊙ O)` (as the GPU's preparation kernel does).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    qkv: &Tensor,
    o: &Tensor,
    dout: &Tensor,
    dqkv: &Tensor,
    stats: Option<(&Tensor, &Tensor)>,
    l: &AttnLayout,
    opts: &AttnOpts,
) -> Result<()> {
    let g = Geometry::new(l, opts);
    let disjoint = g.qkv_disjoint();
    let (n, d) = (l.n, l.d);
    let run = |qkv: &[f32], o: &[f32], dout: &[f32], dqkv: SharedOut, lse: &[f32], delta: Option<SharedOut>| {
        for_heads(&g, disjoint, |bh| {
            let sl = g.slope(bh);
            if let Some(delta) = delta {
                for i in 0..n {
                    let ob = g.o(bh, i);
                    // SAFETY: element bh·n + i of delta belongs to this head's task.
                    unsafe { delta.set(bh * n + i, dot(&o[ob..ob + d], &dout[ob..ob + d])) };
                }
            }
            let mut dk = vec![0.0f32; n * d];
            let mut dv = vec![0.0f32; n * d];
            let mut dq = vec![0.0f32; d];
            let mut q = vec![0.0f32; d];
            for i in 0..n {
                let qb = g.qkv(0, bh, i);
                q.iter_mut().zip(&qkv[qb..qb + d]).for_each(|(a, b)| *a = g.scale * b);
                let gb = g.o(bh, i);
                let gi = &dout[gb..gb + d];
                // SAFETY: delta[bh·n + i] was written above by this task.
                let di = delta.map(|dl| unsafe { dl.get(bh * n + i) }).unwrap_or(0.0);
                dq.fill(0.0);
                for j in 0..g.keys(i) {
                    let (kb, vb) = (g.qkv(1, bh, j), g.qkv(2, bh, j));
                    let (kj, vj) = (&qkv[kb..kb + d], &qkv[vb..vb + d]);
                    let s = g.logit(dot(&q, kj), i, j, sl);
                    let dp = dot(gi, vj);
                    let (p, ds) = match opts.kind {
                        AttnKind::Sigmoid => {
                            let p = sigmoid(s);
                            (p, p * (1.0 - p) * dp)
                        }
                        AttnKind::Softmax => {
                            let p = (s - lse[bh * n + i]).exp();
                            (p, p * (dp - di))
                        }
                    };
                    axpy(&mut dv[j * d..(j + 1) * d], p, gi);
                    axpy(&mut dq, ds, kj);
                    axpy(&mut dk[j * d..(j + 1) * d], ds, &q);
                }
                for (c, v) in dq.iter().enumerate() {
                    // SAFETY: dQ row (bh, i) belongs to this head's task (disjoint layout
                    // checked, or heads run sequentially).
                    unsafe { dqkv.set(qb + c, g.scale * v) };
                }
            }
            for j in 0..n {
                let (kb, vb) = (g.qkv(1, bh, j), g.qkv(2, bh, j));
                for c in 0..d {
                    // SAFETY: dK and dV rows of head bh belong to this task, as above.
                    unsafe {
                        dqkv.set(kb + c, dk[j * d + c]);
                        dqkv.set(vb + c, dv[j * d + c]);
                    }
                }
            }
        });
    };
    match stats {
        Some((lse, delta)) => {
            kernel("attention_backward", [qkv, o, dout, lse], [dqkv, delta], |[qkv, o, dout, lse], [dqkv, delta]| {
                run(qkv, o, dout, SharedOut::new(dqkv), lse, Some(SharedOut::new(delta)))
            })
        }
        None => kernel("attention_backward", [qkv, o, dout], [dqkv], |[qkv, o, dout], [dqkv]| {
            run(qkv, o, dout, SharedOut::new(dqkv), &[], None)
        }),
    }
}
