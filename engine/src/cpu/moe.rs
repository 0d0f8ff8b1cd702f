//! CPU twin of `shaders/moe.wgsl`: routing, the deterministic grouping of slots by expert,
//! gather and combine, in f32 with the shader's tie and drop rules.

use rayon::prelude::*;

use crate::cpu::kernel;
use crate::error::Result;
use crate::kernels::moe::{MoeRouting, NONE, RouteParams};
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

/// out[t] = Σ_k gates[t, k] · ys[position[t·K + k]].
pub(crate) fn combine(ys: &Tensor, r: &MoeRouting, out: &Tensor, dim: usize, top_k: usize) -> Result<()> {
    kernel("moe_combine", [ys, &r.gates, &r.position], [out], |[ys, gates, position], [out]| {
        let position: &[u32] = bytemuck::cast_slice(position);
        out.par_chunks_mut(dim).enumerate().for_each(|(t, o)| {
            o.fill(0.0);
            for k in 0..top_k {
                let row = position[t * top_k + k];
                if row != NONE {
                    let g = gates[t * top_k + k];
                    o.iter_mut().zip(&ys[row as usize * dim..(row as usize + 1) * dim]).for_each(|(o, y)| *o += g * y);
                }
            }
        });
    })
}
