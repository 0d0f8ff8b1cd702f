//! CPU twin of the flash attention kernels (`shaders/attention_sigmoid.wgsl`,
//! `shaders/attention_softmax.wgsl`): blocked over queries, O(block·n) scratch per task,
//! never the whole n×n matrix.
//!
//! Each block of query rows computes its scores S = s·Q_b·Kᵀ and the products with V as small
//! `gemm` calls that read Q, K, V in place through their strides (the model's fused QKV
//! activation). Forward tasks are (batch·head, query block) pairs; backward tasks are heads,
//! each accumulating dK and dV of its own head block by block.

use rayon::prelude::*;

use crate::cpu::matmul::{Mat, block_product};
use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::ops::attention::{AttnKind, AttnLayout, AttnOpts};
use crate::tensor::Tensor;

/// Query rows per block.
const QUERY_BLOCK: usize = 32;

/// Index arithmetic and constants of one attention problem.
struct Geometry {
    l: AttnLayout,
    scale: f32,
    bias: f32,
    causal: bool,
    alibi: bool,
    kind: AttnKind,
}

impl Geometry {
    fn new(l: &AttnLayout, o: &AttnOpts) -> Geometry {
        Geometry {
            l: *l,
            scale: 1.0 / (l.d as f32).sqrt(),
            bias: o.bias.unwrap_or(-(l.n as f32).ln()),
            causal: o.causal,
            alibi: o.alibi,
            kind: o.kind,
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

    /// Keys any row of the block ending (exclusively) at `i1` can see.
    fn keys(&self, i1: usize) -> usize {
        if self.causal { i1 } else { self.l.n }
    }

    /// Turns row `i`'s pre-scaled dot products into probabilities in place: logit bias and
    /// ALiBi added, masked keys set to 0. Softmax rows are normalised by `lse` when given
    /// (the backward pass) or by their own sum, whose log is returned (the forward pass).
    fn probabilities(&self, row: &mut [f32], i: usize, slope: f32, lse: Option<f32>) -> f32 {
        let visible = if self.causal { (i + 1).min(row.len()) } else { row.len() };
        let sigmoid = self.kind == AttnKind::Sigmoid;
        rows::attention_probabilities(row, i, visible, self.bias, slope, sigmoid, lse)
    }

    /// True when distinct (tensor, batch, head, row, column) index distinct elements of the
    /// QKV buffer, so tasks that own different heads never write the same element.
    fn qkv_disjoint(&self) -> bool {
        let [q, k, v] = self.l.qkv_offsets;
        if k <= q || v <= k || k - q != v - k {
            return false;
        }
        let s = &self.l.qkv_strides;
        strictly_nested(vec![(1, self.l.d), (s[0], self.l.n), (s[1], self.l.heads), (s[2], self.l.batch), (k - q, 3)])
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

/// Pointers into the kernel's slices, shared by tasks that touch disjoint output elements.
#[derive(Clone, Copy)]
struct Raw {
    qkv: *const f32,
    dout: *const f32,
    out: *mut f32,
}

// SAFETY: tasks write disjoint elements of `out` (head or row ownership, checked by
// `qkv_disjoint` / `o_disjoint` before going parallel) and only read the rest.
unsafe impl Send for Raw {}
// SAFETY: as above.
unsafe impl Sync for Raw {}

impl Raw {
    // Accessors rather than fields: a closure then captures the whole (Send + Sync) `Raw`,
    // not its bare pointer fields.
    fn qkv(&self, at: usize) -> *const f32 {
        self.qkv.wrapping_add(at)
    }

    fn dout(&self, at: usize) -> *const f32 {
        self.dout.wrapping_add(at)
    }

    fn out(&self, at: usize) -> *mut f32 {
        self.out.wrapping_add(at)
    }
}

/// O = attention(Q, K, V); for softmax also `lse[bh·n + i]` = log-sum-exp of row i's logits.
pub(crate) fn forward(qkv: &Tensor, o: &Tensor, lse: Option<&Tensor>, l: &AttnLayout, opts: &AttnOpts) -> Result<()> {
    let g = Geometry::new(l, opts);
    let (n, d, st) = (l.n, l.d, l.qkv_strides[0]);
    let blocks = n.div_ceil(QUERY_BLOCK);
    let run = |qkv: &[f32], out: &mut [f32], mut lse: Option<&mut [f32]>| {
        let raw = Raw { qkv: qkv.as_ptr(), dout: std::ptr::null(), out: out.as_mut_ptr() };
        // Each task returns its rows' LSE; they are stored after the parallel part.
        let task = |t: usize| -> (usize, Vec<f32>) {
            let (bh, i0) = (t / blocks, (t % blocks) * QUERY_BLOCK);
            let i1 = (i0 + QUERY_BLOCK).min(n);
            let (rows, keys) = (i1 - i0, g.keys(i1));
            let mut p = vec![0.0f32; rows * keys];
            let sl = g.slope(bh);
            // SAFETY: Q, K and V rows of head bh lie inside qkv (the launcher checked the
            // layout's extent); `p` is this task's own scratch.
            unsafe {
                let q = Mat { ptr: raw.qkv(g.qkv(0, bh, i0)), rs: st, cs: 1 };
                let kt = Mat { ptr: raw.qkv(g.qkv(1, bh, 0)), rs: 1, cs: st };
                block_product(rows, keys, d, p.as_mut_ptr(), keys, false, q, kt, g.scale);
            }
            let lse_rows: Vec<f32> =
                p.chunks_mut(keys).enumerate().map(|(r, row)| g.probabilities(row, i0 + r, sl, None)).collect();
            // SAFETY: O rows (bh, i0..i1) belong to this task alone (disjoint layout checked,
            // or tasks run one after another); V lies inside qkv as above.
            unsafe {
                let pm = Mat { ptr: p.as_ptr(), rs: keys, cs: 1 };
                let v = Mat { ptr: raw.qkv(g.qkv(2, bh, 0)), rs: st, cs: 1 };
                block_product(rows, d, keys, raw.out(g.o(bh, i0)), l.o_strides[0], false, pm, v, 1.0);
            }
            (bh * n + i0, lse_rows)
        };
        let tasks = l.batch * l.heads * blocks;
        let results: Vec<(usize, Vec<f32>)> = if g.o_disjoint() {
            (0..tasks).into_par_iter().map(task).collect()
        } else {
            (0..tasks).map(task).collect()
        };
        if let Some(lse) = lse.as_deref_mut() {
            for (start, rows) in results {
                lse[start..start + rows.len()].copy_from_slice(&rows);
            }
        }
    };
    match lse {
        Some(lse) => kernel("attention_forward", [qkv], [o, lse], |[qkv], [o, lse]| run(qkv, o, Some(lse))),
        None => kernel("attention_forward", [qkv], [o], |[qkv], [o]| run(qkv, o, None)),
    }
}

/// One head's backward pass: dQ rows written once, dK and dV accumulated block by block.
///
/// # Safety
/// The dQ, dK and dV rows of head `bh` belong to the caller alone; all rows of the layout lie
/// inside their buffers.
unsafe fn backward_head(g: &Geometry, raw: Raw, bh: usize, lse: &[f32], delta: &[f32]) {
    let l = &g.l;
    let (n, d, st, ost) = (l.n, l.d, l.qkv_strides[0], l.o_strides[0]);
    let sl = g.slope(bh);
    // SAFETY (whole body): per the function's contract.
    unsafe {
        for which in [1, 2] {
            for j in 0..n {
                std::ptr::write_bytes(raw.out(g.qkv(which, bh, j)), 0, d);
            }
        }
        let k = Mat { ptr: raw.qkv(g.qkv(1, bh, 0)), rs: st, cs: 1 };
        let kt = Mat { ptr: k.ptr, rs: 1, cs: st };
        let vt = Mat { ptr: raw.qkv(g.qkv(2, bh, 0)), rs: 1, cs: st };
        for i0 in (0..n).step_by(QUERY_BLOCK) {
            let i1 = (i0 + QUERY_BLOCK).min(n);
            let (rows, keys) = (i1 - i0, g.keys(i1));
            let q = Mat { ptr: raw.qkv(g.qkv(0, bh, i0)), rs: st, cs: 1 };
            let go = Mat { ptr: raw.dout(g.o(bh, i0)), rs: ost, cs: 1 };
            let mut p = vec![0.0f32; rows * keys];
            let mut ds = vec![0.0f32; rows * keys];
            block_product(rows, keys, d, p.as_mut_ptr(), keys, false, q, kt, g.scale);
            block_product(rows, keys, d, ds.as_mut_ptr(), keys, false, go, vt, 1.0);
            for r in 0..rows {
                let i = i0 + r;
                let (pr, dr) = (&mut p[r * keys..(r + 1) * keys], &mut ds[r * keys..(r + 1) * keys]);
                let stat = if g.kind == AttnKind::Softmax { Some(lse[bh * n + i]) } else { None };
                g.probabilities(pr, i, sl, stat);
                match g.kind {
                    AttnKind::Sigmoid => dr.iter_mut().zip(pr.iter()).for_each(|(dp, p)| *dp *= p * (1.0 - p)),
                    AttnKind::Softmax => {
                        let di = delta[bh * n + i];
                        dr.iter_mut().zip(pr.iter()).for_each(|(dp, p)| *dp = p * (*dp - di));
                    }
                }
            }
            let pt = Mat { ptr: p.as_ptr(), rs: 1, cs: keys };
            let dsm = Mat { ptr: ds.as_ptr(), rs: keys, cs: 1 };
            let dst = Mat { ptr: ds.as_ptr(), rs: 1, cs: keys };
            // dQ_b = s·dS·K, dK += s·dSᵀ·Q_b, dV += Pᵀ·dO_b.
            block_product(rows, d, keys, raw.out(g.qkv(0, bh, i0)), st, false, dsm, k, g.scale);
            block_product(keys, d, rows, raw.out(g.qkv(1, bh, 0)), st, true, dst, q, g.scale);
            block_product(keys, d, rows, raw.out(g.qkv(2, bh, 0)), st, true, pt, go, 1.0);
        }
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
    let heads = l.batch * l.heads;
    let run = |qkv: &[f32], dout: &[f32], dqkv: &mut [f32], lse: &[f32], delta: &[f32]| {
        let raw = Raw { qkv: qkv.as_ptr(), dout: dout.as_ptr(), out: dqkv.as_mut_ptr() };
        // SAFETY: heads own disjoint dQ/dK/dV elements when `qkv_disjoint` holds; otherwise
        // they run one after another. Extents were checked by the launcher.
        let one = |bh: usize| unsafe { backward_head(&g, raw, bh, lse, delta) };
        if g.qkv_disjoint() { (0..heads).into_par_iter().for_each(one) } else { (0..heads).for_each(one) }
    };
    match stats {
        Some((lse, delta)) => {
            kernel("attention_backward", [qkv, o, dout, lse], [dqkv, delta], |[qkv, o, dout, lse], [dqkv, delta]| {
                for bh in 0..heads {
                    for i in 0..l.n {
                        let ob = g.o(bh, i);
                        delta[bh * l.n + i] = rows::row_dot(&o[ob..ob + l.d], &dout[ob..ob + l.d]);
                    }
                }
                run(qkv, dout, dqkv, lse, delta)
            })
        }
        None => kernel("attention_backward", [qkv, dout], [dqkv], |[qkv, dout], [dqkv]| run(qkv, dout, dqkv, &[], &[])),
    }
}
