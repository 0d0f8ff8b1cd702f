//! Linear layer: y = x·Wᵀ + b, W stored (out, in).

use crate::error::Result;
use crate::kernels::{elementwise, matmul};
use crate::nn::params::{Init, ParamBuilder, ParamId, Weights};
use crate::recorder::Recorder;
use crate::tensor::Device;
use crate::tensor::{DType, Tensor};

/// A fully connected layer over `rows` rows.
pub struct Linear {
    /// Weight (out, in).
    pub w: ParamId,
    /// Bias (out).
    pub b: ParamId,
    xw: Tensor,
}

impl Linear {
    /// Declares W ~ N(0, std²) and b = 0, and allocates the pre-bias product for `rows` rows.
    pub fn new(
        device: &Device,
        pb: &mut ParamBuilder,
        name: &str,
        rows: usize,
        inp: usize,
        out: usize,
        std: f32,
    ) -> Result<Linear> {
        Ok(Linear {
            w: pb.declare(&format!("{name}.weight"), &[out, inp], Init::Normal(std), true),
            b: pb.declare(&format!("{name}.bias"), &[out], Init::Const(0.0), false),
            xw: Tensor::empty(device, &format!("{name}.xw"), &[rows, out], DType::F32)?,
        })
    }

    /// x·Wᵀ into the layer's own buffer, without the bias (for fusing it with an activation).
    pub fn forward_no_bias(&self, rec: &mut Recorder, w: &Weights, x: &Tensor) -> Result<&Tensor> {
        matmul::matmul(rec, x, &w.value(self.w), &self.xw, matmul::MatmulOpts { trans_b: true, ..Default::default() })?;
        Ok(&self.xw)
    }

    /// y = x·Wᵀ + b.
    pub fn forward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor, y: &Tensor) -> Result<()> {
        let xw = self.forward_no_bias(rec, w, x)?;
        elementwise::bias_add(rec, xw, &w.value(self.b), y)
    }

    /// dW += dyᵀ·x, db += Σ dy, and dx = dy·W (added into `dx` when `accumulate`).
    pub fn backward(
        &self,
        rec: &mut Recorder,
        w: &Weights,
        x: &Tensor,
        dy: &Tensor,
        dx: Option<&Tensor>,
        accumulate: bool,
    ) -> Result<()> {
        matmul::matmul(
            rec,
            dy,
            x,
            &w.grad(self.w),
            matmul::MatmulOpts { trans_a: true, accumulate: true, ..Default::default() },
        )?;
        elementwise::bias_grad(rec, dy, &w.grad(self.b))?;
        if let Some(dx) = dx {
            matmul::matmul(rec, dy, &w.value(self.w), dx, matmul::MatmulOpts { accumulate, ..Default::default() })?;
        }
        Ok(())
    }
}
