//! Reference GPT forward loss in f64, composed from the reference kernels: the oracle for
//! the whole model's gradient (checked by finite differences against the GPU backward).

use std::collections::HashMap;

use crate::models::GptConfig;

use super::{cross_entropy, elementwise, flash, matmul, norm};
use crate::nn::AttentionKind;

/// Named parameters in f64.
pub type Params = HashMap<String, Vec<f64>>;

fn p<'a>(params: &'a Params, name: &str) -> &'a [f64] {
    match params.get(name) {
        Some(v) => v,
        None => panic!("reference GPT: missing parameter {name}"),
    }
}

fn linear(params: &Params, name: &str, x: &[f64], rows: usize, inp: usize, out: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * out];
    matmul::matmul(x, p(params, &format!("{name}.weight")), &mut y, rows, out, inp, false, true, 1.0, false);
    elementwise::bias_add(&y, p(params, &format!("{name}.bias")))
}

fn layer_norm(params: &Params, name: &str, x: &[f64], cfg: &GptConfig) -> Vec<f64> {
    let rms = cfg.norm == crate::ops::norm::NormKind::RmsNorm;
    norm::norm_forward(x, p(params, &format!("{name}.weight")), p(params, &format!("{name}.bias")), rms, 1e-5).0
}

/// Mean cross-entropy of the model on (tokens, targets), `batch` sequences of `cfg.context`.
pub fn loss(cfg: &GptConfig, params: &Params, tokens: &[u32], targets: &[u32], batch: usize) -> f64 {
    let (t, c, h) = (cfg.context, cfg.d_model, cfg.n_heads);
    let (rows, hd) = (batch * t, c / h);
    let positions: Vec<u32> = (0..rows).map(|r| (r % t) as u32).collect();
    let tok = super::embedding::embedding_forward(tokens, p(params, "wte.weight"), c);
    let pos = super::embedding::embedding_forward(&positions, p(params, "wpe.weight"), c);
    let mut x: Vec<f64> = tok.iter().zip(&pos).map(|(a, b)| a + b).collect();
    for l in 0..cfg.n_layers {
        let n = |s: &str| format!("h{l}.{s}");
        let a = layer_norm(params, &n("ln1"), &x, cfg);
        let qkv = linear(params, &n("attn.qkv"), &a, rows, c, 3 * c);
        // (rows, 3C) → q, k, v as (B·H, T, hd).
        let split = |part: usize| -> Vec<f64> {
            let mut out = vec![0.0; rows * c];
            for b in 0..batch {
                for hh in 0..h {
                    for tt in 0..t {
                        for d in 0..hd {
                            out[((b * h + hh) * t + tt) * hd + d] = qkv[(b * t + tt) * 3 * c + part * c + hh * hd + d];
                        }
                    }
                }
            }
            out
        };
        let spec = flash::AttnSpec {
            bh: batch * h,
            heads: h,
            n: t,
            d: hd,
            causal: true,
            alibi: false,
            sigmoid: cfg.attention == AttentionKind::Sigmoid,
            bias: cfg.sigmoid_bias.map_or(-(t as f64).ln(), |b| b as f64),
        };
        let (mut q, mut k) = (split(0), split(1));
        if cfg.qk_norm {
            // LayerNorm over each head's q and k (rows of head_dim), γ/β shared across heads.
            let pre = |which: &str| format!("h{l}.attn.{which}_norm");
            q = norm::norm_forward(
                &q,
                p(params, &format!("{}.weight", pre("q"))),
                p(params, &format!("{}.bias", pre("q"))),
                false,
                1e-5,
            )
            .0;
            k = norm::norm_forward(
                &k,
                p(params, &format!("{}.weight", pre("k"))),
                p(params, &format!("{}.bias", pre("k"))),
                false,
                1e-5,
            )
            .0;
        }
        let (o, _) = flash::forward(&spec, &q, &k, &split(2));
        let mut merged = vec![0.0; rows * c];
        for b in 0..batch {
            for hh in 0..h {
                for tt in 0..t {
                    for d in 0..hd {
                        merged[(b * t + tt) * c + hh * hd + d] = o[((b * h + hh) * t + tt) * hd + d];
                    }
                }
            }
        }
        let proj = linear(params, &n("attn.proj"), &merged, rows, c, c);
        x.iter_mut().zip(&proj).for_each(|(a, b)| *a += b);
        let m = layer_norm(params, &n("ln2"), &x, cfg);
        let hidden = c * cfg.mlp_ratio;
        let fc: Vec<f64> =
            linear(params, &n("mlp.fc"), &m, rows, c, hidden).into_iter().map(elementwise::gelu).collect();
        let y = linear(params, &n("mlp.proj"), &fc, rows, hidden, c);
        x.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
    }
    let f = layer_norm(params, "lnf", &x, cfg);
    let head = if cfg.tied_head { "wte.weight" } else { "lm_head.weight" };
    let mut logits = vec![0.0; rows * cfg.vocab];
    matmul::matmul(&f, p(params, head), &mut logits, rows, cfg.vocab, c, false, true, 1.0, false);
    let (losses, _) = cross_entropy::cross_entropy(&logits, targets, cfg.vocab, 1.0);
    losses.iter().sum::<f64>() / rows as f64
}
