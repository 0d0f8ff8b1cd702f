//! CPU twin of `shaders/contrastive.wgsl`: the same statistics and the same gradient, by
//! blocks of rows. A block's similarities to every column come from one `gemm` product
//! (BLOCK × N scratch per task, never N × N), its gradient rows from a second.

use rayon::prelude::*;

use crate::cpu::matmul::{Mat, block_product};
use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::kernels::contrastive::{ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState};
use crate::tensor::Tensor;

/// Rows per task: the scratch is BLOCK × N floats.
const BLOCK: usize = 64;

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

/// Similarities of rows r0.. (as many as `out` holds / n) to all n rows, divided by τ.
fn similarities(z: &[f32], r0: usize, n: usize, d: usize, inv_tau: f32, out: &mut [f32]) {
    let rows = out.len() / n;
    // SAFETY: rows r0..r0+rows and all n rows of z (n × d, row-major) lie inside `z`; `out`
    // holds rows × n elements and belongs to this task.
    unsafe {
        let lhs = Mat { ptr: z.as_ptr().add(r0 * d), rs: d, cs: 1 };
        let rhs = Mat { ptr: z.as_ptr(), rs: 1, cs: d };
        block_product(rows, n, d, out.as_mut_ptr(), n, false, lhs, rhs, inv_tau);
    }
}

/// Forward pass: z, 1/‖x‖, the negatives' log-sum-exp, the positives, row terms and the mean.
pub(crate) fn forward(x: &Tensor, st: &ContrastiveState, s: &ContrastiveShape, o: &ContrastiveOpts) -> Result<()> {
    let (n, d, m) = (s.rows(), s.dim, s.views);
    let inv_tau = 1.0 / o.temperature;
    kernel("contrastive_forward", [x], st.tensors(), |[x], [z, inv, lse, pos, row_loss, coef, loss]| {
        z.par_chunks_mut(d).zip(inv.par_iter_mut()).zip(x.par_chunks(d)).for_each(|((zr, iv), xr)| {
            let norm = xr.iter().map(|v| v * v).sum::<f32>().sqrt();
            *iv = 1.0 / norm.max(1e-12);
            for (o, v) in zr.iter_mut().zip(xr) {
                *o = v * *iv;
            }
        });
        let z: &[f32] = z;
        lse.par_chunks_mut(BLOCK).zip(pos.par_chunks_mut(BLOCK * m)).enumerate().for_each(|(bi, (lse_b, pos_b))| {
            let r0 = bi * BLOCK;
            let mut sims = vec![0.0f32; lse_b.len() * n];
            similarities(z, r0, n, d, inv_tau, &mut sims);
            for (k, row) in sims.chunks(n).enumerate() {
                let first = (r0 + k) / m * m;
                pos_b[k * m..(k + 1) * m].copy_from_slice(&row[first..first + m]);
                lse_b[k] = rows::log_sum_exp_outside(row, first..first + m);
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
        let a: Vec<f32> = coef.iter().step_by(m + 1).copied().collect();
        dx.par_chunks_mut(BLOCK * d).enumerate().for_each(|(bi, dxb)| {
            let (r0, rows) = (bi * BLOCK, dxb.len() / d);
            let mut g = vec![0.0f32; rows * n];
            similarities(z, r0, n, d, inv_tau, &mut g);
            for (k, row) in g.chunks_mut(n).enumerate() {
                let r = r0 + k;
                let (alpha, first) = (r % m, r / m * m);
                rows::contrastive_grad(row, lse, &a, a[r], lse[r]);
                for beta in 0..m {
                    let q = first + beta;
                    row[q] =
                        if beta == alpha { 0.0 } else { coef[r * (m + 1) + 1 + beta] + coef[q * (m + 1) + 1 + alpha] };
                }
            }
            // SAFETY: g is rows × n, z is n × d, dxb is this task's rows × d.
            unsafe {
                let gm = Mat { ptr: g.as_ptr(), rs: n, cs: 1 };
                let zm = Mat { ptr: z.as_ptr(), rs: d, cs: 1 };
                block_product(rows, d, n, dxb.as_mut_ptr(), d, false, gm, zm, inv_tau);
            }
            for (k, dr) in dxb.chunks_mut(d).enumerate() {
                let r = r0 + k;
                let zr = &z[r * d..(r + 1) * d];
                let zd: f32 = zr.iter().zip(dr.iter()).map(|(a, b)| a * b).sum();
                for (v, zv) in dr.iter_mut().zip(zr) {
                    *v = inv[r] * (*v - zv * zd);
                }
            }
        });
    })
}
