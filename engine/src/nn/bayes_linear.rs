//! A Bayes-by-Backprop linear layer (BYOV, docs/papers.md §8): y = x·Wᵀ + b with W drawn from
//! a mean-field Gaussian posterior N(μ, softplus(ρ)²) each step (`kernels::bayes`), the bias
//! deterministic. Training sees the draw; the gradient of W becomes those of μ and ρ, with the
//! KL to the prior's added, so one `AdamW` step over the slab trains the posterior.

use crate::error::Result;
use crate::kernels::bayes::{self, BayesOpts, KL_PARTIALS};
use crate::kernels::{elementwise, matmul};
use crate::nn::params::{Init, ParamBuilder, ParamId, Weights};
use crate::recorder::Recorder;
use crate::tensor::{DType, Device, Tensor};

/// Where the posterior starts [I, labelled defaults]: μ ~ N(0, std²) as a deterministic
/// layer's weights, and ρ = −5 everywhere (σ ≈ 0.0067, so the first draws are close to μ).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BayesInit {
    /// Standard deviation of the means' initial draw.
    pub std: f32,
    /// Initial raw scale ρ (σ = softplus(ρ)).
    pub rho: f32,
}

impl Default for BayesInit {
    fn default() -> Self {
        BayesInit { std: 0.02, rho: -5.0 }
    }
}

/// A fully connected layer over `rows` rows whose weights are a distribution.
pub struct BayesLinear {
    /// Posterior means (out, in).
    pub mu: ParamId,
    /// Posterior raw scales (out, in): σ = softplus(ρ).
    pub rho: ParamId,
    /// Bias (out), deterministic.
    pub b: ParamId,
    draw: Tensor,
    ddraw: Tensor,
    xw: Tensor,
    kl_partials: Tensor,
    kl: Tensor,
}

impl BayesLinear {
    /// Declares μ, ρ (neither decayed: the KL term is their regulariser) and b = 0, and
    /// allocates the draw, its gradient and the pre-bias product for `rows` rows.
    pub fn new(
        device: &Device,
        pb: &mut ParamBuilder,
        name: &str,
        (rows, inp, out): (usize, usize, usize),
        init: BayesInit,
    ) -> Result<BayesLinear> {
        let t = |what: &str, shape: &[usize]| Tensor::empty(device, &format!("{name}.{what}"), shape, DType::F32);
        Ok(BayesLinear {
            mu: pb.declare(&format!("{name}.weight_mu"), &[out, inp], Init::Normal(init.std), false),
            rho: pb.declare(&format!("{name}.weight_rho"), &[out, inp], Init::Const(init.rho), false),
            b: pb.declare(&format!("{name}.bias"), &[out], Init::Const(0.0), false),
            draw: t("weight_draw", &[out, inp])?,
            ddraw: t("weight_draw_grad", &[out, inp])?,
            xw: t("xw", &[rows, out])?,
            kl_partials: t("kl_partials", &[KL_PARTIALS])?,
            kl: t("kl", &[1])?,
        })
    }

    /// Draws the weights for this step (`o.seed`: the same seed, the same draw).
    pub fn sample(&self, rec: &mut Recorder, w: &Weights, o: &BayesOpts) -> Result<()> {
        bayes::bayes_sample(rec, &w.value(self.mu), &w.value(self.rho), &self.draw, o)
    }

    /// The weights the last `sample` drew.
    pub fn draw(&self) -> &Tensor {
        &self.draw
    }

    /// y = x·W_drawᵀ + b (after `sample`).
    pub fn forward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor, y: &Tensor) -> Result<()> {
        matmul::matmul(rec, x, &self.draw, &self.xw, matmul::MatmulOpts { trans_b: true, ..Default::default() })?;
        elementwise::bias_add(rec, &self.xw, &w.value(self.b), y)
    }

    /// Through the draw of the same `o.seed`: dμ, dρ += the gradients of `Σ dy·y + k·KL`
    /// (k = `o.kl_weight`), db += Σ dy, and dx = dy·W_draw (added into `dx` when
    /// `accumulate`).
    pub fn backward(
        &self,
        rec: &mut Recorder,
        w: &Weights,
        (x, dy): (&Tensor, &Tensor),
        dx: Option<&Tensor>,
        accumulate: bool,
        o: &BayesOpts,
    ) -> Result<()> {
        matmul::matmul(rec, dy, x, &self.ddraw, matmul::MatmulOpts { trans_a: true, ..Default::default() })?;
        elementwise::bias_grad(rec, dy, &w.grad(self.b))?;
        if let Some(dx) = dx {
            matmul::matmul(rec, dy, &self.draw, dx, matmul::MatmulOpts { accumulate, ..Default::default() })?;
        }
        let (mu, rho) = (w.value(self.mu), w.value(self.rho));
        bayes::bayes_backward(rec, &mu, &rho, &self.ddraw, &w.grad(self.mu), &w.grad(self.rho), o)
    }

    /// Records KL(q ‖ p) over this layer's weights into a one-element tensor it returns.
    pub fn kl(&self, rec: &mut Recorder, w: &Weights, o: &BayesOpts) -> Result<&Tensor> {
        bayes::bayes_kl(rec, &w.value(self.mu), &w.value(self.rho), &self.kl_partials, &self.kl, o)?;
        Ok(&self.kl)
    }
}
