//! AdamW with global-norm clipping: the state (m, v, norm scratch) and one step's dispatches.

use crate::error::Result;
use crate::kernels::optim::{AdamWStep, NORM_PARTIALS, adamw, global_norm};
use crate::nn::Weights;
use crate::recorder::Recorder;
use crate::tensor::Device;
use crate::tensor::Tensor;

/// AdamW hyper-parameters (the learning rate comes from the schedule each step).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator epsilon.
    pub eps: f32,
    /// Decoupled weight decay on matrices (not on norms and biases).
    pub weight_decay: f32,
    /// Clip the global gradient norm to this (0 disables).
    pub grad_clip: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, grad_clip: 1.0 }
    }
}

/// Optimiser state for one model.
pub struct AdamW {
    config: AdamWConfig,
    m: Tensor,
    v: Tensor,
    partials: Tensor,
    norm: Tensor,
    t: u32,
}

impl AdamW {
    /// Zero moments shaped like `weights`.
    pub fn new(device: &Device, weights: &Weights, config: AdamWConfig) -> Result<AdamW> {
        let n = weights.params().len();
        let zeros = vec![0.0; n];
        Ok(AdamW {
            config,
            m: Tensor::from_f32(device, "adam m", &[n], &zeros)?,
            v: Tensor::from_f32(device, "adam v", &[n], &zeros)?,
            partials: Tensor::from_f32(device, "norm partials", &[NORM_PARTIALS], &[0.0; NORM_PARTIALS])?,
            norm: Tensor::from_f32(device, "grad norm", &[1], &[0.0])?,
            t: 0,
        })
    }

    /// Records the gradient norm and one AdamW update at learning rate `lr`.
    pub fn step(&mut self, rec: &mut Recorder, weights: &Weights, lr: f32) -> Result<()> {
        self.t += 1;
        let c = &self.config;
        global_norm(rec, weights.grads(), &self.partials, &self.norm)?;
        let s = AdamWStep {
            lr,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
            clip: c.grad_clip,
            t: self.t,
            n_decay: weights.n_decay(),
        };
        adamw(rec, weights.params(), weights.grads(), &self.m, &self.v, &self.norm, &s)
    }

    /// The gradient norm (before clipping) of the last step; waits for the GPU.
    pub fn read_grad_norm(&self) -> Result<f32> {
        Ok(self.norm.to_f32()?.first().copied().unwrap_or(0.0))
    }
}
