//! Causal multi-head self-attention.
//!
//! `AttentionKind::Sigmoid` and `Softmax` run the flash kernels (no T×T buffer);
//! `AttentionKind::Naive` materialises the (B, H, T, T) softmax probabilities with the
//! strided matmul and the row softmax, kept as a readable reference path.
//! Heads are read straight out of the fused QKV activation through matmul strides, so no
//! permute kernels run: row r = b·T + t of qkv holds [q | k | v], head h at column h·hd.

use crate::error::{Error, Result};
use crate::kernels::attention::{AttnKind, AttnLayout, AttnOpts, SoftmaxStats, attention_backward, attention_forward};
use crate::kernels::matmul::{MatmulLayout, Strides, matmul_strided};
use crate::kernels::norm::{NormKind, RowLayout, norm_backward_rows, norm_forward_rows};
use crate::kernels::softmax::{SoftmaxOpts, softmax_backward, softmax_forward};
use crate::nn::Linear;
use crate::nn::params::{Init, ParamBuilder, ParamId, Weights};
use crate::recorder::Recorder;
use crate::tensor::Device;

/// Epsilon of the QK-norm LayerNorms.
const QK_NORM_EPS: f32 = 1e-5;
use crate::tensor::{DType, Tensor};

/// Which attention implementation a layer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKind {
    /// Softmax attention with the probabilities materialised (O(T²) memory).
    Naive,
    /// Flash softmax attention (FlashAttention-2 style).
    #[default]
    Softmax,
    /// Flash sigmoid attention (FlashSigmoid), logit bias b (default −ln T).
    Sigmoid,
}

/// Shape of one attention layer's problem.
#[derive(Clone, Copy, Debug)]
struct Dims {
    batch: usize,
    seq: usize,
    heads: usize,
    head_dim: usize,
}

impl Dims {
    fn model(&self) -> usize {
        self.heads * self.head_dim
    }

    /// One head of q (part 0), k (1) or v (2) inside qkv (rows, 3C): a T × hd view per (b, h).
    fn qkv_part(&self, part: usize) -> Strides {
        let c3 = 3 * self.model();
        Strides { offset: part * self.model(), row: c3, col: 1, batch1: self.seq * c3, batch2: self.head_dim }
    }

    /// The same view transposed (hd × T).
    fn qkv_part_t(&self, part: usize) -> Strides {
        let s = self.qkv_part(part);
        Strides { row: s.col, col: s.row, ..s }
    }

    /// One head of a (rows, C) activation: T × hd per (b, h).
    fn heads_of_model(&self) -> Strides {
        let c = self.model();
        Strides { offset: 0, row: c, col: 1, batch1: self.seq * c, batch2: self.head_dim }
    }

    /// A (B, H, T, T) score tensor, T × T per (b, h).
    fn scores(&self) -> Strides {
        let tt = self.seq * self.seq;
        Strides { offset: 0, row: self.seq, col: 1, batch1: self.heads * tt, batch2: tt }
    }

    fn scores_t(&self) -> Strides {
        let s = self.scores();
        Strides { row: s.col, col: s.row, ..s }
    }

    fn layout(&self, m: usize, n: usize, k: usize, a: Strides, b: Strides, c: Strides) -> MatmulLayout {
        MatmulLayout { m, n, k, batch: (self.batch, self.heads), a, b, c, alpha: 1.0, accumulate: false }
    }
}

/// Buffers of the materialised path: (B, H, T, T) each.
struct Materialised {
    probs: Tensor,
    /// S in the forward pass, dS in the backward pass.
    scores: Tensor,
    dprobs: Tensor,
}

/// Buffers of the flash path: per-row statistics only (softmax).
struct Flash {
    opts: AttnOpts,
    layout: AttnLayout,
    lse: Tensor,
    delta: Tensor,
}

enum Core {
    Materialised(Materialised),
    Flash(Flash),
}

/// QK-norm (Dehghani et al. 2023; on in every LM config of the sigmoid-attention paper):
/// LayerNorm over each head's q and k, γ and β of size head_dim shared across heads. The
/// normalised copy of the QKV activation (v copied as is) feeds the attention core.
struct QkNorm {
    q: (ParamId, ParamId),
    k: (ParamId, ParamId),
    qkv_n: Tensor,
    dqkv_n: Tensor,
    stats_q: Tensor,
    stats_k: Tensor,
}

/// Causal self-attention: qkv projection, attention, output projection.
pub struct Attention {
    dims: Dims,
    qkv: Linear,
    proj: Linear,
    qkv_out: Tensor,
    att: Tensor,
    dqkv: Tensor,
    datt: Tensor,
    core: Core,
    qk_norm: Option<QkNorm>,
}

/// What an attention layer computes and over what: named fields where `Attention::new` took
/// three flags and four sizes in a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionSpec {
    /// Materialised softmax, flash softmax or flash sigmoid.
    pub kind: AttentionKind,
    /// The sigmoid logit bias (`None` = −ln T).
    pub sigmoid_bias: Option<f32>,
    /// LayerNorm over each head's q and k.
    pub qk_norm: bool,
    /// Sequences per batch.
    pub batch: usize,
    /// Tokens per sequence T.
    pub seq: usize,
    /// Model width (heads × head dimension).
    pub dim: usize,
    /// Attention heads.
    pub heads: usize,
}

impl Attention {
    /// Builds a layer of shape and kind `spec`; `std` initialises the qkv projection and
    /// `proj_std` the output projection.
    pub fn new(
        device: &Device,
        pb: &mut ParamBuilder,
        name: &str,
        spec: &AttentionSpec,
        std: f32,
        proj_std: f32,
    ) -> Result<Attention> {
        let AttentionSpec { kind, sigmoid_bias, qk_norm, batch, seq, dim, heads } = *spec;
        if heads == 0 || !dim.is_multiple_of(heads) {
            return Err(Error::Config(format!("{name}: width {dim} is not divisible by {heads} heads")));
        }
        let dims = Dims { batch, seq, heads, head_dim: dim / heads };
        let rows = batch * seq;
        let t = |what: &str, shape: &[usize]| Tensor::empty(device, &format!("{name}.{what}"), shape, DType::F32);
        let scores = [batch, heads, seq, seq];
        let flash = |k: AttnKind| -> Result<Core> {
            let stats = batch * heads * seq;
            Ok(Core::Flash(Flash {
                opts: AttnOpts { kind: k, causal: true, alibi: false, bias: sigmoid_bias, tile: None },
                layout: AttnLayout::fused(batch, heads, seq, dims.head_dim),
                lse: t("lse", &[stats])?,
                delta: t("delta", &[stats])?,
            }))
        };
        let core = match kind {
            AttentionKind::Naive => Core::Materialised(Materialised {
                probs: t("probs", &scores)?,
                scores: t("scores", &scores)?,
                dprobs: t("dprobs", &scores)?,
            }),
            AttentionKind::Softmax => flash(AttnKind::Softmax)?,
            AttentionKind::Sigmoid => flash(AttnKind::Sigmoid)?,
        };
        Ok(Attention {
            dims,
            qkv: Linear::new(device, pb, &format!("{name}.qkv"), rows, dim, 3 * dim, std)?,
            proj: Linear::new(device, pb, &format!("{name}.proj"), rows, dim, dim, proj_std)?,
            qkv_out: t("qkv_out", &[rows, 3 * dim])?,
            att: t("att", &[rows, dim])?,
            dqkv: t("dqkv", &[rows, 3 * dim])?,
            datt: t("datt", &[rows, dim])?,
            core,
            qk_norm: if qk_norm {
                let hd = dims.head_dim;
                let mut pair = |which: &str| {
                    (
                        pb.declare(&format!("{name}.{which}_norm.weight"), &[hd], Init::Const(1.0), false),
                        pb.declare(&format!("{name}.{which}_norm.bias"), &[hd], Init::Const(0.0), false),
                    )
                };
                Some(QkNorm {
                    q: pair("q"),
                    k: pair("k"),
                    qkv_n: t("qkv_n", &[rows, 3 * dim])?,
                    dqkv_n: t("dqkv_n", &[rows, 3 * dim])?,
                    stats_q: t("stats_q", &[rows * heads, 2])?,
                    stats_k: t("stats_k", &[rows * heads, 2])?,
                })
            } else {
                None
            },
        })
    }

    fn softmax_opts(&self) -> SoftmaxOpts {
        SoftmaxOpts { scale: 1.0 / (self.dims.head_dim as f32).sqrt(), causal: true, q_len: self.dims.seq }
    }

    /// y = proj(attention(qkv(x))).
    pub fn forward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor, y: &Tensor) -> Result<()> {
        let d = self.dims;
        let (t, hd) = (d.seq, d.head_dim);
        self.qkv.forward(rec, w, x, &self.qkv_out)?;
        let qkv = self.qk_norm_forward(rec, w)?;
        match &self.core {
            Core::Flash(f) => attention_forward(rec, qkv, &self.att, Some(&f.lse), &f.layout, &f.opts)?,
            Core::Materialised(m) => {
                // S = Q·Kᵀ (scaled inside the softmax), P = softmax(S), O = P·V.
                let s = d.layout(t, t, hd, d.qkv_part(0), d.qkv_part_t(1), d.scores());
                matmul_strided(rec, qkv, qkv, &m.scores, &s)?;
                softmax_forward(rec, &m.scores, &m.probs, self.softmax_opts())?;
                let o = d.layout(t, hd, t, d.scores(), d.qkv_part(2), d.heads_of_model());
                matmul_strided(rec, &m.probs, qkv, &self.att, &o)?;
            }
        }
        self.proj.forward(rec, w, &self.att, y)
    }

    /// Parameter gradients, and dx (+)= ∂L/∂x.
    pub fn backward(
        &self,
        rec: &mut Recorder,
        w: &Weights,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        let d = self.dims;
        let (t, hd) = (d.seq, d.head_dim);
        self.proj.backward(rec, w, &self.att, dy, Some(&self.datt), false)?;
        let (qkv, dqkv) = match &self.qk_norm {
            Some(n) => (&n.qkv_n, &n.dqkv_n),
            None => (&self.qkv_out, &self.dqkv),
        };
        match &self.core {
            Core::Flash(f) => {
                let stats = (f.opts.kind == AttnKind::Softmax).then_some(SoftmaxStats { lse: &f.lse, delta: &f.delta });
                attention_backward(rec, qkv, &self.att, &self.datt, dqkv, stats, &f.layout, &f.opts)?;
            }
            Core::Materialised(m) => {
                // dP = dO·Vᵀ and dV = Pᵀ·dO.
                let dp = d.layout(t, t, hd, d.heads_of_model(), d.qkv_part_t(2), d.scores());
                matmul_strided(rec, &self.datt, qkv, &m.dprobs, &dp)?;
                let dv = d.layout(t, hd, t, d.scores_t(), d.heads_of_model(), d.qkv_part(2));
                matmul_strided(rec, &m.probs, &self.datt, dqkv, &dv)?;
                // dS = scale·P⊙(dP − rowsum(P⊙dP)); dQ = dS·K, dK = dSᵀ·Q.
                softmax_backward(rec, &m.probs, &m.dprobs, &m.scores, self.softmax_opts())?;
                let dq = d.layout(t, hd, t, d.scores(), d.qkv_part(1), d.qkv_part(0));
                matmul_strided(rec, &m.scores, qkv, dqkv, &dq)?;
                let dk = d.layout(t, hd, t, d.scores_t(), d.qkv_part(0), d.qkv_part(1));
                matmul_strided(rec, &m.scores, qkv, dqkv, &dk)?;
            }
        }
        self.qk_norm_backward(rec, w)?;
        self.qkv.backward(rec, w, x, &self.dqkv, Some(dx), accumulate)
    }

    /// Rows of q (part 0) or k (part 1) heads inside the fused (rows, 3C) activation.
    fn head_rows(&self, part: usize) -> RowLayout {
        let d = self.dims;
        RowLayout {
            rows: d.batch * d.seq * d.heads,
            cols: d.head_dim,
            group: d.heads,
            outer: 3 * d.model(),
            offset: part * d.model(),
        }
    }

    /// Normalises q and k into `qkv_n` (v copied); returns the activation the core reads.
    /// The fused [q | k | v] rows the attention core read in the last forward pass (after
    /// QK-norm when it is on): what an attention map of the trained layer is computed from.
    pub fn attention_input(&self) -> &Tensor {
        match &self.qk_norm {
            Some(n) => &n.qkv_n,
            None => &self.qkv_out,
        }
    }

    fn qk_norm_forward(&self, rec: &mut Recorder, w: &Weights) -> Result<&Tensor> {
        let Some(n) = &self.qk_norm else {
            return Ok(&self.qkv_out);
        };
        rec.copy(&self.qkv_out, &n.qkv_n)?;
        for (part, (g, b), stats) in [(0, n.q, &n.stats_q), (1, n.k, &n.stats_k)] {
            norm_forward_rows(
                rec,
                NormKind::LayerNorm,
                &self.head_rows(part),
                &self.qkv_out,
                &w.value(g),
                &w.value(b),
                &n.qkv_n,
                stats,
                QK_NORM_EPS,
            )?;
        }
        Ok(&n.qkv_n)
    }

    /// Turns the core's gradient w.r.t. the normalised activation into `dqkv`.
    fn qk_norm_backward(&self, rec: &mut Recorder, w: &Weights) -> Result<()> {
        let Some(n) = &self.qk_norm else {
            return Ok(());
        };
        rec.copy(&n.dqkv_n, &self.dqkv)?;
        for (part, (g, b), stats) in [(0, n.q, &n.stats_q), (1, n.k, &n.stats_k)] {
            let rl = self.head_rows(part);
            norm_backward_rows(
                rec,
                NormKind::LayerNorm,
                &rl,
                &self.qkv_out,
                &w.value(g),
                stats,
                &n.dqkv_n,
                &self.dqkv,
                &w.grad(g),
                &w.grad(b),
                false,
            )?;
        }
        Ok(())
    }

    /// The attention probabilities of the last forward pass, (B, H, T, T), when the layer
    /// materialises them (`AttentionKind::Naive`).
    pub fn probs(&self) -> Option<&Tensor> {
        match &self.core {
            Core::Materialised(m) => Some(&m.probs),
            Core::Flash(_) => None,
        }
    }
}
