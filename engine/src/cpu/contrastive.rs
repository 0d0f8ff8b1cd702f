//! CPU twin of `shaders/contrastive.wgsl` and `contrastive_pairs.wgsl`: the same statistics
//! and the same gradient, by blocks of rows whose similarities come from `gemm` products
//! (never an N × N buffer; the working buffers count as scratch, `cpu::scratch`).
//!
//! z is unit-length, so every s_rc lies in [−1/τ, 1/τ]: with the one shift 1/τ for every row
//! (`kernels::contrastive::shared_shift`, τ ≥ 0.025) e^{s − 1/τ} is the same number for row r
//! and for row c, and a block of rows needs only the columns from its own first row on (in
//! cache-sized tiles). Each pair's exponential serves row r (its sum, its gradient row) and row
//! c (as a column), so the forward pass computes half the similarities and the backward pass
//! half of them plus the two halves of G·Z: two products' worth of multiply-adds and one
//! exponential per pair, where the per-row passes (colder τ, whose e^{−2/τ} would underflow)
//! take three and three. What a block adds to later rows goes to its chunk's accumulator (N
//! floats forward, N × d backward, eight chunks), summed in a fixed order: results do not
//! depend on the thread count.

use rayon::prelude::*;

use crate::cpu::matmul::{Mat, block_product};
use crate::cpu::scratch::Scratch;
use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::ops::contrastive::{ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState, shared_shift};
use crate::tensor::Tensor;

/// Rows per task in the per-row passes (cold τ; their scratch is BLOCK × N floats).
const BLOCK: usize = 64;

/// Rows per block in the shared-shift passes: the similarity products are BLOCK_SHARED ×
/// COLUMNS × d, and the transposed product of the backward pass has depth BLOCK_SHARED.
const BLOCK_SHARED: usize = 256;

/// Row blocks are dealt to this many chunks (block b to chunk b mod CHUNKS), each with its
/// own accumulator for later rows (N floats forward, N × d backward): enough chunks to keep
/// eight cores busy, a fixed number so results do not depend on the thread count.
const CHUNKS: usize = 8;

/// Columns per similarity tile in the shared-shift passes: a block's tile (BLOCK_SHARED ×
/// COLUMNS floats, 512 KiB) stays in the core's cache between the product and its
/// exponentials.
const COLUMNS: usize = 512;

/// The column tiles (first column, width) from column c0 to n.
fn column_tiles(c0: usize, n: usize) -> impl Iterator<Item = (usize, usize)> {
    (c0..n).step_by(COLUMNS).map(move |c| (c, COLUMNS.min(n - c)))
}

/// A tile of similarities in the shared-shift passes: rows r0..r0+rows against the `width`
/// columns from c0 on (c0 ≥ r0), divided by τ, row-major in `s`.
struct Tile<'a> {
    r0: usize,
    rows: usize,
    c0: usize,
    width: usize,
    s: &'a mut [f32],
}

impl Tile<'_> {
    /// The first of the tile's columns that belong to later blocks (rows that get this pair
    /// as a column), relative to c0.
    fn later_from(&self) -> usize {
        (self.r0 + self.rows).saturating_sub(self.c0).min(self.width)
    }
}

/// The frame of both shared-shift passes: every block of rows, dealt to the chunks, sees the
/// tiles of its similarities to the columns from its own first row on, and `add` adds what a
/// tile gives to the block's own rows of `out` (`per_row` values each, written in place) and
/// to the chunk's accumulator for the later rows, which are added to `out` at the end in
/// chunk order.
fn over_upper_tiles(
    z: &[f32],
    n: usize,
    d: usize,
    inv_tau: f32,
    per_row: usize,
    out: &mut [f32],
    add: impl Fn(Tile<'_>, &mut [f32], &mut [f32]) + Sync,
) {
    let chunks = n.div_ceil(BLOCK_SHARED).min(CHUNKS);
    let mut dealt: Vec<Vec<(usize, &mut [f32])>> = (0..chunks).map(|_| Vec::new()).collect();
    for (b, own) in out.chunks_mut(BLOCK_SHARED * per_row).enumerate() {
        dealt[b % chunks].push((b * BLOCK_SHARED, own));
    }
    let laters: Vec<Scratch> = dealt
        .into_par_iter()
        .map(|blocks| {
            let tile = BLOCK_SHARED.min(n) * COLUMNS.min(n);
            let (mut later, mut s) = (Scratch::zeros(n * per_row), Scratch::zeros(tile));
            for (r0, own) in blocks {
                own.fill(0.0);
                let rows = own.len() / per_row;
                for (c0, width) in column_tiles(r0, n) {
                    let s = &mut s[..rows * width];
                    similarities(z, d, r0, c0, width, inv_tau, s);
                    add(Tile { r0, rows, c0, width, s }, own, &mut later);
                }
            }
            later
        })
        .collect();
    for later in &laters {
        rows::add_assign(out, later);
    }
}

fn softplus(v: f32) -> f32 {
    v.max(0.0) + (-v.abs()).exp().ln_1p()
}

fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// One row's loss term f and a = ∂f/∂lse, writing b_β = ∂f/∂s_β into `b` (0 at β = α);
/// the same formulas as the shader's `row_terms`.
pub(crate) fn row_terms(loss: ContrastiveLoss, alpha: usize, neg: f32, pos: &[f32], b: &mut [f32]) -> (f32, f32) {
    let k = (pos.len() - 1) as f32;
    let others = || (0..pos.len()).filter(move |&beta| beta != alpha);
    b.fill(0.0);
    match loss {
        ContrastiveLoss::MultiCrop => {
            let t = others().fold(neg, |t, beta| t.max(pos[beta]) + (-(t - pos[beta]).abs()).exp().ln_1p());
            let mean_s: f32 = others().map(|beta| pos[beta] / k).sum();
            for beta in others() {
                b[beta] = (pos[beta] - t).exp() - 1.0 / k;
            }
            (t - mean_s, (neg - t).exp())
        }
        ContrastiveLoss::Arithmetic => {
            let mx = others().map(|beta| -softplus(neg - pos[beta])).fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = others().map(|beta| (-softplus(neg - pos[beta]) - mx).exp()).sum();
            let mut a = 0.0;
            for beta in others() {
                let u = neg - pos[beta];
                let w = (-softplus(u) - mx).exp() / sum;
                a += w * sigmoid(u);
                b[beta] = -w * sigmoid(u);
            }
            (-(mx + sum.ln()) + k.ln(), a)
        }
        ContrastiveLoss::InfoNce | ContrastiveLoss::Geometric => {
            let (mut f, mut a) = (0.0, 0.0);
            for beta in others() {
                let u = neg - pos[beta];
                f += softplus(u) / k;
                a += sigmoid(u) / k;
                b[beta] = -sigmoid(u) / k;
            }
            (f, a)
        }
    }
}

/// Similarities of rows r0.. (as many as `out` holds / width) to the `width` rows from c0 on,
/// divided by τ.
fn similarities(z: &[f32], d: usize, r0: usize, c0: usize, width: usize, inv_tau: f32, out: &mut [f32]) {
    let rows = out.len() / width;
    // SAFETY: rows r0..r0+rows and c0..c0+width of z (row-major, d columns) lie inside `z`;
    // `out` holds rows × width elements and belongs to this task.
    unsafe {
        let lhs = Mat { ptr: z.as_ptr().add(r0 * d), rs: d, cs: 1 };
        let rhs = Mat { ptr: z.as_ptr().add(c0 * d), rs: 1, cs: d };
        block_product(rows, width, d, out.as_mut_ptr(), width, false, lhs, rhs, inv_tau);
    }
}

/// Every row's negatives' log-sum-exp under the shared shift, half the similarities computed.
fn negatives_lse_shared(z: &[f32], n: usize, d: usize, m: usize, inv_tau: f32, shift: f32, lse: &mut [f32]) {
    // A block's rows sum over the columns from the block's first row on; the later rows get
    // the pairs' other side.
    over_upper_tiles(z, n, d, inv_tau, 1, lse, |t, sums, later| {
        let later_from = t.later_from();
        for (k, row) in t.s.chunks_mut(t.width).enumerate() {
            let first = (t.r0 + k) / m * m;
            let own_sample = first.saturating_sub(t.c0)..(first + m).saturating_sub(t.c0);
            sums[k] += rows::exp_shifted_outside(row, shift, own_sample);
            rows::add_assign(&mut later[t.c0 + later_from..t.c0 + t.width], &row[later_from..]);
        }
    });
    for l in lse.iter_mut() {
        *l = shift + l.ln();
    }
}

/// Every row's negatives' log-sum-exp from its full row of similarities (any temperature).
fn negatives_lse_rows(z: &[f32], n: usize, d: usize, m: usize, inv_tau: f32, lse: &mut [f32]) {
    lse.par_chunks_mut(BLOCK).enumerate().for_each(|(bi, lse_b)| {
        let r0 = bi * BLOCK;
        let mut sims = Scratch::zeros(lse_b.len() * n);
        similarities(z, d, r0, 0, n, inv_tau, &mut sims);
        for (k, row) in sims.chunks(n).enumerate() {
            let first = (r0 + k) / m * m;
            lse_b[k] = rows::log_sum_exp_outside(row, first..first + m);
        }
    });
}

/// Forward pass: z, 1/‖x‖, the negatives' log-sum-exp, the positives, row terms and the mean.
pub(crate) fn forward(x: &Tensor, st: &ContrastiveState, s: &ContrastiveShape, o: &ContrastiveOpts) -> Result<()> {
    let (n, d, m) = (s.rows(), s.dim, s.views);
    let inv_tau = 1.0 / o.temperature;
    kernel("contrastive_forward", [x], st.tensors(), |[x], [z, inv, lse, pos, row_loss, coef, loss, _, _]| {
        z.par_chunks_mut(d).zip(inv.par_iter_mut()).zip(x.par_chunks(d)).for_each(|((zr, iv), xr)| {
            let norm = xr.iter().map(|v| v * v).sum::<f32>().sqrt();
            *iv = 1.0 / norm.max(1e-12);
            for (o, v) in zr.iter_mut().zip(xr) {
                *o = v * *iv;
            }
        });
        let z: &[f32] = z;
        match shared_shift(o.temperature) {
            Some(shift) => negatives_lse_shared(z, n, d, m, inv_tau, shift, lse),
            None => negatives_lse_rows(z, n, d, m, inv_tau, lse),
        }
        pos.par_chunks_mut(m).enumerate().for_each(|(r, pos_r)| {
            let first = r / m * m;
            for (beta, p) in pos_r.iter_mut().enumerate() {
                *p = inv_tau * rows::row_dot(&z[r * d..(r + 1) * d], &z[(first + beta) * d..(first + beta + 1) * d]);
            }
        });
        let inv_n = 1.0 / n as f32;
        row_loss.par_iter_mut().zip(coef.par_chunks_mut(m + 1)).enumerate().for_each(|(r, (f, c))| {
            let (fr, a) = row_terms(o.loss, r % m, lse[r], &pos[r * m..(r + 1) * m], &mut c[1..]);
            *f = fr;
            c[0] = a;
            for v in c.iter_mut() {
                *v *= inv_n;
            }
        });
        loss[0] = (row_loss.iter().map(|v| *v as f64).sum::<f64>() / n as f64) as f32;
    })
}

/// Backward pass: dL/dx for an upstream gradient of 1 on the mean loss.
pub(crate) fn backward(st: &ContrastiveState, dx: &Tensor, s: &ContrastiveShape, o: &ContrastiveOpts) -> Result<()> {
    let (n, d, m) = (s.rows(), s.dim, s.views);
    let inv_tau = 1.0 / o.temperature;
    let reads = [&st.z, &st.inv_norm, &st.lse, &st.coef];
    kernel("contrastive_backward", reads, [dx], |[z, inv, lse, coef], [dx]| {
        let mut a = Scratch::zeros(n);
        for (a, c) in a.iter_mut().zip(coef.iter().step_by(m + 1)) {
            *a = *c;
        }
        let inputs = GradInputs { z, lse, a: &a, coef, n, d, m, inv_tau };
        match shared_shift(o.temperature) {
            Some(shift) => dz_shared(&inputs, shift, dx),
            None => dz_rows(&inputs, dx),
        }
        dx.par_chunks_mut(d).enumerate().for_each(|(r, dr)| {
            let zr = &z[r * d..(r + 1) * d];
            let zd = rows::row_dot(zr, dr);
            for (v, zv) in dr.iter_mut().zip(zr) {
                *v = inv[r] * (*v - zv * zd);
            }
        });
    })
}

/// The positives' entries of a gradient row r (within `row`, columns c0..c0 + its length):
/// ∂L/∂s_{r,q} = b_{r,β} + b_{q,α} for q = (i, β) ≠ r, symmetric in r and q.
fn set_positives(row: &mut [f32], coef: &[f32], r: usize, c0: usize, m: usize) {
    let (alpha, first) = (r % m, r / m * m);
    for beta in 0..m {
        let q = first + beta;
        if (c0..c0 + row.len()).contains(&q) {
            row[q - c0] =
                if beta == alpha { 0.0 } else { coef[r * (m + 1) + 1 + beta] + coef[q * (m + 1) + 1 + alpha] };
        }
    }
}

/// What the backward pass reads: normalised rows, each row's lse and a = ∂f/∂lse (scaled by
/// 1/N), all coefficients (for the positives), the sizes and 1/τ.
struct GradInputs<'a> {
    z: &'a [f32],
    lse: &'a [f32],
    a: &'a [f32],
    coef: &'a [f32],
    n: usize,
    d: usize,
    m: usize,
    inv_tau: f32,
}

/// dL/dz under the shared shift: each block of rows takes the gradient entries of the pairs
/// from its first row on, G·Z for its own rows and Gᵀ·Z for the later rows (per chunk).
fn dz_shared(x: &GradInputs<'_>, shift: f32, dz: &mut [f32]) {
    let GradInputs { z, lse, a, coef, n, d, m, inv_tau } = *x;
    // G_rc = e^{s − shift}·(w_r + w_c): row r's and column c's softmax terms, one exponential.
    let mut w = Scratch::zeros(n);
    for ((w, a), l) in w.iter_mut().zip(a).zip(lse) {
        *w = a * (shift - l).exp();
    }
    over_upper_tiles(z, n, d, inv_tau, d, dz, |t, dz_b, later| {
        let Tile { r0, rows, c0, width, .. } = t;
        let later_from = t.later_from();
        for (k, row) in t.s.chunks_mut(width).enumerate() {
            let r = r0 + k;
            rows::contrastive_grad_shared(row, &w[c0..c0 + width], w[r], shift);
            set_positives(row, coef, r, c0, m);
        }
        // SAFETY: s is rows × width; z's rows c0.. (width of them) and r0.. (rows) are inside
        // z; dz_b (rows × d) and `later`'s rows c0 + later_from..c0 + width are this chunk's own.
        unsafe {
            let gm = Mat { ptr: t.s.as_ptr(), rs: width, cs: 1 };
            let zc = Mat { ptr: z.as_ptr().add(c0 * d), rs: d, cs: 1 };
            block_product(rows, d, width, dz_b.as_mut_ptr(), d, true, gm, zc, inv_tau);
            let gt = Mat { ptr: t.s.as_ptr().add(later_from), rs: 1, cs: width };
            let zr = Mat { ptr: z.as_ptr().add(r0 * d), rs: d, cs: 1 };
            let dst = later.as_mut_ptr().add((c0 + later_from) * d);
            block_product(width - later_from, d, rows, dst, d, true, gt, zr, inv_tau);
        }
    });
}

/// dL/dz from full rows of similarities, two exponentials per pair (any temperature).
fn dz_rows(x: &GradInputs<'_>, dz: &mut [f32]) {
    let GradInputs { z, lse, a, coef, n, d, m, inv_tau } = *x;
    dz.par_chunks_mut(BLOCK * d).enumerate().for_each(|(bi, dzb)| {
        let (r0, rows) = (bi * BLOCK, dzb.len() / d);
        let mut g = Scratch::zeros(rows * n);
        similarities(z, d, r0, 0, n, inv_tau, &mut g);
        for (k, row) in g.chunks_mut(n).enumerate() {
            let r = r0 + k;
            rows::contrastive_grad(row, lse, a, a[r], lse[r]);
            set_positives(row, coef, r, 0, m);
        }
        // SAFETY: g is rows × n, z is n × d, dzb is this task's rows × d.
        unsafe {
            let gm = Mat { ptr: g.as_ptr(), rs: n, cs: 1 };
            let zm = Mat { ptr: z.as_ptr(), rs: d, cs: 1 };
            block_product(rows, d, n, dzb.as_mut_ptr(), d, false, gm, zm, inv_tau);
        }
    });
}
