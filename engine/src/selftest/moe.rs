//! The mixture-of-experts checks: routing (compared exactly), the grouped expert products
//! and the backward pass, with router logits whose ranking no rounding can flip.

use super::{Check, TOLERANCE, check, poisoned, random};
use crate::error::Result;
use crate::kernels::moe::{self, MoeRouting, RouteOpts};
use crate::recorder::Recorder;
use crate::reference::{self as refr, to_f64};
use crate::rng::Rng;
use crate::tensor::{Device, Tensor};

/// An integer output compared exactly: error 0 when equal, ∞ otherwise.
fn check_exact(kernel: impl Into<String>, shape: impl Into<String>, out: &[u32], reference: &[u32]) -> Check {
    let rel_err = if out == reference { 0.0 } else { f64::INFINITY };
    Check { kernel: kernel.into(), shape: shape.into(), rel_err, tolerance: TOLERANCE }
}

/// The sizes of a MoE check, named (they were four positional numbers): `tokens` routed each
/// to `top_k` of `experts` experts, with rows `dim` wide (the grouped product's input width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoeSizes {
    /// Tokens T.
    pub tokens: usize,
    /// Experts E.
    pub experts: usize,
    /// Experts per token K.
    pub top_k: usize,
    /// Width of each token's row.
    pub dim: usize,
}

/// How the router logits of an MoE check are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoeCase {
    /// Each token ranks the experts at random (gaps of ≥ 0.25 between logits: no near-ties).
    Spread,
    /// Every token's first choice is expert 0.
    AllToOne,
}

/// Router logits whose ranking no rounding can flip: each token ranks the experts by a random
/// permutation with gaps of at least 0.3 (plus a +8 for expert 0 in `AllToOne`).
fn router_logits(rng: &mut Rng, tokens: usize, experts: usize, case: MoeCase) -> Vec<f32> {
    let mut logits = Vec::with_capacity(tokens * experts);
    for _ in 0..tokens {
        let mut rank: Vec<usize> = (0..experts).collect();
        for i in (1..experts).rev() {
            rank.swap(i, rng.below(i + 1));
        }
        for (j, r) in rank.iter().enumerate() {
            let boost = if case == MoeCase::AllToOne && j == 0 { 8.0 } else { 0.0 };
            logits.push((0.35 * *r as f64 - 1.5 + 0.05 * rng.uniform() + boost) as f32);
        }
    }
    logits
}

/// Routing, grouping, gather and combine against the reference; integer outputs exactly.
pub async fn check_moe(
    device: &Device,
    rng: &mut Rng,
    sizes: MoeSizes,
    opts: RouteOpts,
    case: MoeCase,
) -> Result<Vec<Check>> {
    let MoeSizes { tokens, experts, top_k, dim } = sizes;
    let logits = router_logits(rng, tokens, experts, case);
    let lt = Tensor::from_f32(device, "logits", &[tokens, experts], &logits)?;
    let r = MoeRouting::new(device, tokens, experts, top_k)?;
    let slots = tokens * top_k;
    let junk = vec![0xDEAD_BEEFu32; slots];
    for t in [&r.order, &r.position, &r.experts] {
        t.write_u32(&junk)?;
    }
    let (x, xd) = random(device, rng, &[tokens, dim])?;
    let (ys, yd) = random(device, rng, &[slots, dim])?;
    let xs = poisoned(device, &[slots, dim])?;
    let out = poisoned(device, &[tokens, dim])?;
    let mut rec = Recorder::new(device);
    moe::moe_route(&mut rec, &lt, &r, &opts)?;
    moe::moe_gather(&mut rec, &x, &r, &xs)?;
    moe::moe_combine(&mut rec, &ys, &r, &out)?;
    rec.submit()?;
    let want = refr::moe::route(&to_f64(&logits), tokens, experts, top_k, opts.sigmoid, opts.renorm, opts.capacity);
    let kept = want.offsets[experts] as usize;
    let gate = if opts.sigmoid { "sigmoid" } else { "softmax" };
    let sh = format!("{tokens} tokens, {experts} experts, top-{top_k}, C {dim}, capacity {}, {case:?}", opts.capacity);
    let name = |what: &str| format!("moe {what} ({gate})");
    Ok(vec![
        check(name("probs"), &sh, &r.probs.read_f32().await?, &want.probs),
        check_exact(name("experts"), &sh, &r.experts.read_u32().await?, &want.experts),
        check(name("gates"), &sh, &r.gates.read_f32().await?, &want.gates),
        check_exact(name("counts"), &sh, &r.counts.read_u32().await?, &want.counts),
        check_exact(name("offsets"), &sh, &r.offsets.read_u32().await?, &want.offsets),
        check_exact(name("order"), &sh, &r.order.read_u32().await?[..kept], &want.order[..kept]),
        check_exact(name("position"), &sh, &r.position.read_u32().await?, &want.position),
        check(
            name("gather"),
            &sh,
            &xs.read_f32().await?[..kept * dim],
            &refr::moe::gather(&to_f64(&xd), &want, top_k, dim)[..kept * dim],
        ),
        check(
            name("combine"),
            &sh,
            &out.read_f32().await?,
            &refr::moe::combine(&to_f64(&yd), &want, tokens, top_k, dim),
        ),
    ])
}

/// The backward kernels of routing and combine (and the scatter of the input gradient) against
/// the reference, whose route backward is itself checked against finite differences.
pub async fn check_moe_backward(
    device: &Device,
    rng: &mut Rng,
    sizes: MoeSizes,
    opts: RouteOpts,
) -> Result<Vec<Check>> {
    let MoeSizes { tokens, experts, top_k, dim } = sizes;
    let logits = router_logits(rng, tokens, experts, MoeCase::Spread);
    let lt = Tensor::from_f32(device, "logits", &[tokens, experts], &logits)?;
    let r = MoeRouting::new(device, tokens, experts, top_k)?;
    let slots = tokens * top_k;
    let (dout, dd) = random(device, rng, &[tokens, dim])?;
    let (ys, yd) = random(device, rng, &[slots, dim])?;
    let dys = poisoned(device, &[slots, dim])?;
    let dgates = poisoned(device, &[tokens, top_k])?;
    let dlogits = poisoned(device, &[tokens, experts])?;
    let dx = poisoned(device, &[tokens, dim])?;
    let aux = moe::AuxCoefs { balance: 0.05, z: 0.01 };
    let mut rec = Recorder::new(device);
    moe::moe_route(&mut rec, &lt, &r, &opts)?;
    moe::moe_combine_backward(&mut rec, &dout, &ys, &r, &dys, &dgates)?;
    moe::moe_route_backward(&mut rec, &lt, &r, &dgates, &dlogits, &opts, aux)?;
    moe::moe_scatter_back(&mut rec, &ys, &r, &dx, false)?;
    rec.submit()?;
    let want = refr::moe::route(&to_f64(&logits), tokens, experts, top_k, opts.sigmoid, opts.renorm, opts.capacity);
    let kept = want.offsets[experts] as usize;
    let (dys_ref, dg_ref) = refr::moe::combine_backward(&to_f64(&dd), &to_f64(&yd), &want, top_k, dim);
    let coefs = (aux.balance as f64, aux.z as f64);
    let dl_ref =
        refr::moe::route_backward(&to_f64(&logits), &want, &dg_ref, experts, top_k, opts.sigmoid, opts.renorm, coefs);
    let unit = refr::moe::Routing { gates: vec![1.0; slots], ..want.clone() };
    let dx_ref = refr::moe::combine(&to_f64(&yd), &unit, tokens, top_k, dim);
    let sh = format!("{tokens} tokens, {experts} experts, top-{top_k}, C {dim}, capacity {}", opts.capacity);
    let gate = if opts.sigmoid { "sigmoid" } else { "softmax" };
    Ok(vec![
        check(
            format!("moe_combine_backward dys ({gate})"),
            &sh,
            &dys.read_f32().await?[..kept * dim],
            &dys_ref[..kept * dim],
        ),
        check(format!("moe_combine_backward dgates ({gate})"), &sh, &dgates.read_f32().await?, &dg_ref),
        check(format!("moe_route_backward ({gate}, renorm {})", opts.renorm), &sh, &dlogits.read_f32().await?, &dl_ref),
        check(format!("moe_scatter_back ({gate})"), &sh, &dx.read_f32().await?, &dx_ref),
    ])
}

/// The grouped expert matmuls (forward, transposed weights with accumulate, weight and bias
/// gradients) over a random routing, against the reference.
pub async fn check_moe_matmul(
    device: &Device,
    rng: &mut Rng,
    sizes: MoeSizes,
    n: usize,
    capacity: usize,
) -> Result<Vec<Check>> {
    let MoeSizes { tokens, experts, top_k, dim: k_in } = sizes;
    let logits = rng.uniform_vec(tokens * experts, -2.0, 2.0);
    let lt = Tensor::from_f32(device, "logits", &[tokens, experts], &logits)?;
    let r = MoeRouting::new(device, tokens, experts, top_k)?;
    let rows = tokens * top_k;
    let (a, ad) = random(device, rng, &[rows, k_in])?;
    let (w, wd) = random(device, rng, &[experts, k_in, n])?;
    let (bias, bd) = random(device, rng, &[experts, n])?;
    let (g, gd) = random(device, rng, &[rows, n])?;
    let c = poisoned(device, &[rows, n])?;
    let (c2, c2d) = random(device, rng, &[rows, k_in])?;
    let (dw, dwd) = random(device, rng, &[experts, k_in, n])?;
    let db = poisoned(device, &[experts, n])?;
    let mut rec = Recorder::new(device);
    moe::moe_route(&mut rec, &lt, &r, &RouteOpts { capacity, ..Default::default() })?;
    moe::moe_matmul(&mut rec, &a, &w, Some(&bias), &c, &r, moe::GroupedOpts::default())?;
    // The input gradient's product: the same weights, transposed.
    moe::moe_matmul(&mut rec, &g, &w, None, &c2, &r, moe::GroupedOpts { trans_w: true, accumulate: true })?;
    moe::moe_matmul_wgrad(&mut rec, &a, &g, &dw, None, &r, true)?;
    moe::moe_matmul_wgrad(&mut rec, &a, &g, &poisoned(device, &[experts, k_in, n])?, Some(&db), &r, false)?;
    rec.submit()?;
    let offsets = r.offsets.read_u32().await?;
    let kept = offsets[experts] as usize;
    let zeros = vec![0.0; rows * n];
    let fwd =
        refr::moe::grouped_matmul(&to_f64(&ad), &to_f64(&wd), Some(&to_f64(&bd)), &zeros, &offsets, (k_in, n), false);
    let bwd = refr::moe::grouped_matmul(&to_f64(&gd), &to_f64(&wd), None, &to_f64(&c2d), &offsets, (n, k_in), true);
    let (dw_ref, db_ref) = refr::moe::grouped_wgrad(&to_f64(&ad), &to_f64(&gd), &offsets, k_in, n);
    let dw_acc: Vec<f64> = dw_ref.iter().zip(&dwd).map(|(a, b)| a + *b as f64).collect();
    let sh =
        format!("{tokens} tokens, {experts} experts, top-{top_k}, {k_in}→{n}, capacity {capacity}, {kept} rows kept");
    Ok(vec![
        check("moe_matmul (+bias)", &sh, &c.read_f32().await?[..kept * n], &fwd[..kept * n]),
        check("moe_matmul (Wᵀ, accumulate)", &sh, &c2.read_f32().await?[..kept * k_in], &bwd[..kept * k_in]),
        check("moe_matmul_wgrad (accumulate)", &sh, &dw.read_f32().await?, &dw_acc),
        check("moe_bias_grad", &sh, &db.read_f32().await?, &db_ref),
    ])
}
