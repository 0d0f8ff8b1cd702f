//! Causal multi-head self-attention.
//!
//! `AttentionKind::Naive` materialises the (B, H, T, T) probabilities with the strided
//! matmul and the row softmax: the reference path that flash kernels slot in behind.
//! Heads are read straight out of the fused QKV activation through matmul strides, so no
//! permute kernels run: row r = b·T + t of qkv holds [q | k | v], head h at column h·hd.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Recorder};
use crate::kernels::matmul::{MatmulLayout, Strides, matmul_strided};
use crate::kernels::softmax::{SoftmaxOpts, softmax_backward, softmax_forward};
use crate::nn::Linear;
use crate::nn::params::{ParamBuilder, Weights};
use crate::tensor::{DType, Tensor};

/// Which attention implementation a layer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKind {
    /// Softmax attention with the probabilities materialised (O(T²) memory).
    #[default]
    Naive,
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

/// Causal self-attention: qkv projection, attention, output projection.
pub struct Attention {
    dims: Dims,
    qkv: Linear,
    proj: Linear,
    qkv_out: Tensor,
    probs: Tensor,
    att: Tensor,
    dqkv: Tensor,
    dprobs: Tensor,
    scores: Tensor,
    datt: Tensor,
}

impl Attention {
    /// Builds a layer for `batch` sequences of `seq` tokens, width `dim`, `heads` heads.
    pub fn new(
        gpu: &Arc<Gpu>,
        pb: &mut ParamBuilder,
        name: &str,
        batch: usize,
        seq: usize,
        dim: usize,
        heads: usize,
        std: f32,
        proj_std: f32,
    ) -> Result<Attention> {
        if heads == 0 || !dim.is_multiple_of(heads) {
            return Err(Error::Config(format!("{name}: width {dim} is not divisible by {heads} heads")));
        }
        let dims = Dims { batch, seq, heads, head_dim: dim / heads };
        let rows = batch * seq;
        let t = |what: &str, shape: &[usize]| Tensor::empty(gpu, &format!("{name}.{what}"), shape, DType::F32);
        let scores = [batch, heads, seq, seq];
        Ok(Attention {
            dims,
            qkv: Linear::new(gpu, pb, &format!("{name}.qkv"), rows, dim, 3 * dim, std)?,
            proj: Linear::new(gpu, pb, &format!("{name}.proj"), rows, dim, dim, proj_std)?,
            qkv_out: t("qkv_out", &[rows, 3 * dim])?,
            probs: t("probs", &scores)?,
            att: t("att", &[rows, dim])?,
            dqkv: t("dqkv", &[rows, 3 * dim])?,
            dprobs: t("dprobs", &scores)?,
            scores: t("scores", &scores)?,
            datt: t("datt", &[rows, dim])?,
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
        // S = Q·Kᵀ (scaled inside the softmax), P = softmax(S), O = P·V.
        let s = d.layout(t, t, hd, d.qkv_part(0), d.qkv_part_t(1), d.scores());
        matmul_strided(rec, &self.qkv_out, &self.qkv_out, &self.scores, &s)?;
        softmax_forward(rec, &self.scores, &self.probs, self.softmax_opts())?;
        let o = d.layout(t, hd, t, d.scores(), d.qkv_part(2), d.heads_of_model());
        matmul_strided(rec, &self.probs, &self.qkv_out, &self.att, &o)?;
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
        // dP = dO·Vᵀ and dV = Pᵀ·dO.
        let dp = d.layout(t, t, hd, d.heads_of_model(), d.qkv_part_t(2), d.scores());
        matmul_strided(rec, &self.datt, &self.qkv_out, &self.dprobs, &dp)?;
        let dv = d.layout(t, hd, t, d.scores_t(), d.heads_of_model(), d.qkv_part(2));
        matmul_strided(rec, &self.probs, &self.datt, &self.dqkv, &dv)?;
        // dS = scale·P⊙(dP − rowsum(P⊙dP)); dQ = dS·K, dK = dSᵀ·Q.
        softmax_backward(rec, &self.probs, &self.dprobs, &self.scores, self.softmax_opts())?;
        let dq = d.layout(t, hd, t, d.scores(), d.qkv_part(1), d.qkv_part(0));
        matmul_strided(rec, &self.scores, &self.qkv_out, &self.dqkv, &dq)?;
        let dk = d.layout(t, hd, t, d.scores_t(), d.qkv_part(0), d.qkv_part(1));
        matmul_strided(rec, &self.scores, &self.qkv_out, &self.dqkv, &dk)?;
        self.qkv.backward(rec, w, x, &self.dqkv, Some(dx), accumulate)
    }

    /// The attention probabilities of the last forward pass, (B, H, T, T).
    pub fn probs(&self) -> &Tensor {
        &self.probs
    }
}
