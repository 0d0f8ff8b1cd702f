//! A tiny GPT: token + position embeddings, pre-norm blocks of causal self-attention and a
//! GELU MLP, a final norm and a (tied or untied) language-model head. Readable in one
//! sitting: the layers do the work, this file only wires them.

use crate::error::{Error, Result};
use crate::kernels::cross_entropy::cross_entropy;
use crate::kernels::distill::{DistillLoss, distill_loss};
use crate::kernels::elementwise::add;
use crate::kernels::matmul::{MatmulOpts, matmul};
use crate::kernels::moe::{MAX_EXPERTS, MAX_TOP_K};
use crate::kernels::norm::NormKind;
use crate::nn::{
    Attention, AttentionKind, AttentionSpec, Embedding, Init, Mlp, Moe, MoeConfig, Norm, ParamBuilder, ParamId, Weights,
};
use crate::recorder::Recorder;
use crate::tensor::Device;
use crate::tensor::{DType, Tensor};

/// The architecture of a GPT.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GptConfig {
    /// Vocabulary size (256 for the byte tokenizer).
    pub vocab: usize,
    /// Context length T.
    pub context: usize,
    /// Model width C.
    pub d_model: usize,
    /// Number of blocks.
    pub n_layers: usize,
    /// Attention heads per block (C must be divisible by it).
    pub n_heads: usize,
    /// MLP hidden width as a multiple of C.
    pub mlp_ratio: usize,
    /// LayerNorm or RMSNorm.
    pub norm: NormKind,
    /// Attention implementation.
    pub attention: AttentionKind,
    /// Sigmoid attention's logit bias b; `None` = −ln(context), the paper's default.
    pub sigmoid_bias: Option<f32>,
    /// LayerNorm on each head's q and k before attention (the sigmoid paper's stable recipe).
    pub qk_norm: bool,
    /// Share the token embedding with the output head.
    pub tied_head: bool,
    /// The feed-forward block: a dense GELU MLP or a mixture of such experts.
    pub ffn: Ffn,
}

/// The feed-forward block of every layer.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ffn {
    /// One GELU MLP of width mlp_ratio·C.
    #[default]
    Dense,
    /// E expert MLPs of width mlp_ratio·C each, K of them per token.
    Moe(MoeConfig),
}

impl Default for GptConfig {
    fn default() -> Self {
        GptConfig {
            vocab: 256,
            context: 64,
            d_model: 64,
            n_layers: 2,
            n_heads: 4,
            mlp_ratio: 4,
            norm: NormKind::LayerNorm,
            attention: AttentionKind::Softmax,
            sigmoid_bias: None,
            qk_norm: false,
            tied_head: true,
            ffn: Ffn::Dense,
        }
    }
}

impl GptConfig {
    /// Checks the numbers make a model.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.vocab == 0 || self.context == 0 || self.d_model == 0 || self.n_layers == 0 || self.mlp_ratio == 0 {
            return bad(format!("vocab, context, d_model, n_layers and mlp_ratio must be positive: {self:?}"));
        }
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return bad(format!("d_model {} must be divisible by n_heads {}", self.d_model, self.n_heads));
        }
        if let Ffn::Moe(m) = &self.ffn
            && (m.experts == 0 || m.experts > MAX_EXPERTS || m.top_k == 0 || m.top_k > MAX_TOP_K.min(m.experts))
        {
            return bad(format!(
                "MoE needs 1 ≤ experts ≤ {MAX_EXPERTS} and 1 ≤ top_k ≤ min({MAX_TOP_K}, experts); got {} experts, top_k {}",
                m.experts, m.top_k
            ));
        }
        let hd = self.d_model / self.n_heads;
        if self.attention != AttentionKind::Naive && (!(16..=128).contains(&hd) || !hd.is_multiple_of(4)) {
            return bad(format!(
                "flash attention needs a head dimension that is a multiple of 4 in 16..=128, got d_model/n_heads = {hd}; change n_heads or use attention = \"naive\""
            ));
        }
        Ok(())
    }

    /// Parameter count (embeddings included), without building anything.
    pub fn param_count(&self) -> usize {
        self.count(false)
    }

    /// Parameters a token passes through: with MoE, the router and K of the E experts.
    pub fn active_params(&self) -> usize {
        self.count(true)
    }

    fn count(&self, active: bool) -> usize {
        let (c, v, t, h) = (self.d_model, self.vocab, self.context, self.d_model * self.mlp_ratio);
        let qk = if self.qk_norm { 4 * (c / self.n_heads.max(1)) } else { 0 };
        let ffn = match &self.ffn {
            Ffn::Dense => (c * h + h) + (h * c + c),
            Ffn::Moe(m) => {
                let (total, act) = m.param_counts(c, h);
                if active { act } else { total }
            }
        };
        let block = 2 * 2 * c + (3 * c * c + 3 * c) + (c * c + c) + ffn + qk;
        v * c + t * c + self.n_layers * block + 2 * c + if self.tied_head { 0 } else { v * c }
    }

    /// Parameters outside the token and position embeddings (and an untied head): the N of
    /// Kaplan-style scaling laws, which follow it more closely than the total at small sizes.
    pub fn non_embedding_params(&self) -> usize {
        let embeddings = (self.vocab + self.context) * self.d_model;
        let head = if self.tied_head { 0 } else { self.vocab * self.d_model };
        self.param_count() - embeddings - head
    }

    /// Experts per token (1 for a dense FFN).
    fn top_k(&self) -> usize {
        match &self.ffn {
            Ffn::Dense => 1,
            Ffn::Moe(m) => m.top_k,
        }
    }

    /// The largest buffers a batch of `batch` sequences needs, as (what, bytes).
    pub fn largest_buffers(&self, batch: usize) -> Vec<(String, u64)> {
        let rows = (batch * self.context) as u64;
        let t = self.context as u64;
        vec![
            ("logits".into(), rows * self.vocab as u64 * 4),
            (
                "attention probabilities".into(),
                if self.attention == AttentionKind::Naive { batch as u64 * self.n_heads as u64 * t * t * 4 } else { 0 },
            ),
            ("MLP activations".into(), rows * self.top_k() as u64 * (self.d_model * self.mlp_ratio) as u64 * 4),
            ("parameters".into(), self.param_count() as u64 * 4),
        ]
    }
}

/// A layer's feed-forward block.
enum FfnBlock {
    Dense(Box<Mlp>),
    Moe(Box<Moe>),
}

impl FfnBlock {
    fn forward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor, y: &Tensor) -> Result<()> {
        match self {
            FfnBlock::Dense(m) => m.forward(rec, w, x, y),
            FfnBlock::Moe(m) => m.forward(rec, w, x, y),
        }
    }

    fn backward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor, dy: &Tensor, dx: &Tensor) -> Result<()> {
        match self {
            FfnBlock::Dense(m) => m.backward(rec, w, x, dy, dx, false),
            FfnBlock::Moe(m) => m.backward(rec, w, x, dy, dx, false),
        }
    }
}

struct Block {
    ln1: Norm,
    attn: Attention,
    ln2: Norm,
    mlp: FfnBlock,
    /// Residual stream after attention (input of ln2).
    mid: Tensor,
}

/// A GPT built for a fixed batch: parameters, gradients and all activations allocated once.
pub struct Gpt {
    config: GptConfig,
    batch: usize,
    weights: Weights,
    wte: Embedding,
    wpe: Embedding,
    head: Option<ParamId>,
    blocks: Vec<Block>,
    lnf: Norm,
    /// Residual stream entering block l (index l) and leaving the last block (index L).
    resid: Vec<Tensor>,
    branch: Tensor,
    dresid: Tensor,
    dnorm: Tensor,
    tokens: Tensor,
    targets: Tensor,
    positions: Tensor,
    logits: Tensor,
    dlogits: Tensor,
    losses: Tensor,
}

impl Gpt {
    /// Builds the model for `batch` sequences, initialised from `seed` (GPT-2 style: N(0, 0.02),
    /// residual projections scaled by 1/√(2L)). Fails before allocating when a buffer would
    /// exceed the adapter's limit.
    pub fn new(device: &Device, config: &GptConfig, batch: usize, seed: u64) -> Result<Gpt> {
        config.validate()?;
        if batch == 0 {
            return Err(Error::Config("batch must be positive".into()));
        }
        let limit = device.max_tensor_bytes();
        for (what, bytes) in config.largest_buffers(batch) {
            if bytes > limit {
                return Err(Error::TooLarge { what, bytes, limit, adapter: device.label() });
            }
        }
        let c = config.d_model;
        let (t, rows) = (config.context, batch * config.context);
        let std = 0.02;
        let proj_std = std / (2.0 * config.n_layers as f32).sqrt();
        let mut pb = ParamBuilder::default();
        let wte = Embedding::new(&mut pb, "wte", config.vocab, c, std);
        let wpe = Embedding::new(&mut pb, "wpe", t, c, std);
        let attention = AttentionSpec {
            kind: config.attention,
            sigmoid_bias: config.sigmoid_bias,
            qk_norm: config.qk_norm,
            batch,
            seq: t,
            dim: c,
            heads: config.n_heads,
        };
        let mut blocks = Vec::new();
        for l in 0..config.n_layers {
            let n = |s: &str| format!("h{l}.{s}");
            blocks.push(Block {
                ln1: Norm::new(device, &mut pb, &n("ln1"), config.norm, rows, c)?,
                attn: Attention::new(device, &mut pb, &n("attn"), &attention, std, proj_std)?,
                ln2: Norm::new(device, &mut pb, &n("ln2"), config.norm, rows, c)?,
                mlp: match &config.ffn {
                    Ffn::Dense => FfnBlock::Dense(Box::new(Mlp::new(
                        device,
                        &mut pb,
                        &n("mlp"),
                        rows,
                        c,
                        c * config.mlp_ratio,
                        std,
                        proj_std,
                    )?)),
                    Ffn::Moe(m) => FfnBlock::Moe(Box::new(Moe::new(
                        device,
                        &mut pb,
                        &n("moe"),
                        rows,
                        c,
                        c * config.mlp_ratio,
                        m,
                        std,
                        proj_std,
                    )?)),
                },
                mid: Tensor::empty(device, &n("mid"), &[rows, c], DType::F32)?,
            });
        }
        let lnf = Norm::new(device, &mut pb, "lnf", config.norm, rows, c)?;
        let head =
            (!config.tied_head).then(|| pb.declare("lm_head.weight", &[config.vocab, c], Init::Normal(std), true));
        let weights = pb.build(device, seed)?;
        let act = |what: &str, shape: &[usize]| Tensor::empty(device, what, shape, DType::F32);
        let positions: Vec<u32> = (0..rows).map(|r| (r % t) as u32).collect();
        Ok(Gpt {
            config: config.clone(),
            batch,
            weights,
            wte,
            wpe,
            head,
            blocks,
            lnf,
            resid: (0..=config.n_layers).map(|l| act(&format!("resid{l}"), &[rows, c])).collect::<Result<_>>()?,
            branch: act("branch", &[rows, c])?,
            dresid: act("dresid", &[rows, c])?,
            dnorm: act("dnorm", &[rows, c])?,
            tokens: Tensor::empty(device, "tokens", &[rows], DType::U32)?,
            targets: Tensor::empty(device, "targets", &[rows], DType::U32)?,
            positions: Tensor::from_u32(device, "positions", &[rows], &positions)?,
            logits: act("logits", &[rows, config.vocab])?,
            dlogits: act("dlogits", &[rows, config.vocab])?,
            losses: act("losses", &[rows])?,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &GptConfig {
        &self.config
    }

    /// Sequences per batch this model was built for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Parameters and gradients.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Per-token losses of the last forward pass (batch·T).
    pub fn losses(&self) -> &Tensor {
        &self.losses
    }

    /// Logits of the last forward pass (batch·T, vocab).
    pub fn logits(&self) -> &Tensor {
        &self.logits
    }

    fn head_weight(&self) -> Tensor {
        self.weights.value(self.head.unwrap_or(self.wte.table))
    }

    /// Uploads a batch: `tokens` and `targets` hold batch·T ids each (row-major by sequence).
    pub fn set_batch(&self, tokens: &[u32], targets: &[u32]) -> Result<()> {
        if let Some(bad) = tokens.iter().find(|&&id| id as usize >= self.config.vocab) {
            return Err(Error::Config(format!("token id {bad} is outside the vocabulary of {}", self.config.vocab)));
        }
        self.tokens.write_u32(tokens)?;
        self.targets.write_u32(targets)
    }

    /// Records the forward pass and the loss; with `train` also dlogits for `backward`.
    pub fn forward(&self, rec: &mut Recorder, train: bool) -> Result<()> {
        self.forward_logits(rec)?;
        let rows = self.batch * self.config.context;
        let grad = train.then_some(&self.dlogits);
        cross_entropy(rec, &self.logits, &self.targets, &self.losses, grad, 1.0 / rows as f32)
    }

    /// Records the forward pass with the distillation loss against `teacher_logits` (another
    /// model's `logits()` on the same batch) in place of the cross-entropy, and its dlogits for
    /// `backward`: the losses are then (1 − λ)·CE + λ·τ²·KL per token.
    pub fn forward_distilled(&self, rec: &mut Recorder, teacher_logits: &Tensor, loss: DistillLoss) -> Result<()> {
        self.forward_logits(rec)?;
        let rows = self.batch * self.config.context;
        distill_loss(
            rec,
            &self.logits,
            teacher_logits,
            &self.targets,
            &self.losses,
            &self.dlogits,
            loss,
            1.0 / rows as f32,
        )
    }

    /// The layers up to the logits.
    fn forward_logits(&self, rec: &mut Recorder) -> Result<()> {
        let w = &self.weights;
        self.wte.forward(rec, w, &self.tokens, &self.resid[0], false)?;
        self.wpe.forward(rec, w, &self.positions, &self.resid[0], true)?;
        for (l, b) in self.blocks.iter().enumerate() {
            b.ln1.forward(rec, w, &self.resid[l])?;
            b.attn.forward(rec, w, &b.ln1.out, &self.branch)?;
            add(rec, &self.resid[l], &self.branch, &b.mid)?;
            b.ln2.forward(rec, w, &b.mid)?;
            b.mlp.forward(rec, w, &b.ln2.out, &self.branch)?;
            add(rec, &b.mid, &self.branch, &self.resid[l + 1])?;
        }
        self.lnf.forward(rec, w, &self.resid[self.blocks.len()])?;
        matmul(
            rec,
            &self.lnf.out,
            &self.head_weight(),
            &self.logits,
            MatmulOpts { trans_b: true, ..Default::default() },
        )
    }

    /// Records the backward pass of the mean loss; gradients accumulate into `weights().grads()`.
    pub fn backward(&self, rec: &mut Recorder) -> Result<()> {
        let w = &self.weights;
        let head_grad = w.grad(self.head.unwrap_or(self.wte.table));
        matmul(
            rec,
            &self.dlogits,
            &self.lnf.out,
            &head_grad,
            MatmulOpts { trans_a: true, accumulate: true, ..Default::default() },
        )?;
        matmul(rec, &self.dlogits, &self.head_weight(), &self.dnorm, MatmulOpts::default())?;
        let last = self.blocks.len();
        self.lnf.backward(rec, w, &self.resid[last], &self.dnorm, &self.dresid, false)?;
        // dresid holds ∂L/∂(residual stream) and is updated in place, block by block.
        for (l, b) in self.blocks.iter().enumerate().rev() {
            b.mlp.backward(rec, w, &b.ln2.out, &self.dresid, &self.dnorm)?;
            b.ln2.backward(rec, w, &b.mid, &self.dnorm, &self.dresid, true)?;
            b.attn.backward(rec, w, &b.ln1.out, &self.dresid, &self.dnorm, false)?;
            b.ln1.backward(rec, w, &self.resid[l], &self.dnorm, &self.dresid, true)?;
        }
        self.wte.backward(rec, w, &self.tokens, &self.dresid)?;
        self.wpe.backward(rec, w, &self.positions, &self.dresid)
    }

    /// Tokens routed to each expert in the last forward, per MoE layer (empty for dense
    /// models); reads back, so call it at logging steps.
    pub async fn expert_counts(&self) -> Result<Vec<Vec<u32>>> {
        let mut out = Vec::new();
        for b in &self.blocks {
            if let FfnBlock::Moe(m) = &b.mlp {
                out.push(m.routing.counts.read_u32().await?);
            }
        }
        Ok(out)
    }

    /// Runs `tokens` (exactly one context of ids) through the model and returns, per layer, the
    /// T × 3·d_model [q | k | v] rows its attention read: the raw material of attention maps.
    /// Overwrites the model's batch (the next training step sets its own).
    pub async fn attention_inputs(&self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let t = self.config.context;
        if tokens.len() != t {
            return Err(Error::Config(format!("attention maps need exactly {t} tokens, got {}", tokens.len())));
        }
        let mut batch = vec![0u32; self.batch * t];
        batch[..t].copy_from_slice(tokens);
        self.set_batch(&batch, &vec![0; self.batch * t])?;
        let mut rec = Recorder::new(self.tokens.device());
        self.forward(&mut rec, false)?;
        rec.submit()?;
        let width = 3 * self.config.d_model;
        let mut out = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            out.push(b.attn.attention_input().read_f32().await?[..t * width].to_vec());
        }
        Ok(out)
    }

    /// Mean loss of the last forward pass over rows whose target was counted (waits for the GPU).
    pub async fn read_mean_loss(&self) -> Result<f32> {
        let l = self.losses.read_f32().await?;
        Ok((l.iter().map(|v| *v as f64).sum::<f64>() / l.len().max(1) as f64) as f32)
    }
}
