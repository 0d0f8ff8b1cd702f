//! Launchers for `shaders/moe.wgsl`: routing (gate probabilities, top-K, the grouping of
//! slots by expert with an optional capacity), gather into the grouped layout, and the
//! weighted combine back to token order.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_dtype, expect_shape, groups_for, u32_of};
use crate::recorder::{Exec, Recorder};
use crate::tensor::{DType, Device, Tensor};

/// Marks a dropped slot in `position`.
pub const NONE: u32 = u32::MAX;
/// Most experts the routing kernel handles (its chosen-set is a 64-bit mask).
pub const MAX_EXPERTS: usize = 64;
/// Most experts per token.
pub const MAX_TOP_K: usize = 4;

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

/// The uniform parameters every MoE entry point reads; the fields mirror `Params` in
/// `shaders/moe.wgsl` one to one (sizes, flags, the auxiliary-loss coefficients).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct RouteParams {
    pub tokens: u32,
    pub experts: u32,
    pub top_k: u32,
    pub dim: u32,
    pub capacity: u32,
    pub sigmoid: u32,
    pub renorm: u32,
    pub unit_gates: u32,
    pub aux_coef: f32,
    pub z_coef: f32,
    pub accumulate: u32,
    pub pad1: u32,
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

/// The buffers routing fills for T tokens, E experts and K experts per token.
pub struct MoeRouting {
    /// Tokens T.
    pub tokens: usize,
    /// Experts E.
    pub experts_n: usize,
    /// Experts per token K.
    pub top_k: usize,
    /// Gate probabilities (T, E), f32.
    pub probs: Tensor,
    /// Chosen experts (T, K), u32.
    pub experts: Tensor,
    /// Their gates (T, K), f32.
    pub gates: Tensor,
    /// Slots per expert (E), u32.
    pub counts: Tensor,
    /// Group offsets (E + 1) then the dropped count, u32.
    pub offsets: Tensor,
    /// Slot of each grouped row (T·K), u32.
    pub order: Tensor,
    /// Grouped row of each slot or `NONE` (T·K), u32.
    pub position: Tensor,
}

impl MoeRouting {
    /// Allocates the routing buffers; E ≤ 64 and 1 ≤ K ≤ min(4, E).
    pub fn new(device: &Device, tokens: usize, experts: usize, top_k: usize) -> Result<MoeRouting> {
        if experts == 0 || experts > MAX_EXPERTS || top_k == 0 || top_k > MAX_TOP_K.min(experts) || tokens == 0 {
            return Err(Error::Config(format!(
                "MoE routing needs 1 ≤ experts ≤ {MAX_EXPERTS}, 1 ≤ top_k ≤ min({MAX_TOP_K}, experts) and tokens ≥ 1; got {experts} experts, top_k {top_k}, {tokens} tokens"
            )));
        }
        let slots = tokens * top_k;
        let u = |what: &str, n: usize| Tensor::empty(device, what, &[n], DType::U32);
        Ok(MoeRouting {
            tokens,
            experts_n: experts,
            top_k,
            probs: Tensor::empty(device, "moe probs", &[tokens, experts], DType::F32)?,
            experts: Tensor::empty(device, "moe experts", &[tokens, top_k], DType::U32)?,
            gates: Tensor::empty(device, "moe gates", &[tokens, top_k], DType::F32)?,
            counts: u("moe counts", experts)?,
            offsets: u("moe offsets", experts + 2)?,
            order: u("moe order", slots)?,
            position: u("moe position", slots)?,
        })
    }

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

    /// Slots dropped by the capacity in the last routing (reads back; waits for the device).
    pub fn dropped(&self) -> Result<u32> {
        Ok(self.offsets.to_u32()?[self.experts_n + 1])
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

/// Parameters of `shaders/moe_matmul.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct GroupedParams {
    rows: u32,
    k_in: u32,
    n: u32,
    experts: u32,
    trans_w: u32,
    accumulate: u32,
    has_bias: u32,
    pad: u32,
}

const fn mm_spec(entry: &'static str, storage: &'static [(u32, Access)]) -> KernelSpec {
    KernelSpec { shader: "moe_matmul", entry, storage }
}
const GROUPED: KernelSpec = mm_spec(
    "moe_matmul",
    &[(1, Access::Read), (2, Access::Read), (3, Access::Read), (4, Access::Read), (5, Access::ReadWrite)],
);
const WGRAD: KernelSpec =
    mm_spec("moe_matmul_wgrad", &[(1, Access::Read), (2, Access::Read), (6, Access::Read), (7, Access::ReadWrite)]);
const BGRAD: KernelSpec = mm_spec("moe_bias_grad", &[(1, Access::Read), (6, Access::Read), (7, Access::ReadWrite)]);
/// 8×16 register tiles (`wide_tiles`); w also as vec4s (9) where its rows run along n.
const GROUPED_WIDE: KernelSpec = mm_spec(
    "moe_matmul_wide",
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::Read),
        (5, Access::ReadWrite),
        (9, Access::Read),
    ],
);
/// The vec4 twins: a (8) and w (9) or b (10) read four elements at a time.
const GROUPED_VEC4: KernelSpec = mm_spec(
    "moe_matmul_vec4",
    &[(1, Access::Read), (4, Access::Read), (5, Access::ReadWrite), (8, Access::Read), (9, Access::Read)],
);
const WGRAD_VEC4: KernelSpec = mm_spec(
    "moe_matmul_wgrad_vec4",
    &[(1, Access::Read), (7, Access::ReadWrite), (8, Access::Read), (10, Access::Read)],
);

/// Whether the grouped product takes `moe_matmul_wide`'s 8×16 tiles: C at least 128 columns
/// wide and at least 128 grouped rows in all (as matmul's wide tiles: smaller products leave
/// too many of a 64 × 128 block's lanes idle).
fn wide_tiles(rows: usize, n: usize) -> bool {
    rows >= 128 && n >= 128
}

fn grouped_params(op: &'static str, r: &MoeRouting, k_in: usize, n: usize, flags: [bool; 3]) -> Result<GroupedParams> {
    Ok(GroupedParams {
        rows: u32_of(op, "rows", r.tokens * r.top_k)?,
        k_in: u32_of(op, "k_in", k_in)?,
        n: u32_of(op, "n", n)?,
        experts: u32_of(op, "experts", r.experts_n)?,
        trans_w: flags[0] as u32,
        accumulate: flags[1] as u32,
        has_bias: flags[2] as u32,
        pad: 0,
    })
}

/// The expert FFN matmul over tokens grouped by `r`: for each grouped row of expert e,
/// c (+)= a · op(W_e) (+ bias_e). `w` is (E, k_in, n), or (E, n, k_in) with `trans_w`;
/// `a` is (T·K, k_in), `c` (T·K, n); rows past the kept total are not touched.
#[allow(clippy::too_many_arguments)]
pub fn moe_matmul(
    rec: &mut Recorder,
    a: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    c: &Tensor,
    r: &MoeRouting,
    trans_w: bool,
    accumulate: bool,
) -> Result<()> {
    const OP: &str = "moe_matmul";
    let rows = r.tokens * r.top_k;
    let k_in = a.shape().get(1).copied().unwrap_or(0);
    let n = c.shape().get(1).copied().unwrap_or(0);
    expect_shape(OP, "a", a, &[rows, k_in])?;
    expect_shape(OP, "c", c, &[rows, n])?;
    let w_shape = if trans_w { [r.experts_n, n, k_in] } else { [r.experts_n, k_in, n] };
    expect_shape(OP, "w", w, &w_shape)?;
    if let Some(b) = bias {
        expect_shape(OP, "bias", b, &[r.experts_n, n])?;
    }
    let p = grouped_params(OP, r, k_in, n, [trans_w, accumulate, bias.is_some()])?;
    let mut operands = vec![a, w, c, &r.offsets];
    operands.extend(bias);
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            // Without a bias the bias slot is bound to w (never read: has_bias = 0).
            let bias = bias.unwrap_or(w).binding()?;
            if wide_tiles(rows, n) {
                let groups = [n.div_ceil(128) as u32, rows.div_ceil(64) as u32, p.experts];
                let w_vec4 = !trans_w && n.is_multiple_of(16);
                let ov = [("WIDE_W_VEC4", w_vec4 as u32 as f64)];
                let b = [r.offsets.binding()?, a.binding()?, w.binding()?, bias, c.binding()?, w.binding()?];
                return g.dispatch(&GROUPED_WIDE, &ov, &p, &b, groups);
            }
            let groups = [n.div_ceil(32) as u32, rows.div_ceil(32) as u32, p.experts];
            // Rows of a (and of W where it is read along n) that are multiples of 4: vec4 loads.
            if k_in.is_multiple_of(4) && (trans_w || n.is_multiple_of(4)) {
                let b = [r.offsets.binding()?, bias, c.binding()?, a.binding()?, w.binding()?];
                g.dispatch(&GROUPED_VEC4, &[], &p, &b, groups)
            } else {
                let b = [r.offsets.binding()?, a.binding()?, w.binding()?, bias, c.binding()?];
                g.dispatch(&GROUPED, &[], &p, &b, groups)
            }
        }
        Exec::Cpu => cpu::moe::grouped_matmul(a, w, bias, c, &r.offsets, k_in, n, trans_w, accumulate),
    }
}

/// Weight and bias gradients of the grouped matmul: dw (E, k_in, n) (+)= a_eᵀ · b_e and,
/// when given, db (E, n) (+)= Σ rows of b_e, over each expert's grouped rows.
pub fn moe_matmul_wgrad(
    rec: &mut Recorder,
    a: &Tensor,
    b: &Tensor,
    dw: &Tensor,
    db: Option<&Tensor>,
    r: &MoeRouting,
    accumulate: bool,
) -> Result<()> {
    const OP: &str = "moe_matmul_wgrad";
    let rows = r.tokens * r.top_k;
    let k_in = a.shape().get(1).copied().unwrap_or(0);
    let n = b.shape().get(1).copied().unwrap_or(0);
    expect_shape(OP, "a", a, &[rows, k_in])?;
    expect_shape(OP, "b", b, &[rows, n])?;
    expect_shape(OP, "dw", dw, &[r.experts_n, k_in, n])?;
    if let Some(db) = db {
        expect_shape(OP, "db", db, &[r.experts_n, n])?;
    }
    let p = grouped_params(OP, r, k_in, n, [false, accumulate, false])?;
    let mut operands = vec![a, b, dw, &r.offsets];
    operands.extend(db);
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            let groups = [n.div_ceil(32) as u32, k_in.div_ceil(32) as u32, p.experts];
            if k_in.is_multiple_of(4) && n.is_multiple_of(4) {
                let bind = [r.offsets.binding()?, dw.binding()?, a.binding()?, b.binding()?];
                g.dispatch(&WGRAD_VEC4, &[], &p, &bind, groups)?;
            } else {
                let bind = [r.offsets.binding()?, a.binding()?, b.binding()?, dw.binding()?];
                g.dispatch(&WGRAD, &[], &p, &bind, groups)?;
            }
            if let Some(db) = db {
                let bind = [r.offsets.binding()?, b.binding()?, db.binding()?];
                g.dispatch(&BGRAD, &[], &p, &bind, [n.div_ceil(64) as u32, p.experts, 1])?;
            }
            Ok(())
        }
        Exec::Cpu => {
            cpu::moe::grouped_wgrad(a, b, dw, &r.offsets, k_in, n, accumulate)?;
            match db {
                Some(db) => cpu::moe::bias_grad(b, db, &r.offsets, n, accumulate),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_products_take_the_wide_tiles_only_when_large_both_ways() {
        assert!(wide_tiles(128, 128));
        assert!(wide_tiles(4096, 256));
        assert!(!wide_tiles(127, 4096), "too few grouped rows");
        assert!(!wide_tiles(4096, 64), "C too narrow");
    }
}
