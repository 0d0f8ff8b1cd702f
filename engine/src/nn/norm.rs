//! LayerNorm / RMSNorm layer with its saved statistics.

use crate::error::Result;
use crate::kernels::norm::{self, NormKind};
use crate::nn::params::{Init, ParamBuilder, ParamId, Weights};
use crate::recorder::Recorder;
use crate::tensor::Device;
use crate::tensor::{DType, Tensor};

/// Normalisation over the last dimension of (rows, dim) activations.
pub struct Norm {
    kind: NormKind,
    gamma: ParamId,
    beta: ParamId,
    /// Normalised output (rows, dim).
    pub out: Tensor,
    stats: Tensor,
}

/// Epsilon inside the square root.
const EPS: f32 = 1e-5;

impl Norm {
    /// Declares γ = 1 (and β = 0 for LayerNorm) and allocates output and statistics.
    pub fn new(
        device: &Device,
        pb: &mut ParamBuilder,
        name: &str,
        kind: NormKind,
        rows: usize,
        dim: usize,
    ) -> Result<Norm> {
        let gamma = pb.declare(&format!("{name}.weight"), &[dim], Init::Const(1.0), false);
        // RMSNorm has no β; it still gets a (zero, unused) slot so both kinds share one code path.
        let beta = pb.declare(&format!("{name}.bias"), &[dim], Init::Const(0.0), false);
        Ok(Norm {
            kind,
            gamma,
            beta,
            out: Tensor::empty(device, &format!("{name}.out"), &[rows, dim], DType::F32)?,
            stats: Tensor::empty(device, &format!("{name}.stats"), &[rows, 2], DType::F32)?,
        })
    }

    /// out = norm(x).
    pub fn forward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor) -> Result<()> {
        norm::norm_forward(rec, self.kind, x, &w.value(self.gamma), &w.value(self.beta), &self.out, &self.stats, EPS)
    }

    /// dx (+)= ∂L/∂x given dout; dγ, dβ accumulate.
    pub fn backward(
        &self,
        rec: &mut Recorder,
        w: &Weights,
        x: &Tensor,
        dout: &Tensor,
        dx: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        norm::norm_backward(
            rec,
            self.kind,
            x,
            &w.value(self.gamma),
            &self.stats,
            dout,
            dx,
            &w.grad(self.gamma),
            &w.grad(self.beta),
            accumulate,
        )
    }
}
