//! Launchers for `shaders/moe.wgsl`: routing (gate probabilities, top-K, the grouping of
//! slots by expert with an optional capacity), gather into the grouped layout, and the
//! weighted combine back to token order. The experts' grouped products are `moe_matmul`'s.

pub use super::moe_matmul::{GroupedOpts, moe_matmul, moe_matmul_wgrad};
use crate::cpu;
use crate::error::Result;
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_dtype, expect_shape, groups_for, u32_of};
use crate::ops::moe::RouteParams;
pub use crate::ops::moe::{MAX_EXPERTS, MAX_TOP_K, MoeRouting, NONE};
use crate::recorder::{Exec, Recorder};
use crate::tensor::{DType, Tensor};

const fn spec(entry: &'static str, storage: &'static [(u32, Access)]) -> KernelSpec {
    KernelSpec { shader: "moe", entry, storage }
}
const ROUTE: KernelSpec =
    spec("moe_route", &[(1, Access::Read), (2, Access::ReadWrite), (3, Access::ReadWrite), (4, Access::ReadWrite)]);
const COUNT: KernelSpec = spec("moe_count", &[(3, Access::ReadWrite), (5, Access::ReadWrite)]);
const OFFSETS: KernelSpec = spec("moe_offsets", &[(5, Access::ReadWrite), (6, Access::ReadWrite)]);
const SCATTER: KernelSpec = spec(
    "moe_scatter",
    &[
        (3, Access::ReadWrite),
        (5, Access::ReadWrite),
        (6, Access::ReadWrite),
        (7, Access::ReadWrite),
        (8, Access::ReadWrite),
    ],
);
const GATHER: KernelSpec =
    spec("moe_gather", &[(6, Access::ReadWrite), (7, Access::ReadWrite), (9, Access::Read), (10, Access::ReadWrite)]);
const COMBINE: KernelSpec =
    spec("moe_combine", &[(4, Access::ReadWrite), (8, Access::ReadWrite), (11, Access::Read), (12, Access::ReadWrite)]);
const COMBINE_BACKWARD: KernelSpec = spec(
    "moe_combine_backward",
    &[
        (4, Access::ReadWrite),
        (8, Access::ReadWrite),
        (11, Access::Read),
        (13, Access::Read),
        (14, Access::ReadWrite),
        (15, Access::ReadWrite),
    ],
);
const ROUTE_BACKWARD: KernelSpec = spec(
    "moe_route_backward",
    &[
        (1, Access::Read),
        (2, Access::ReadWrite),
        (3, Access::ReadWrite),
        (4, Access::ReadWrite),
        (5, Access::ReadWrite),
        (15, Access::ReadWrite),
        (16, Access::ReadWrite),
    ],
);

/// Coefficients of the auxiliary router losses.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuxCoefs {
    /// Load balancing α (α·E·Σ_e f_e·P_e), default 0.01.
    pub balance: f32,
    /// Router z-loss β (β·mean_t logsumexp²), default 1e-3.
    pub z: f32,
}

impl Default for AuxCoefs {
    fn default() -> Self {
        AuxCoefs { balance: 0.01, z: 1e-3 }
    }
}

/// How tokens choose experts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteOpts {
    /// Sigmoid gates instead of a softmax over experts.
    pub sigmoid: bool,
    /// Renormalise the chosen gates to sum to 1.
    pub renorm: bool,
    /// Most slots an expert keeps (0 = dropless); later slots are dropped and counted.
    pub capacity: usize,
}

impl Default for RouteOpts {
    fn default() -> Self {
        RouteOpts { sigmoid: false, renorm: true, capacity: 0 }
    }
}

impl MoeRouting {
    fn params(&self, op: &'static str, dim: usize, opts: &RouteOpts) -> Result<RouteParams> {
        Ok(RouteParams {
            tokens: u32_of(op, "tokens", self.tokens)?,
            experts: u32_of(op, "experts", self.experts_n)?,
            top_k: u32_of(op, "top_k", self.top_k)?,
            dim: u32_of(op, "dim", dim)?,
            capacity: u32_of(op, "capacity", opts.capacity)?,
            sigmoid: opts.sigmoid as u32,
            renorm: opts.renorm as u32,
            unit_gates: 0,
            aux_coef: 0.0,
            z_coef: 0.0,
            accumulate: 0,
            pad1: 0,
        })
    }
}

/// Routes every token of `logits` (T, E): probabilities, top-K, gates, and the grouping.
pub fn moe_route(rec: &mut Recorder, logits: &Tensor, r: &MoeRouting, opts: &RouteOpts) -> Result<()> {
    const OP: &str = "moe_route";
    expect_shape(OP, "logits", logits, &[r.tokens, r.experts_n])?;
    expect_dtype(OP, "logits", logits, DType::F32)?;
    let p = r.params(OP, 0, opts)?;
    let all = [logits, &r.probs, &r.experts, &r.gates, &r.counts, &r.offsets, &r.order, &r.position];
    match rec.exec(OP, &all)? {
        Exec::Gpu(g) => {
            let e = p.experts;
            let route = [logits.binding()?, r.probs.binding()?, r.experts.binding()?, r.gates.binding()?];
            g.dispatch(&ROUTE, &[], &p, &route, groups_for(g.gpu(), r.tokens, 256))?;
            g.dispatch(&COUNT, &[], &p, &[r.experts.binding()?, r.counts.binding()?], [e, 1, 1])?;
            g.dispatch(&OFFSETS, &[], &p, &[r.counts.binding()?, r.offsets.binding()?], [1, 1, 1])?;
            let scatter = [
                r.experts.binding()?,
                r.counts.binding()?,
                r.offsets.binding()?,
                r.order.binding()?,
                r.position.binding()?,
            ];
            g.dispatch(&SCATTER, &[], &p, &scatter, [e, 1, 1])
        }
        Exec::Cpu => cpu::moe::route(logits, r, &p),
    }
}

/// xs (T·K, C): the tokens of `x` (T, C) grouped by expert (rows past the kept total untouched).
pub fn moe_gather(rec: &mut Recorder, x: &Tensor, r: &MoeRouting, xs: &Tensor) -> Result<()> {
    const OP: &str = "moe_gather";
    let dim = x.shape().get(1).copied().unwrap_or(0);
    expect_shape(OP, "x", x, &[r.tokens, dim])?;
    expect_shape(OP, "xs", xs, &[r.tokens * r.top_k, dim])?;
    let p = r.params(OP, dim, &RouteOpts::default())?;
    match rec.exec(OP, &[x, xs, &r.offsets, &r.order])? {
        Exec::Gpu(g) => {
            let b = [r.offsets.binding()?, r.order.binding()?, x.binding()?, xs.binding()?];
            g.dispatch(&GATHER, &[], &p, &b, groups_for(g.gpu(), xs.len(), 256))
        }
        Exec::Cpu => cpu::moe::gather(x, r, xs, dim, r.top_k),
    }
}

/// out (T, C) = Σ_k gate · ys[row of slot (t, k)], from the grouped expert outputs ys (T·K, C).
pub fn moe_combine(rec: &mut Recorder, ys: &Tensor, r: &MoeRouting, out: &Tensor) -> Result<()> {
    combine(rec, "moe_combine", ys, r, out, false, false)
}

/// dx (T, C) (+)= Σ_k dxs[row of slot (t, k)]: the grouped input gradient back in token order.
pub fn moe_scatter_back(rec: &mut Recorder, dxs: &Tensor, r: &MoeRouting, dx: &Tensor, accumulate: bool) -> Result<()> {
    combine(rec, "moe_scatter_back", dxs, r, dx, true, accumulate)
}

fn combine(
    rec: &mut Recorder,
    op: &'static str,
    ys: &Tensor,
    r: &MoeRouting,
    out: &Tensor,
    unit: bool,
    accumulate: bool,
) -> Result<()> {
    let dim = out.shape().get(1).copied().unwrap_or(0);
    expect_shape(op, "out", out, &[r.tokens, dim])?;
    expect_shape(op, "grouped rows", ys, &[r.tokens * r.top_k, dim])?;
    let p = RouteParams {
        unit_gates: unit as u32,
        accumulate: accumulate as u32,
        ..r.params(op, dim, &RouteOpts::default())?
    };
    match rec.exec(op, &[ys, out, &r.gates, &r.position])? {
        Exec::Gpu(g) => {
            let b = [r.gates.binding()?, r.position.binding()?, ys.binding()?, out.binding()?];
            g.dispatch(&COMBINE, &[], &p, &b, groups_for(g.gpu(), out.len(), 256))
        }
        Exec::Cpu => cpu::moe::combine(ys, r, out, dim, r.top_k, unit, accumulate),
    }
}

/// Backward of `moe_combine`: dys (T·K, C) rows = gate · dout[t] for kept slots, and
/// dgates (T, K) = dout[t] · ys[row] (0 for dropped slots).
pub fn moe_combine_backward(
    rec: &mut Recorder,
    dout: &Tensor,
    ys: &Tensor,
    r: &MoeRouting,
    dys: &Tensor,
    dgates: &Tensor,
) -> Result<()> {
    const OP: &str = "moe_combine_backward";
    let dim = dout.shape().get(1).copied().unwrap_or(0);
    expect_shape(OP, "dout", dout, &[r.tokens, dim])?;
    expect_shape(OP, "ys", ys, &[r.tokens * r.top_k, dim])?;
    expect_shape(OP, "dys", dys, &[r.tokens * r.top_k, dim])?;
    expect_shape(OP, "dgates", dgates, &[r.tokens, r.top_k])?;
    let p = r.params(OP, dim, &RouteOpts::default())?;
    match rec.exec(OP, &[dout, ys, dys, dgates, &r.gates, &r.position])? {
        Exec::Gpu(g) => {
            let b = [
                r.gates.binding()?,
                r.position.binding()?,
                ys.binding()?,
                dout.binding()?,
                dys.binding()?,
                dgates.binding()?,
            ];
            g.dispatch(&COMBINE_BACKWARD, &[], &p, &b, groups_for(g.gpu(), r.tokens * r.top_k, 256))
        }
        Exec::Cpu => cpu::moe::combine_backward(dout, ys, r, dys, dgates, dim),
    }
}

/// dlogits (T, E) from dgates through the renormalisation and the gate, plus the gradients of
/// the load-balancing loss and the router z-loss with coefficients `aux`.
pub fn moe_route_backward(
    rec: &mut Recorder,
    logits: &Tensor,
    r: &MoeRouting,
    dgates: &Tensor,
    dlogits: &Tensor,
    opts: &RouteOpts,
    aux: AuxCoefs,
) -> Result<()> {
    const OP: &str = "moe_route_backward";
    expect_shape(OP, "logits", logits, &[r.tokens, r.experts_n])?;
    expect_shape(OP, "dgates", dgates, &[r.tokens, r.top_k])?;
    expect_shape(OP, "dlogits", dlogits, &[r.tokens, r.experts_n])?;
    let p = RouteParams { aux_coef: aux.balance, z_coef: aux.z, ..r.params(OP, 0, opts)? };
    match rec.exec(OP, &[logits, dgates, dlogits, &r.probs, &r.experts, &r.gates, &r.counts])? {
        Exec::Gpu(g) => {
            let b = [
                logits.binding()?,
                r.probs.binding()?,
                r.experts.binding()?,
                r.gates.binding()?,
                r.counts.binding()?,
                dgates.binding()?,
                dlogits.binding()?,
            ];
            g.dispatch(&ROUTE_BACKWARD, &[], &p, &b, groups_for(g.gpu(), r.tokens, 256))
        }
        Exec::Cpu => cpu::moe::route_backward(logits, r, dgates, dlogits, &p),
    }
}

/// The auxiliary losses of the last routing, (load balancing, z-loss), with `aux`'s
/// coefficients; reads back probabilities, counts and logits (waits for the device).
pub fn moe_aux_losses(logits: &Tensor, r: &MoeRouting, aux: AuxCoefs) -> Result<(f64, f64)> {
    let (probs, counts, logits) = (r.probs.to_f32()?, r.counts.to_u32()?, logits.to_f32()?);
    let (t, e) = (r.tokens, r.experts_n);
    let slots = (t * r.top_k) as f64;
    let mut balance = 0.0;
    for j in 0..e {
        let p_mean: f64 = (0..t).map(|i| probs[i * e + j] as f64).sum::<f64>() / t as f64;
        balance += counts[j] as f64 / slots * p_mean;
    }
    let z: f64 = logits
        .chunks(e)
        .map(|row| {
            let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = m + row.iter().map(|v| (*v as f64 - m).exp()).sum::<f64>().ln();
            lse * lse
        })
        .sum::<f64>()
        / t as f64;
    Ok((aux.balance as f64 * e as f64 * balance, aux.z as f64 * z))
}
