//! The kernel and training rows of `sigmix bench`: square matmuls, the memory-bound kernels
//! (forward and backward), augment, and the tiny preset's training steps.

use sigmix::kernels::{
    augment, bayes, byol, cross_entropy, distill, elementwise, embedding, entropy, matmul, norm, optim, softmax,
};
use sigmix::rng::Rng;
use sigmix::train::RunConfig;
use sigmix::{Device, Result, Tensor};

use super::Row;
use super::harness::{random, time};

pub(super) fn bench_matmul(device: &Device, peak: Option<f64>, rows: &mut Vec<Row>) -> Result<()> {
    let mut rng = Rng::new(1);
    for n in [256, 512, 1024] {
        let (a, b, c) = (
            random(device, &mut rng, &[n, n])?,
            random(device, &mut rng, &[n, n])?,
            random(device, &mut rng, &[n, n])?,
        );
        let s = time(device, |rec| matmul::matmul(rec, &a, &b, &c, Default::default()))?;
        let gflops = 2.0 * (n as f64).powi(3) / s / 1e9;
        rows.push(Row {
            name: "matmul".into(),
            shape: format!("{n}³"),
            ms: s * 1e3,
            rate: gflops,
            unit: "GFLOP/s",
            peak_fraction: peak.map(|p| gflops / p),
        });
    }
    Ok(())
}

pub(super) fn bench_kernels(device: &Device, rows: &mut Vec<Row>) -> Result<()> {
    let mut rng = Rng::new(2);
    let (r, c) = (4096, 256);
    let x = random(device, &mut rng, &[r, c])?;
    let y = random(device, &mut rng, &[r, c])?;
    let z = random(device, &mut rng, &[r, c])?;
    let g = random(device, &mut rng, &[c])?;
    let stats = random(device, &mut rng, &[r, 2])?;
    let targets = Tensor::from_u32(device, "targets", &[r], &(0..r as u32).map(|i| i % c as u32).collect::<Vec<_>>())?;
    let losses = random(device, &mut rng, &[r])?;
    let mb = (r * c * 4) as f64;
    let mut add_row = |name: &str, bytes: f64, s: f64| {
        rows.push(Row {
            name: name.into(),
            shape: format!("{r}×{c}"),
            ms: s * 1e3,
            rate: bytes / s / 1e9,
            unit: "GB/s",
            peak_fraction: None,
        })
    };
    let opts = softmax::SoftmaxOpts { scale: 1.0, causal: false, q_len: c };
    add_row("softmax_forward", 2.0 * mb, time(device, |rec| softmax::softmax_forward(rec, &x, &y, opts))?);
    add_row(
        "layernorm_forward",
        2.0 * mb,
        time(device, |rec| norm::norm_forward(rec, norm::NormKind::LayerNorm, &x, &g, &g, &y, &stats, 1e-5))?,
    );
    add_row("bias_gelu", 3.0 * mb, time(device, |rec| elementwise::bias_gelu(rec, &x, &g, &y, &z))?);
    // The backward passes: y and dy (or x and dy) read, dx written.
    add_row("softmax_backward", 3.0 * mb, time(device, |rec| softmax::softmax_backward(rec, &x, &y, &z, opts))?);
    let (dgamma, dbeta) = (random(device, &mut rng, &[c])?, random(device, &mut rng, &[c])?);
    add_row(
        "layernorm_backward",
        3.0 * mb,
        time(device, |rec| {
            norm::norm_backward(rec, norm::NormKind::LayerNorm, &x, &g, &stats, &y, &z, &dgamma, &dbeta, false)
        })?,
    );
    add_row("gelu_backward", 3.0 * mb, time(device, |rec| elementwise::gelu_backward(rec, &x, &y, &z))?);
    // Embeddings: 4096 ids into a 256 × 256 table (gathered rows written; the gradient read back
    // into the table without atomics).
    let vocab = 256;
    let ids =
        Tensor::from_u32(device, "ids", &[r], &(0..r as u32).map(|i| (i * 7) % vocab as u32).collect::<Vec<_>>())?;
    let table = random(device, &mut rng, &[vocab, c])?;
    add_row(
        "embedding_forward",
        2.0 * mb,
        time(device, |rec| embedding::embedding_forward(rec, &ids, &table, &y, false))?,
    );
    add_row("embedding_backward", mb, time(device, |rec| embedding::embedding_backward(rec, &ids, &x, &table))?);
    add_row(
        "cross_entropy",
        2.0 * mb,
        time(device, |rec| cross_entropy::cross_entropy(rec, &x, &targets, &losses, Some(&y), 1.0))?,
    );
    // Student and teacher logits read, the student's gradient written.
    let kd = distill::DistillLoss { temperature: 2.0, lambda: 0.5 };
    add_row(
        "distill_loss",
        3.0 * mb,
        time(device, |rec| distill::distill_loss(rec, &x, &z, &targets, &losses, &y, kd, 1.0))?,
    );
    let terms = random(device, &mut rng, &[r, 2])?;
    let realm = entropy::TtaObjective::realm_default(c);
    add_row(
        "entropy_loss (realm)",
        2.0 * mb,
        time(device, |rec| entropy::entropy_loss(rec, &x, &terms, &y, realm, 1.0))?,
    );
    add_row("byol_loss", 3.0 * mb, time(device, |rec| byol::byol_loss(rec, &x, &z, &losses, &y, 2, 1.0))?);
    let n = r * c;
    let flat = |t: &Tensor| t.reshape(&[n]);
    let (p, gr, m) = (flat(&x)?, flat(&y)?, flat(&z)?);
    let v = Tensor::from_f32(device, "v", &[n], &vec![0.5; n])?;
    let partials = Tensor::from_f32(device, "partials", &[optim::NORM_PARTIALS], &[0.0; optim::NORM_PARTIALS])?;
    let norm_t = Tensor::from_f32(device, "norm", &[1], &[0.0])?;
    let step = optim::AdamWStep {
        lr: 1e-9,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.0,
        clip: 0.0,
        t: 1,
        n_decay: 0,
    };
    add_row(
        "global_norm + adamw",
        8.0 * mb,
        time(device, |rec| {
            optim::global_norm(rec, &gr, &partials, &norm_t)?;
            optim::adamw(rec, &p, &gr, &m, &v, &norm_t, &step)
        })?,
    );
    // Bayes-by-Backprop over the same 1M weights: μ and ρ read, w written; then μ, ρ, dw read
    // and dμ, dρ read and written; the KL reads μ and ρ.
    let (dmu, drho) = (random(device, &mut rng, &[n])?, random(device, &mut rng, &[n])?);
    let bbb = bayes::BayesOpts { seed: 1, prior_std: 1.0, kl_weight: 1e-6 };
    add_row("bayes_sample", 3.0 * mb, time(device, |rec| bayes::bayes_sample(rec, &p, &m, &gr, &bbb))?);
    add_row("bayes_backward", 7.0 * mb, time(device, |rec| bayes::bayes_backward(rec, &p, &m, &v, &dmu, &drho, &bbb))?);
    let kl_partials = Tensor::from_f32(device, "partials", &[bayes::KL_PARTIALS], &[0.0; bayes::KL_PARTIALS])?;
    add_row("bayes_kl", 2.0 * mb, time(device, |rec| bayes::bayes_kl(rec, &p, &m, &kl_partials, &norm_t, &bbb))?);
    bench_augment(device, &mut rng, rows)
}

/// The augment kernel: 4096 views of 16×16 from 64 images of 24×24 (crop, flip, jitter, noise),
/// counted by the views written.
fn bench_augment(device: &Device, rng: &mut Rng, rows: &mut Vec<Row>) -> Result<()> {
    let (images, in_size, views, out_size) = (64, 24, 4096, 16);
    let pixels = random(device, rng, &[images, in_size * in_size * 3])?;
    let src = Tensor::from_u32(
        device,
        "sources",
        &[views],
        &(0..views as u32).map(|i| i % images as u32).collect::<Vec<_>>(),
    )?;
    let aug = augment::AugmentConfig::default();
    let params: Vec<f32> = (0..views).flat_map(|_| aug.draw(rng, in_size).to_floats()).collect();
    let view = Tensor::from_f32(device, "view parameters", &[views, augment::VIEW_PARAMS], &params)?;
    let out = random(device, rng, &[views, out_size * out_size * 3])?;
    let shape = augment::AugmentShape { views, in_size, out_size, noise_std: aug.noise_std, seed: 1 };
    let s = time(device, |rec| augment::augment(rec, &pixels, &src, &view, &out, &shape))?;
    rows.push(Row {
        name: "augment".into(),
        shape: format!("{views} views {in_size}²→{out_size}²"),
        ms: s * 1e3,
        rate: (views * out_size * out_size * 3 * 4) as f64 / s / 1e9,
        unit: "GB/s",
        peak_fraction: None,
    });
    Ok(())
}

pub(super) fn bench_train(device: &Device, peak: Option<f64>, rows: &mut Vec<Row>) -> Result<()> {
    // The page's `#bench=train` measures the same way (sigmix::train::measure), so the two
    // numbers compare on one adapter.
    let (warm, timed) = if device.is_cpu() { (5, 95) } else { (4, 15) };
    let cfg = RunConfig::preset("tiny")?;
    let r = sigmix::train::measure(device, &cfg, warm, timed)?;
    let tokens_per_sec = r.tokens_per_sec;
    // 6·N FLOPs per token for the weights, plus attention (≈ 6·L·T·C per token, causal halved).
    let flops_per_token =
        6.0 * r.params as f64 + 6.0 * (cfg.model.n_layers * cfg.model.context * cfg.model.d_model) as f64;
    let gflops = tokens_per_sec * flops_per_token / 1e9;
    rows.push(Row {
        name: "train tiny (tokens/s)".into(),
        shape: format!("{} params, batch {}×{}", r.params, cfg.batch, cfg.model.context),
        ms: 1e3 * (cfg.batch * cfg.model.context) as f64 / tokens_per_sec,
        rate: tokens_per_sec,
        unit: "tokens/s",
        peak_fraction: peak.map(|p| gflops / p),
    });
    // What recording a step costs the host while the device works: where the device is fast,
    // the floor of a step.
    rows.push(Row {
        name: "train tiny: recording a step (host)".into(),
        shape: format!("{} kernels", r.kernels_per_step),
        ms: r.record_ms_per_step,
        rate: r.record_ms_per_step,
        unit: "ms",
        peak_fraction: None,
    });
    Ok(())
}
