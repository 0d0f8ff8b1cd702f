//! Every kernel against the f64 reference on fresh random inputs of awkward shapes.
//!
//! Shared by `sigmix selftest` (prints a table) and the test suite (asserts each row).
//! Outputs are poisoned with NaN before each run, so an element a kernel forgets to write
//! makes the check fail rather than pass on stale data.

use crate::error::{Error, Result};
use crate::kernels::attention::{AttnKind, AttnLayout, AttnOpts, SoftmaxStats, attention_backward, attention_forward};
use crate::kernels::augment::{self as aug, AugmentConfig};
use crate::kernels::contrastive::{
    ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState, contrastive_backward, contrastive_forward,
};
use crate::kernels::entropy::{self as ent, TtaObjective};
use crate::kernels::moe::RouteOpts;
use crate::kernels::{
    bayes, cross_entropy as ce, elementwise as ew, embedding as emb, matmul as mm, norm, optim, softmax as sm,
};
use crate::recorder::Recorder;
use crate::reference::{self as refr, rel_err, to_f64};
use crate::rng::Rng;
use crate::tensor::{Device, Tensor};

mod distill;
mod moe;
pub use distill::check_distill;
pub use moe::{MoeCase, MoeSizes, check_moe, check_moe_backward, check_moe_matmul};

/// Relative-error bar for f32 kernels against the f64 reference.
pub const TOLERANCE: f64 = 1e-5;

/// One kernel output compared with the reference.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    /// Kernel and output, e.g. "matmul (Aᵀ·B, accumulate)".
    pub kernel: String,
    /// Shape description.
    pub shape: String,
    /// ‖out − ref‖ / ‖ref‖.
    pub rel_err: f64,
    /// The bar it must stay under.
    pub tolerance: f64,
}

impl Check {
    /// Whether the kernel met its bar.
    pub fn passed(&self) -> bool {
        self.rel_err < self.tolerance
    }
}

fn check(kernel: impl Into<String>, shape: impl Into<String>, out: &[f32], reference: &[f64]) -> Check {
    Check { kernel: kernel.into(), shape: shape.into(), rel_err: rel_err(out, reference), tolerance: TOLERANCE }
}

/// A tensor filled with NaN, so unwritten elements are caught.
pub fn poisoned(device: &Device, shape: &[usize]) -> Result<Tensor> {
    let n = shape.iter().product();
    Tensor::from_f32(device, "poisoned output", shape, &vec![f32::NAN; n])
}

fn random(device: &Device, rng: &mut Rng, shape: &[usize]) -> Result<(Tensor, Vec<f32>)> {
    let n = shape.iter().product();
    let data = rng.uniform_vec(n, -1.0, 1.0);
    Ok((Tensor::from_f32(device, "random input", shape, &data)?, data))
}

/// A product with every combination the launcher offers: transposes, batching, accumulate.
pub async fn check_matmul(
    device: &Device,
    rng: &mut Rng,
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    accumulate: bool,
) -> Result<Check> {
    let a_shape = if ta { [batch, k, m] } else { [batch, m, k] };
    let b_shape = if tb { [batch, n, k] } else { [batch, k, n] };
    let (a, ad) = random(device, rng, &a_shape)?;
    let (b, bd) = random(device, rng, &b_shape)?;
    let (c, mut cd) = if accumulate {
        random(device, rng, &[batch, m, n]).map(|(t, d)| (t, to_f64(&d)))?
    } else {
        (poisoned(device, &[batch, m, n])?, vec![0.0; batch * m * n])
    };
    let alpha = 0.75;
    let mut rec = Recorder::new(device);
    mm::matmul(&mut rec, &a, &b, &c, mm::MatmulOpts { trans_a: ta, trans_b: tb, alpha, accumulate })?;
    rec.submit()?;
    let (ad, bd) = (to_f64(&ad), to_f64(&bd));
    for z in 0..batch {
        let cz = &mut cd[z * m * n..(z + 1) * m * n];
        refr::matmul::matmul(&ad[z * m * k..], &bd[z * k * n..], cz, m, n, k, ta, tb, alpha as f64, accumulate);
    }
    let name = format!(
        "matmul ({}·{}{})",
        if ta { "Aᵀ" } else { "A" },
        if tb { "Bᵀ" } else { "B" },
        if accumulate { ", +C" } else { "" }
    );
    Ok(check(name, format!("{batch}×{m}×{n}×{k}"), &c.read_f32().await?, &cd))
}

/// Residual add, bias add, fused bias+GELU (both outputs), GELU backward, bias gradient.
pub async fn check_elementwise(device: &Device, rng: &mut Rng, rows: usize, cols: usize) -> Result<Vec<Check>> {
    let shape = [rows, cols];
    let (x, xd) = random(device, rng, &shape)?;
    let (y, yd) = random(device, rng, &shape)?;
    let (bias, bd) = random(device, rng, &[cols])?;
    let (dbias, dbias0) = random(device, rng, &[cols])?;
    let outs: Vec<Tensor> = (0..5).map(|_| poisoned(device, &shape)).collect::<Result<_>>()?;
    let mut rec = Recorder::new(device);
    ew::add(&mut rec, &x, &y, &outs[0])?;
    ew::bias_add(&mut rec, &x, &bias, &outs[1])?;
    ew::bias_gelu(&mut rec, &x, &bias, &outs[2], &outs[3])?;
    ew::gelu_backward(&mut rec, &x, &y, &outs[4])?;
    ew::bias_grad(&mut rec, &y, &dbias)?;
    rec.submit()?;
    let (xd, yd, bd) = (to_f64(&xd), to_f64(&yd), to_f64(&bd));
    let pre = refr::elementwise::bias_add(&xd, &bd);
    let s = format!("{rows}×{cols}");
    let sums = refr::elementwise::column_sums(&yd, cols);
    Ok(vec![
        check("add", &s, &outs[0].read_f32().await?, &xd.iter().zip(&yd).map(|(a, b)| a + b).collect::<Vec<_>>()),
        check("bias_add", &s, &outs[1].read_f32().await?, &pre),
        check(
            "bias_gelu (out)",
            &s,
            &outs[2].read_f32().await?,
            &pre.iter().map(|v| refr::elementwise::gelu(*v)).collect::<Vec<_>>(),
        ),
        check("bias_gelu (pre)", &s, &outs[3].read_f32().await?, &pre),
        check(
            "gelu_backward",
            &s,
            &outs[4].read_f32().await?,
            &xd.iter().zip(&yd).map(|(v, d)| d * refr::elementwise::gelu_grad(*v)).collect::<Vec<_>>(),
        ),
        check(
            "bias_grad (+=)",
            &s,
            &dbias.read_f32().await?,
            &sums.iter().zip(&dbias0).map(|(a, b)| a + *b as f64).collect::<Vec<_>>(),
        ),
    ])
}

/// Scaled (optionally causal) softmax forward and backward.
pub async fn check_softmax(
    device: &Device,
    rng: &mut Rng,
    blocks: usize,
    q_len: usize,
    cols: usize,
    causal: bool,
) -> Result<Vec<Check>> {
    let shape = [blocks * q_len, cols];
    let (x, xd) = random(device, rng, &shape)?;
    let (dy, dyd) = random(device, rng, &shape)?;
    let (y, dx) = (poisoned(device, &shape)?, poisoned(device, &shape)?);
    let o = sm::SoftmaxOpts { scale: 1.7, causal, q_len };
    let mut rec = Recorder::new(device);
    sm::softmax_forward(&mut rec, &x, &y, o)?;
    sm::softmax_backward(&mut rec, &y, &dy, &dx, o)?;
    rec.submit()?;
    let yr = refr::softmax::softmax_forward(&to_f64(&xd), cols, 1.7, causal, q_len);
    // The backward is checked on the kernel's own y so the two checks stay independent.
    let dxr = refr::softmax::softmax_backward(&to_f64(&y.read_f32().await?), &to_f64(&dyd), cols, 1.7);
    let s = format!("{}×{cols}{}", blocks * q_len, if causal { " causal" } else { "" });
    Ok(vec![
        check("softmax_forward", &s, &y.read_f32().await?, &yr),
        check("softmax_backward", &s, &dx.read_f32().await?, &dxr),
    ])
}

/// LayerNorm or RMSNorm forward (y, stats) and backward (dx accumulated, dγ, dβ).
pub async fn check_norm(
    device: &Device,
    rng: &mut Rng,
    kind: norm::NormKind,
    rows: usize,
    cols: usize,
) -> Result<Vec<Check>> {
    let rms = kind == norm::NormKind::RmsNorm;
    let shape = [rows, cols];
    let (x, xd) = random(device, rng, &shape)?;
    let (gamma, gd) = random(device, rng, &[cols])?;
    let (beta, bd) = random(device, rng, &[cols])?;
    let (dy, dyd) = random(device, rng, &shape)?;
    let (dx, dx0) = random(device, rng, &shape)?;
    let (y, stats) = (poisoned(device, &shape)?, poisoned(device, &[rows, 2])?);
    let dg = Tensor::from_f32(device, "dgamma", &[cols], &vec![0.0; cols])?;
    let db = Tensor::from_f32(device, "dbeta", &[cols], &vec![0.0; cols])?;
    let mut rec = Recorder::new(device);
    norm::norm_forward(&mut rec, kind, &x, &gamma, &beta, &y, &stats, 1e-5)?;
    norm::norm_backward(&mut rec, kind, &x, &gamma, &stats, &dy, &dx, &dg, &db, true)?;
    rec.submit()?;
    let (yr, sr) = refr::norm::norm_forward(&to_f64(&xd), &to_f64(&gd), &to_f64(&bd), rms, 1e-5);
    let (dxr, dgr, dbr) = refr::norm::norm_backward(&to_f64(&xd), &to_f64(&gd), &sr, &to_f64(&dyd), rms);
    let dxr: Vec<f64> = dxr.iter().zip(&dx0).map(|(a, b)| a + *b as f64).collect();
    let name = if rms { "rmsnorm" } else { "layernorm" };
    let s = format!("{rows}×{cols}");
    let mut out = vec![
        check(format!("{name}_forward"), &s, &y.read_f32().await?, &yr),
        check(format!("{name}_forward (stats)"), &s, &stats.read_f32().await?, &sr),
        check(format!("{name}_backward (dx, +=)"), &s, &dx.read_f32().await?, &dxr),
        check(format!("{name}_backward (dγ)"), &s, &dg.read_f32().await?, &dgr),
    ];
    if !rms {
        out.push(check(format!("{name}_backward (dβ)"), &s, &db.read_f32().await?, &dbr));
    }
    Ok(out)
}

/// Lookup (with accumulate) and gradient scatter, with repeated and unused ids.
pub async fn check_embedding(
    device: &Device,
    rng: &mut Rng,
    rows: usize,
    vocab: usize,
    dim: usize,
) -> Result<Vec<Check>> {
    let ids: Vec<u32> = (0..rows).map(|_| rng.below(vocab) as u32).collect();
    let idt = Tensor::from_u32(device, "ids", &[rows], &ids)?;
    let (table, td) = random(device, rng, &[vocab, dim])?;
    let (out, out0) = random(device, rng, &[rows, dim])?;
    let (dout, dod) = random(device, rng, &[rows, dim])?;
    let (dtable, dt0) = random(device, rng, &[vocab, dim])?;
    let mut rec = Recorder::new(device);
    emb::embedding_forward(&mut rec, &idt, &table, &out, true)?;
    emb::embedding_backward(&mut rec, &idt, &dout, &dtable)?;
    rec.submit()?;
    let fr: Vec<f64> = refr::embedding::embedding_forward(&ids, &to_f64(&td), dim)
        .iter()
        .zip(&out0)
        .map(|(a, b)| a + *b as f64)
        .collect();
    let br: Vec<f64> = refr::embedding::embedding_backward(&ids, &to_f64(&dod), vocab, dim)
        .iter()
        .zip(&dt0)
        .map(|(a, b)| a + *b as f64)
        .collect();
    let s = format!("{rows} ids, {vocab}×{dim}");
    Ok(vec![
        check("embedding_forward (+=)", &s, &out.read_f32().await?, &fr),
        check("embedding_backward (+=)", &s, &dtable.read_f32().await?, &br),
    ])
}

/// Loss and gradient, with some rows ignored.
pub async fn check_cross_entropy(device: &Device, rng: &mut Rng, rows: usize, vocab: usize) -> Result<Vec<Check>> {
    let targets: Vec<u32> = (0..rows).map(|r| if r % 7 == 3 { ce::IGNORE } else { rng.below(vocab) as u32 }).collect();
    let logits_d: Vec<f32> = rng.uniform_vec(rows * vocab, -4.0, 4.0);
    let logits = Tensor::from_f32(device, "logits", &[rows, vocab], &logits_d)?;
    let tt = Tensor::from_u32(device, "targets", &[rows], &targets)?;
    let (losses, grad, eval_losses) =
        (poisoned(device, &[rows])?, poisoned(device, &[rows, vocab])?, poisoned(device, &[rows])?);
    let scale = 1.0 / rows as f32;
    let mut rec = Recorder::new(device);
    ce::cross_entropy(&mut rec, &logits, &tt, &losses, Some(&grad), scale)?;
    ce::cross_entropy(&mut rec, &logits, &tt, &eval_losses, None, scale)?;
    rec.submit()?;
    let (lr, gr) = refr::cross_entropy::cross_entropy(&to_f64(&logits_d), &targets, vocab, scale as f64);
    let s = format!("{rows}×{vocab}");
    Ok(vec![
        check("cross_entropy (loss)", &s, &losses.read_f32().await?, &lr),
        check("cross_entropy (dlogits)", &s, &grad.read_f32().await?, &gr),
        check("cross_entropy_loss (eval)", &s, &eval_losses.read_f32().await?, &lr),
    ])
}

/// A test-time adaptation objective's (ρ(H), H) per row and its logit gradient. A filter's
/// threshold is put in the widest gap between the rows' entropies near their median, so no
/// row sits on its step.
pub async fn check_entropy(
    device: &Device,
    rng: &mut Rng,
    rows: usize,
    classes: usize,
    objective: TtaObjective,
) -> Result<Vec<Check>> {
    let logits_d: Vec<f32> = rng.uniform_vec(rows * classes, -4.0, 4.0);
    let z = to_f64(&logits_d);
    let objective = match objective {
        TtaObjective::Filter { .. } => {
            let mut h: Vec<f64> = z.chunks(classes).map(refr::entropy::entropy).collect();
            h.sort_by(f64::total_cmp);
            let mid = h.len() / 2;
            let gap = (mid.saturating_sub(3).max(1)..(mid + 3).min(h.len()))
                .max_by(|a, b| (h[*a] - h[*a - 1]).total_cmp(&(h[*b] - h[*b - 1])))
                .unwrap_or(0);
            let threshold = if gap == 0 { h[0] + 1.0 } else { 0.5 * (h[gap] + h[gap - 1]) };
            TtaObjective::Filter { threshold: threshold as f32 }
        }
        o => o,
    };
    let logits = Tensor::from_f32(device, "logits", &[rows, classes], &logits_d)?;
    let (terms, grad) = (poisoned(device, &[rows, 2])?, poisoned(device, &[rows, classes])?);
    let scale = 1.0 / rows as f32;
    let mut rec = Recorder::new(device);
    ent::entropy_loss(&mut rec, &logits, &terms, &grad, objective, scale)?;
    rec.submit()?;
    let (tr, gr) = refr::entropy::entropy_loss(&z, classes, objective, scale as f64);
    let name = match objective {
        TtaObjective::Realm { alpha, .. } => format!("realm α={alpha}"),
        o => o.name().to_string(),
    };
    let s = format!("{rows}×{classes}");
    Ok(vec![
        check(format!("entropy_loss {name} (ρ, H)"), &s, &terms.read_f32().await?, &tr),
        check(format!("entropy_loss {name} (dlogits)"), &s, &grad.read_f32().await?, &gr),
    ])
}

/// BYOL's loss per row and its prediction gradient, `samples` samples of `views` views of
/// width `dim`. Half the samples' targets are a scaled copy of their predictions plus a
/// little noise, so well-aligned pairs (whose loss is small) are checked as well as random ones.
pub async fn check_byol(
    device: &Device,
    rng: &mut Rng,
    samples: usize,
    views: usize,
    dim: usize,
) -> Result<Vec<Check>> {
    let rows = samples * views;
    let qd = rng.uniform_vec(rows * dim, -1.0, 1.0);
    let mut td = rng.uniform_vec(rows * dim, -1.0, 1.0);
    for (r, t) in td.chunks_mut(dim).enumerate() {
        if (r / views) % 2 == 1 {
            for (t, q) in t.iter_mut().zip(&qd[r * dim..]) {
                *t = 2.5 * q + 0.01 * *t;
            }
        }
    }
    let q = Tensor::from_f32(device, "predictions", &[rows, dim], &qd)?;
    let t = Tensor::from_f32(device, "targets", &[rows, dim], &td)?;
    let (losses, dq) = (poisoned(device, &[rows])?, poisoned(device, &[rows, dim])?);
    let scale = 1.0 / rows as f32;
    let mut rec = Recorder::new(device);
    crate::kernels::byol::byol_loss(&mut rec, &q, &t, &losses, &dq, views, scale)?;
    rec.submit()?;
    let (lr, gr) = refr::byol::byol_loss(&to_f64(&qd), &to_f64(&td), dim, views, scale as f64);
    let s = format!("{samples}×{views} views×{dim}");
    Ok(vec![
        check("byol_loss (loss)", &s, &losses.read_f32().await?, &lr),
        check("byol_loss (dq)", &s, &dq.read_f32().await?, &gr),
    ])
}

/// Global norm, AdamW with clipping and decay on a prefix, and EMA, over `n` elements.
pub async fn check_optim(device: &Device, rng: &mut Rng, n: usize) -> Result<Vec<Check>> {
    let (param, pd) = random(device, rng, &[n])?;
    let (grad, gd) = random(device, rng, &[n])?;
    let (m, md) = random(device, rng, &[n])?;
    let vd: Vec<f32> = rng.uniform_vec(n, 0.0, 1.0);
    let v = Tensor::from_f32(device, "v", &[n], &vd)?;
    let (ema, ed) = random(device, rng, &[n])?;
    let partials = poisoned(device, &[optim::NORM_PARTIALS])?;
    let norm_t = poisoned(device, &[1])?;
    let step = optim::AdamWStep {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
        clip: 1.0,
        t: 3,
        n_decay: n / 3,
    };
    let mut rec = Recorder::new(device);
    optim::global_norm(&mut rec, &grad, &partials, &norm_t)?;
    optim::adamw(&mut rec, &param, &grad, &m, &v, &norm_t, &step)?;
    optim::ema(&mut rec, &param, &ema, 0.99)?;
    rec.submit()?;
    let (mut p, mut mr, mut vr) = (to_f64(&pd), to_f64(&md), to_f64(&vd));
    let norm = refr::optim::adamw(&mut p, &to_f64(&gd), &mut mr, &mut vr, &step);
    let mut er = to_f64(&ed);
    refr::optim::ema(&p, &mut er, 0.99);
    let s = format!("{n}");
    Ok(vec![
        check("global_norm", &s, &norm_t.read_f32().await?, &[norm]),
        check("adamw (θ)", &s, &param.read_f32().await?, &p),
        check("adamw (m)", &s, &m.read_f32().await?, &mr),
        check("adamw (v)", &s, &v.read_f32().await?, &vr),
        check("ema", &s, &ema.read_f32().await?, &er),
    ])
}

/// Bayes-by-Backprop: the draw, the gradients of μ and ρ through it and the KL term (added to
/// random gradients already there), and the KL sum, against the f64 reference.
pub async fn check_bayes(device: &Device, rng: &mut Rng, n: usize, o: &bayes::BayesOpts) -> Result<Vec<Check>> {
    let (mu, mu_d) = random(device, rng, &[n])?;
    // ρ from −5 (σ ≈ 0.007, where BBB starts) to 2.
    let rho_d = rng.uniform_vec(n, -5.0, 2.0);
    let rho = Tensor::from_f32(device, "rho", &[n], &rho_d)?;
    let (dw, dw_d) = random(device, rng, &[n])?;
    let (dmu, dmu0) = random(device, rng, &[n])?;
    let (drho, drho0) = random(device, rng, &[n])?;
    let (w, partials, kl) =
        (poisoned(device, &[n])?, poisoned(device, &[bayes::KL_PARTIALS])?, poisoned(device, &[1])?);
    let mut rec = Recorder::new(device);
    bayes::bayes_sample(&mut rec, &mu, &rho, &w, o)?;
    bayes::bayes_backward(&mut rec, &mu, &rho, &dw, &dmu, &drho, o)?;
    bayes::bayes_kl(&mut rec, &mu, &rho, &partials, &kl, o)?;
    rec.submit()?;
    let (m, r) = (to_f64(&mu_d), to_f64(&rho_d));
    let (gm, gr) = refr::bayes::backward(&m, &r, &to_f64(&dw_d), o);
    let plus = |a: &[f32], b: &[f64]| a.iter().zip(b).map(|(a, b)| f64::from(*a) + b).collect::<Vec<_>>();
    let s = format!("{n}");
    Ok(vec![
        check("bayes_sample", &s, &w.read_f32().await?, &refr::bayes::sample(&m, &r, o.seed)),
        check("bayes_backward (dμ)", &s, &dmu.read_f32().await?, &plus(&dmu0, &gm)),
        check("bayes_backward (dρ)", &s, &drho.read_f32().await?, &plus(&drho0, &gr)),
        check("bayes_kl", &s, &kl.read_f32().await?, &[refr::bayes::kl(&m, &r, f64::from(o.prior_std))]),
    ])
}

/// Flash attention forward (O) and backward (dQ, dK, dV) against the materialised f64
/// reference; shape = [batch, heads, n, d], `opts` the kind, mask, ALiBi and tile (its bias
/// must be `None`: the reference uses the paper's −ln n).
pub async fn check_attention(device: &Device, rng: &mut Rng, shape: [usize; 4], opts: &AttnOpts) -> Result<Vec<Check>> {
    if opts.bias.is_some() {
        return Err(Error::Config(
            "check_attention: the reference uses the default bias −ln n; pass bias: None".into(),
        ));
    }
    let AttnOpts { kind, causal, alibi, .. } = *opts;
    let [batch, heads, n, d] = shape;
    let l = AttnLayout::packed(batch, heads, n, d);
    let one = batch * heads * n * d;
    let (qkv, qkv_d) = random(device, rng, &[3 * one])?;
    let (dout, dout_d) = random(device, rng, &[one])?;
    let (o, dqkv) = (poisoned(device, &[one])?, poisoned(device, &[3 * one])?);
    let (lse, delta) = (poisoned(device, &[l.stats_len()])?, poisoned(device, &[l.stats_len()])?);
    let mut rec = Recorder::new(device);
    attention_forward(&mut rec, &qkv, &o, Some(&lse), &l, opts)?;
    let stats = (kind == AttnKind::Softmax).then_some(SoftmaxStats { lse: &lse, delta: &delta });
    attention_backward(&mut rec, &qkv, &o, &dout, &dqkv, stats, &l, opts)?;
    rec.submit()?;
    let spec = refr::flash::AttnSpec {
        bh: batch * heads,
        heads,
        n,
        d,
        causal,
        alibi,
        sigmoid: kind == AttnKind::Sigmoid,
        bias: -(n as f64).ln(),
    };
    let [or, dq, dk, dv] = refr::flash::forward_backward(&spec, &to_f64(&qkv_d), &to_f64(&dout_d));
    let got = dqkv.read_f32().await?;
    let name = |what: &str| format!("attention {kind:?} {what}").to_lowercase();
    let sh =
        format!("{batch}×{heads}×{n}×{d}{}{}", if causal { " causal" } else { "" }, if alibi { " alibi" } else { "" });
    Ok(vec![
        check(name("O"), &sh, &o.read_f32().await?, &or),
        check(name("dQ"), &sh, &got[..one], &dq),
        check(name("dK"), &sh, &got[one..2 * one], &dk),
        check(name("dV"), &sh, &got[2 * one..], &dv),
    ])
}

/// A contrastive loss and its gradient on B samples × M views of width d, every output and
/// every piece of the forward state poisoned first.
pub async fn check_contrastive(
    device: &Device,
    rng: &mut Rng,
    shape: ContrastiveShape,
    loss: ContrastiveLoss,
    temperature: f32,
) -> Result<Vec<Check>> {
    let (n, d) = (shape.rows(), shape.dim);
    let (x, xd) = random(device, rng, &[n, d])?;
    let st = ContrastiveState::new(device, shape)?;
    for t in st.tensors() {
        t.write_f32(&vec![f32::NAN; t.len()])?;
    }
    let dx = poisoned(device, &[n, d])?;
    let o = ContrastiveOpts { loss, temperature };
    let mut rec = Recorder::new(device);
    contrastive_forward(&mut rec, &x, &st, &shape, &o)?;
    contrastive_backward(&mut rec, &st, &dx, &shape, &o)?;
    rec.submit()?;
    let (l_ref, dx_ref) =
        refr::contrastive::loss_and_grad(&to_f64(&xd), shape.samples, shape.views, d, temperature as f64, loss);
    let sh = format!("B={} M={} d={d} τ={temperature}", shape.samples, shape.views);
    Ok(vec![
        check(format!("contrastive {} loss", loss.name()), &sh, &st.loss.read_f32().await?, &[l_ref]),
        check(format!("contrastive {} dx", loss.name()), &sh, &dx.read_f32().await?, &dx_ref),
    ])
}

/// The augmentation kernel on random images and random views (crops partly outside the
/// image, flips, jitter, noise), output poisoned first.
pub async fn check_augment(
    device: &Device,
    rng: &mut Rng,
    images: usize,
    in_size: usize,
    views: usize,
    out_size: usize,
) -> Result<Check> {
    let (img, imgd) = random(device, rng, &[images, in_size * in_size * 3])?;
    let cfg = AugmentConfig::default();
    let mut params: Vec<f32> = Vec::new();
    for v in 0..views {
        let mut p = cfg.draw(rng, in_size);
        if v == 0 {
            // A box reaching past the edges exercises the clamped reads.
            p.crop = [-2.5, 1.25, in_size as f32 + 4.0, in_size as f32 * 0.5];
        }
        params.extend(p.to_floats());
    }
    let src_ids: Vec<u32> = (0..views).map(|_| rng.below(images) as u32).collect();
    let src = Tensor::from_u32(device, "view sources", &[views], &src_ids)?;
    let view = Tensor::from_f32(device, "view parameters", &[views, aug::VIEW_PARAMS], &params)?;
    let out = poisoned(device, &[views, out_size * out_size * 3])?;
    let shape = aug::AugmentShape { views, in_size, out_size, noise_std: 0.05, seed: rng.next_u64() as u32 };
    let mut rec = Recorder::new(device);
    aug::augment(&mut rec, &img, &src, &view, &out, &shape)?;
    rec.submit()?;
    let want = refr::augment::augment(&to_f64(&imgd), in_size, &src_ids, &to_f64(&params), out_size, 0.05, shape.seed);
    let sh = format!("{views} views {in_size}²→{out_size}² of {images} images");
    Ok(check("augment (crop, flip, jitter, noise)", sh, &out.read_f32().await?, &want))
}

/// The full selftest: every kernel on a few awkward shapes drawn from `seed`, blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_all(device: &Device, seed: u64) -> Result<Vec<Check>> {
    pollster::block_on(run_all_async(device, seed))
}

/// `run_all` as a future, for the browser, where read-backs complete through the event loop.
pub async fn run_all_async(device: &Device, seed: u64) -> Result<Vec<Check>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let (m, n, k) = (rng.range(1, 70), rng.range(1, 70), rng.range(1, 70));
        out.push(check_matmul(device, &mut rng, 1, m, n, k, ta, tb, false).await?);
    }
    out.push(check_matmul(device, &mut rng, 3, 33, 17, 45, false, true, true).await?);
    // Multiples of 4 (not of the 32-wide tile): the vec4 kernel, in each of its four modes.
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let (m, n, k) = (4 * rng.range(1, 18), 4 * rng.range(1, 18), 4 * rng.range(1, 18));
        out.push(check_matmul(device, &mut rng, 1, m, n, k, ta, tb, false).await?);
    }
    out.push(check_matmul(device, &mut rng, 3, 37, 29, 20, false, true, true).await?);
    // C of 128 × 128 and more: the wide tiles, ragged, transposed, batched and accumulating.
    out.push(check_matmul(device, &mut rng, 2, 133, 130, 19, true, true, true).await?);
    out.push(check_matmul(device, &mut rng, 2, 130, 144, 12, true, false, false).await?);
    out.extend(check_elementwise(device, &mut rng, 37, 53).await?);
    out.extend(check_softmax(device, &mut rng, 3, 13, 13, true).await?);
    out.extend(check_softmax(device, &mut rng, 1, 5, 131, false).await?);
    out.extend(check_norm(device, &mut rng, norm::NormKind::LayerNorm, 29, 83).await?);
    out.extend(check_norm(device, &mut rng, norm::NormKind::RmsNorm, 29, 83).await?);
    out.extend(check_embedding(device, &mut rng, 61, 19, 23).await?);
    out.extend(check_cross_entropy(device, &mut rng, 45, 259).await?);
    out.extend(check_entropy(device, &mut rng, 37, 5, TtaObjective::Tent).await?);
    out.extend(check_entropy(device, &mut rng, 29, 10, TtaObjective::filter_default(10)).await?);
    for alpha in [2.0, 0.0, f32::NEG_INFINITY, -2.0] {
        out.extend(check_entropy(device, &mut rng, 23, 131, TtaObjective::Realm { alpha, scale: 0.7 }).await?);
    }
    for (rows, vocab, temperature, lambda, near) in [(29, 261, 1.0, 1.0, false), (23, 67, 2.0, 0.5, true)] {
        let loss = crate::kernels::distill::DistillLoss { temperature, lambda };
        out.extend(check_distill(device, &mut rng, rows, vocab, loss, near).await?);
    }
    out.extend(check_byol(device, &mut rng, 13, 2, 37).await?);
    out.extend(check_byol(device, &mut rng, 5, 8, 130).await?);
    out.extend(check_optim(device, &mut rng, 3001).await?);
    let bbb = bayes::BayesOpts { seed: 5, prior_std: 0.5, kl_weight: 0.01 };
    out.extend(check_bayes(device, &mut rng, 3001, &bbb).await?);
    let dropless = RouteOpts::default();
    out.extend(
        check_moe(
            device,
            &mut rng,
            MoeSizes { tokens: 301, experts: 13, top_k: 2, dim: 19 },
            dropless,
            MoeCase::Spread,
        )
        .await?,
    );
    let capped = RouteOpts { sigmoid: true, renorm: false, capacity: 7 };
    out.extend(
        check_moe(device, &mut rng, MoeSizes { tokens: 45, experts: 8, top_k: 2, dim: 5 }, capped, MoeCase::AllToOne)
            .await?,
    );
    out.extend(
        check_moe_matmul(device, &mut rng, MoeSizes { tokens: 53, experts: 6, top_k: 2, dim: 19 }, 37, 0).await?,
    );
    // Widths that are multiples of 4: the vec4 entry points.
    out.extend(
        check_moe_matmul(device, &mut rng, MoeSizes { tokens: 41, experts: 5, top_k: 2, dim: 20 }, 12, 0).await?,
    );
    // C 128 wide or more over 128 grouped rows or more: the 8×16 tiles (`moe_matmul_wide`).
    out.extend(
        check_moe_matmul(device, &mut rng, MoeSizes { tokens: 67, experts: 5, top_k: 2, dim: 21 }, 133, 0).await?,
    );
    out.extend(
        check_moe_backward(
            device,
            &mut rng,
            MoeSizes { tokens: 41, experts: 7, top_k: 2, dim: 11 },
            RouteOpts::default(),
        )
        .await?,
    );
    for kind in [AttnKind::Sigmoid, AttnKind::Softmax] {
        let opts = |causal, alibi| AttnOpts { kind, causal, alibi, bias: None, tile: None };
        out.extend(check_attention(device, &mut rng, [2, 3, 65, 16], &opts(true, false)).await?);
        out.extend(check_attention(device, &mut rng, [1, 2, 7, 32], &opts(false, true)).await?);
    }
    out.push(check_augment(device, &mut rng, 3, 11, 7, 9).await?);
    let shapes = [(9, 2, 13), (5, 3, 17), (37, 4, 33), (7, 8, 128)];
    for (loss, (samples, views, dim)) in ContrastiveLoss::ALL.into_iter().zip(shapes) {
        let shape = ContrastiveShape { samples, views, dim };
        out.extend(check_contrastive(device, &mut rng, shape, loss, 0.2).await?);
    }
    // Colder than the shared shift allows (τ < 0.025): the per-row kernels with running maxima.
    let cold = ContrastiveShape { samples: 11, views: 3, dim: 20 };
    out.extend(check_contrastive(device, &mut rng, cold, ContrastiveLoss::Geometric, 0.02).await?);
    Ok(out)
}
