//! CPU twin of `shaders/moe.wgsl`: routing, the deterministic grouping of slots by expert,
//! gather and combine, in f32 with the shader's tie and drop rules.

use rayon::prelude::*;

use crate::cpu::kernel;
use crate::error::Result;
use crate::ops::moe::{GroupedOpts, MoeRouting, NONE, RouteParams};
use crate::tensor::Tensor;

/// Gate probabilities, top-K, counts, offsets and the grouping, as the four shader passes do.
pub(crate) fn route(logits: &Tensor, r: &MoeRouting, p: &RouteParams) -> Result<()> {
    let (t, e, k) = (p.tokens as usize, p.experts as usize, p.top_k as usize);
    kernel(
        "moe_route",
        [logits],
        [&r.probs, &r.experts, &r.gates, &r.counts, &r.offsets, &r.order, &r.position],
        |[logits], [probs, experts, gates, counts, offsets, order, position]| {
            let experts: &mut [u32] = bytemuck::cast_slice_mut(experts);
            let (counts, offsets): (&mut [u32], &mut [u32]) =
                (bytemuck::cast_slice_mut(counts), bytemuck::cast_slice_mut(offsets));
            let (order, position): (&mut [u32], &mut [u32]) =
                (bytemuck::cast_slice_mut(order), bytemuck::cast_slice_mut(position));
            probs
                .par_chunks_mut(e)
                .zip(logits.par_chunks(e))
                .zip(experts.par_chunks_mut(k).zip(gates.par_chunks_mut(k)))
                .for_each(|((pr, row), (ex, g))| {
                    if p.sigmoid != 0 {
                        pr.iter_mut().zip(row).for_each(|(p, l)| *p = 1.0 / (1.0 + (-l).exp()));
                    } else {
                        let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                        let mut s = 0.0;
                        pr.iter_mut().zip(row).for_each(|(p, l)| {
                            *p = (l - m).exp();
                            s += *p;
                        });
                        pr.iter_mut().for_each(|p| *p /= s);
                    }
                    let mut chosen = 0u64;
                    let mut total = 0.0;
                    for (x, gv) in ex.iter_mut().zip(g.iter_mut()) {
                        let mut best: Option<usize> = None;
                        for j in 0..e {
                            if chosen >> j & 1 == 0 && best.is_none_or(|b| pr[j] > pr[b]) {
                                best = Some(j);
                            }
                        }
                        let b = best.unwrap_or(0);
                        chosen |= 1 << b;
                        *x = b as u32;
                        *gv = pr[b];
                        total += pr[b];
                    }
                    if p.renorm != 0 {
                        g.iter_mut().for_each(|v| *v /= total);
                    }
                });
            counts.fill(0);
            for &x in experts.iter() {
                counts[x as usize] += 1;
            }
            let mut off = 0;
            let mut dropped = 0;
            for j in 0..e {
                offsets[j] = off;
                let kept = if p.capacity == 0 { counts[j] } else { counts[j].min(p.capacity) };
                dropped += counts[j] - kept;
                off += kept;
            }
            offsets[e] = off;
            offsets[e + 1] = dropped;
            let mut rank = vec![0u32; e];
            for s in 0..t * k {
                let j = experts[s] as usize;
                let kept = offsets[j + 1] - offsets[j];
                if rank[j] < kept {
                    order[(offsets[j] + rank[j]) as usize] = s as u32;
                    position[s] = offsets[j] + rank[j];
                } else {
                    position[s] = NONE;
                }
                rank[j] += 1;
            }
        },
    )
}

/// xs[row] = x[order[row] / K] for the grouped rows.
pub(crate) fn gather(x: &Tensor, r: &MoeRouting, xs: &Tensor, dim: usize, top_k: usize) -> Result<()> {
    kernel("moe_gather", [x, &r.offsets, &r.order], [xs], |[x, offsets, order], [xs]| {
        let (offsets, order): (&[u32], &[u32]) = (bytemuck::cast_slice(offsets), bytemuck::cast_slice(order));
        let rows = offsets[offsets.len() - 2] as usize;
        xs[..rows * dim].par_chunks_mut(dim).zip(&order[..rows]).for_each(|(dst, &s)| {
            let t = s as usize / top_k;
            dst.copy_from_slice(&x[t * dim..(t + 1) * dim]);
        });
    })
}

/// out[t] (+)= Σ_k g · ys[position[t·K + k]], g = gates[t, k] or 1 with `unit`.
pub(crate) fn combine(
    ys: &Tensor,
    r: &MoeRouting,
    out: &Tensor,
    dim: usize,
    top_k: usize,
    unit: bool,
    accumulate: bool,
) -> Result<()> {
    kernel("moe_combine", [ys, &r.gates, &r.position], [out], |[ys, gates, position], [out]| {
        let position: &[u32] = bytemuck::cast_slice(position);
        // One scratch row per rayon task, not one allocation per token.
        out.par_chunks_mut(dim).enumerate().for_each_init(
            || vec![0.0f32; dim],
            |acc, (t, o)| {
                acc.fill(0.0);
                for k in 0..top_k {
                    let row = position[t * top_k + k];
                    if row != NONE {
                        let g = if unit { 1.0 } else { gates[t * top_k + k] };
                        acc.iter_mut()
                            .zip(&ys[row as usize * dim..(row as usize + 1) * dim])
                            .for_each(|(o, y)| *o += g * y);
                    }
                }
                if accumulate {
                    o.iter_mut().zip(acc.iter()).for_each(|(o, a)| *o += a);
                } else {
                    o.copy_from_slice(acc);
                }
            },
        );
    })
}

/// C (m × n, row stride `c_row`) (+)= A · B through `gemm`, where element (i, j) of A is
/// `a[i·a_rs + j·a_cs]` and of B `b[i·b_rs + j·b_cs]`: a safe wrapper that checks every
/// addressed element lies inside its slice.
#[allow(clippy::too_many_arguments)]
fn gemm_into(
    (m, n, k): (usize, usize, usize),
    c: &mut [f32],
    c_row: usize,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.chunks_mut(c_row).take(m).for_each(|r| r[..n].fill(0.0));
        }
        return;
    }
    let last = |rs: usize, cs: usize, rows: usize, cols: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(last(c_row, 1, m, n) < c.len() && last(a_rs, a_cs, m, k) < a.len() && last(b_rs, b_cs, k, n) < b.len());
    // SAFETY: the assertion above keeps every element gemm addresses inside its slice; `c`
    // is borrowed mutably, so nothing else reads or writes it meanwhile.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            c_row as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

/// The grouped rows of each expert times its weights (see `kernels::moe::moe_matmul`): one
/// `gemm` per expert over its rows; `(k_in, n)` are A's and C's widths.
pub(crate) fn grouped_matmul(
    a: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    c: &Tensor,
    offsets: &Tensor,
    (k_in, n): (usize, usize),
    opts: GroupedOpts,
) -> Result<()> {
    let GroupedOpts { trans_w, accumulate } = opts;
    let body = |a: &[f32], w: &[f32], bias: &[f32], offsets: &[f32], c: &mut [f32]| {
        let offsets: &[u32] = bytemuck::cast_slice(offsets);
        let experts = offsets.len() - 2;
        for e in 0..experts {
            let (r0, r1) = (offsets[e] as usize, offsets[e + 1] as usize);
            if r0 == r1 {
                continue;
            }
            let ce = &mut c[r0 * n..r1 * n];
            let mut read = accumulate;
            if !bias.is_empty() {
                let be = &bias[e * n..(e + 1) * n];
                ce.chunks_mut(n).for_each(|row| {
                    if accumulate {
                        row.iter_mut().zip(be).for_each(|(c, b)| *c += b);
                    } else {
                        row.copy_from_slice(be);
                    }
                });
                read = true;
            }
            let we = &w[e * k_in * n..(e + 1) * k_in * n];
            let w_strides = if trans_w { (1, k_in) } else { (n, 1) };
            gemm_into((r1 - r0, n, k_in), ce, n, &a[r0 * k_in..r1 * k_in], (k_in, 1), we, w_strides, read);
        }
    };
    match bias {
        Some(bias) => {
            kernel("moe_matmul", [a, w, bias, offsets], [c], |[a, w, bias, offsets], [c]| body(a, w, bias, offsets, c))
        }
        None => kernel("moe_matmul", [a, w, offsets], [c], |[a, w, offsets], [c]| body(a, w, &[], offsets, c)),
    }
}

/// dw[e] (+)= a_eᵀ · b_e over each expert's grouped rows: one `gemm` per expert.
pub(crate) fn grouped_wgrad(
    a: &Tensor,
    b: &Tensor,
    dw: &Tensor,
    offsets: &Tensor,
    k_in: usize,
    n: usize,
    accumulate: bool,
) -> Result<()> {
    kernel("moe_matmul_wgrad", [a, b, offsets], [dw], |[a, b, offsets], [dw]| {
        let offsets: &[u32] = bytemuck::cast_slice(offsets);
        for (e, de) in dw.chunks_mut(k_in * n).enumerate() {
            let (r0, r1) = (offsets[e] as usize, offsets[e + 1] as usize);
            // Aᵀ: element (i, j) = a[(r0 + j)·k_in + i].
            gemm_into(
                (k_in, n, r1 - r0),
                de,
                n,
                &a[r0 * k_in..r1 * k_in],
                (1, k_in),
                &b[r0 * n..r1 * n],
                (n, 1),
                accumulate,
            );
        }
    })
}

/// db[e] (+)= Σ rows of b_e.
pub(crate) fn bias_grad(b: &Tensor, db: &Tensor, offsets: &Tensor, n: usize, accumulate: bool) -> Result<()> {
    kernel("moe_bias_grad", [b, offsets], [db], |[b, offsets], [db]| {
        let offsets: &[u32] = bytemuck::cast_slice(offsets);
        db.par_chunks_mut(n).enumerate().for_each(|(e, de)| {
            if !accumulate {
                de.fill(0.0);
            }
            for r in offsets[e] as usize..offsets[e + 1] as usize {
                de.iter_mut().zip(&b[r * n..(r + 1) * n]).for_each(|(d, y)| *d += y);
            }
        });
    })
}

/// dys rows = gate · dout[t] for kept slots; dgates = dout[t] · ys[row] (0 when dropped).
pub(crate) fn combine_backward(
    dout: &Tensor,
    ys: &Tensor,
    r: &MoeRouting,
    dys: &Tensor,
    dgates: &Tensor,
    dim: usize,
) -> Result<()> {
    let k = r.top_k;
    kernel(
        "moe_combine_backward",
        [dout, ys, &r.gates, &r.position],
        [dys, dgates],
        |[dout, ys, gates, position], [dys, dgates]| {
            let position: &[u32] = bytemuck::cast_slice(position);
            for (s, dg) in dgates.iter_mut().enumerate() {
                let row = position[s];
                if row == NONE {
                    *dg = 0.0;
                    continue;
                }
                let (t, row) = (s / k, row as usize);
                let d = &dout[t * dim..(t + 1) * dim];
                dys[row * dim..(row + 1) * dim].iter_mut().zip(d).for_each(|(o, d)| *o = gates[s] * d);
                *dg = d.iter().zip(&ys[row * dim..(row + 1) * dim]).map(|(d, y)| d * y).sum();
            }
        },
    )
}

/// dlogits through the renormalisation and the gate, plus the auxiliary losses' gradients.
pub(crate) fn route_backward(
    logits: &Tensor,
    r: &MoeRouting,
    dgates: &Tensor,
    dlogits: &Tensor,
    p: &RouteParams,
) -> Result<()> {
    let (e, k) = (r.experts_n, r.top_k);
    let reads = [logits, &r.probs, &r.experts, &r.gates, &r.counts, dgates];
    kernel("moe_route_backward", reads, [dlogits], |[logits, probs, experts, gates, counts, dgates], [dl]| {
        let (experts, counts): (&[u32], &[u32]) = (bytemuck::cast_slice(experts), bytemuck::cast_slice(counts));
        let t_n = probs.len() / e;
        let aux = p.aux_coef * e as f32 / t_n as f32;
        let slots = (t_n * k) as f32;
        dl.par_chunks_mut(e).enumerate().for_each(|(t, d)| {
            let (pr, lg) = (&probs[t * e..(t + 1) * e], &logits[t * e..(t + 1) * e]);
            let (ex, g, dg) = (&experts[t * k..(t + 1) * k], &gates[t * k..(t + 1) * k], &dgates[t * k..(t + 1) * k]);
            let sum_p: f32 = ex.iter().map(|&j| pr[j as usize]).sum();
            let dot: f32 = dg.iter().zip(g).map(|(a, b)| a * b).sum();
            d.iter_mut().zip(counts).for_each(|(d, c)| *d = aux * *c as f32 / slots);
            for (j, &x) in ex.iter().enumerate() {
                d[x as usize] += if p.renorm != 0 { (dg[j] - dot) / sum_p } else { dg[j] };
            }
            if p.sigmoid != 0 {
                d.iter_mut().zip(pr).for_each(|(d, q)| *d *= q * (1.0 - q));
            } else {
                let pdot: f32 = pr.iter().zip(d.iter()).map(|(a, b)| a * b).sum();
                d.iter_mut().zip(pr).for_each(|(d, q)| *d = q * (*d - pdot));
            }
            if p.z_coef != 0.0 {
                let m = lg.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let s: f32 = lg.iter().map(|v| (v - m).exp()).sum();
                let f = 2.0 * p.z_coef * (m + s.ln()) / t_n as f32;
                d.iter_mut().zip(lg).for_each(|(d, v)| *d += f * (v - m).exp() / s);
            }
        });
    })
}
