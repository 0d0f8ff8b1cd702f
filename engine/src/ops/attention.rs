//! Attention's kind, the layout of Q/K/V and O, and its options, shared by the launchers, the CPU
//! twin and the f64 reference.

/// Which normalisation of the attention weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttnKind {
    /// σ(logits + b), no row normalisation (FlashSigmoid).
    Sigmoid,
    /// softmax(logits) (FlashAttention-2).
    Softmax,
}

/// Where Q, K, V (one buffer) and O live: element (b, h, t, j) at off + b·sb + h·sh + t·st + j.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnLayout {
    /// Batch size B.
    pub batch: usize,
    /// Heads H.
    pub heads: usize,
    /// Sequence length n.
    pub n: usize,
    /// Head dimension d.
    pub d: usize,
    /// Q/K/V (and dQ/dK/dV) strides: token, head, batch.
    pub qkv_strides: [usize; 3],
    /// Offsets of Q, K and V in the QKV buffer.
    pub qkv_offsets: [usize; 3],
    /// O (and dO) strides: token, head, batch.
    pub o_strides: [usize; 3],
}

impl AttnLayout {
    /// Q, K, V each (B, H, n, d) one after the other in one buffer; O (B, H, n, d).
    pub fn packed(batch: usize, heads: usize, n: usize, d: usize) -> AttnLayout {
        let one = batch * heads * n * d;
        AttnLayout {
            batch,
            heads,
            n,
            d,
            qkv_strides: [d, n * d, heads * n * d],
            qkv_offsets: [0, one, 2 * one],
            o_strides: [d, n * d, heads * n * d],
        }
    }

    /// The GPT's fused activation: qkv (B·n, 3·H·d) rows of [q | k | v], O (B·n, H·d).
    pub fn fused(batch: usize, heads: usize, n: usize, d: usize) -> AttnLayout {
        let c = heads * d;
        AttnLayout {
            batch,
            heads,
            n,
            d,
            qkv_strides: [3 * c, d, n * 3 * c],
            qkv_offsets: [0, c, 2 * c],
            o_strides: [c, d, n * c],
        }
    }

    fn max_index(&self, strides: [usize; 3], offset: usize) -> usize {
        offset + (self.n - 1) * strides[0] + (self.heads - 1) * strides[1] + (self.batch - 1) * strides[2] + self.d - 1
    }

    /// Elements the QKV (and dQKV) buffer must hold for this layout.
    pub fn qkv_len(&self) -> usize {
        self.qkv_offsets.iter().map(|off| self.max_index(self.qkv_strides, *off)).max().unwrap_or(0) + 1
    }

    /// Elements the O (and dO) buffer must hold for this layout.
    pub fn o_len(&self) -> usize {
        self.max_index(self.o_strides, 0) + 1
    }

    /// Elements a (B·H·n) statistics tensor (softmax LSE, D) holds.
    pub fn stats_len(&self) -> usize {
        self.batch * self.heads * self.n
    }
}

/// Attention settings.
#[derive(Clone, Copy, Debug)]
pub struct AttnOpts {
    /// Sigmoid or softmax.
    pub kind: AttnKind,
    /// Causal mask.
    pub causal: bool,
    /// ALiBi position bias.
    pub alibi: bool,
    /// Sigmoid logit bias b; `None` = −ln n (the paper's default).
    pub bias: Option<f32>,
    /// vec4s per shared tile (multiple of 16, 64..=1024); `None` = the largest the adapter's
    /// workgroup memory allows. For tuning and for testing small tiles.
    pub tile: Option<usize>,
}
