//! The GELU feed-forward block: x → Linear(d, r·d) → GELU → Linear(r·d, d).

use crate::error::Result;
use crate::kernels::elementwise;
use crate::nn::Linear;
use crate::nn::params::{ParamBuilder, Weights};
use crate::recorder::Recorder;
use crate::tensor::Device;
use crate::tensor::{DType, Tensor};

/// A two-layer MLP with a fused bias+GELU between the layers.
pub struct Mlp {
    fc: Linear,
    proj: Linear,
    pre: Tensor,
    act: Tensor,
    dact: Tensor,
}

impl Mlp {
    /// Builds the block for `rows` rows of width `dim` and hidden width `hidden`.
    pub fn new(
        device: &Device,
        pb: &mut ParamBuilder,
        name: &str,
        rows: usize,
        dim: usize,
        hidden: usize,
        std: f32,
        proj_std: f32,
    ) -> Result<Mlp> {
        let t = |what: &str| Tensor::empty(device, &format!("{name}.{what}"), &[rows, hidden], DType::F32);
        Ok(Mlp {
            fc: Linear::new(device, pb, &format!("{name}.fc"), rows, dim, hidden, std)?,
            proj: Linear::new(device, pb, &format!("{name}.proj"), rows, hidden, dim, proj_std)?,
            pre: t("pre")?,
            act: t("act")?,
            dact: t("dact")?,
        })
    }

    /// y = proj(gelu(fc(x))).
    pub fn forward(&self, rec: &mut Recorder, w: &Weights, x: &Tensor, y: &Tensor) -> Result<()> {
        let h = self.fc.forward_no_bias(rec, w, x)?;
        elementwise::bias_gelu(rec, h, &w.value(self.fc.b), &self.act, &self.pre)?;
        self.proj.forward(rec, w, &self.act, y)
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
        self.proj.backward(rec, w, &self.act, dy, Some(&self.dact), false)?;
        // The activation is no longer needed once proj's gradient is recorded, so its buffer
        // receives d(pre) instead of a second hidden-sized buffer.
        elementwise::gelu_backward(rec, &self.pre, &self.dact, &self.act)?;
        self.fc.backward(rec, w, x, &self.act, Some(dx), accumulate)
    }
}
