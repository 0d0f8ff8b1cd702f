//! BYOL's predictor: a two-layer MLP (embed → hidden → embed) on the online network's
//! projection, with weights of its own so the target network (an EMA of the encoder) never
//! has one — the asymmetry that keeps BYOL from collapsing without negatives.

use crate::error::{Error, Result};
use crate::nn::{Mlp, ParamBuilder, Weights};
use crate::recorder::Recorder;
use crate::tensor::{DType, Device, Tensor};

/// The predictor over a fixed number of rows, with its output.
pub struct Predictor {
    mlp: Mlp,
    weights: Weights,
    out: Tensor,
}

impl Predictor {
    /// Builds it for `rows` rows of width `embed` through `hidden`, weights from `seed`.
    pub fn new(device: &Device, embed: usize, hidden: usize, rows: usize, seed: u64) -> Result<Predictor> {
        if embed == 0 || hidden == 0 || rows == 0 {
            return Err(Error::Config(format!(
                "predictor widths and rows must be positive: embed {embed}, hidden {hidden}, rows {rows}"
            )));
        }
        let mut pb = ParamBuilder::default();
        let std = |fan_in: usize| (1.0 / fan_in as f32).sqrt();
        let mlp = Mlp::new(device, &mut pb, "predictor", rows, embed, hidden, std(embed), std(hidden))?;
        Ok(Predictor {
            mlp,
            weights: pb.build(device, seed)?,
            out: Tensor::empty(device, "prediction", &[rows, embed], DType::F32)?,
        })
    }

    /// The weights (for its optimiser).
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The prediction q of the last forward pass (rows × embed).
    pub fn output(&self) -> &Tensor {
        &self.out
    }

    /// q = proj(gelu(fc(z))).
    pub fn forward(&self, rec: &mut Recorder, z: &Tensor) -> Result<()> {
        self.mlp.forward(rec, &self.weights, z, &self.out)
    }

    /// Accumulates the weight gradients for dL/dq = `dq` and writes dL/dz into `dz`.
    pub fn backward(&self, rec: &mut Recorder, z: &Tensor, dq: &Tensor, dz: &Tensor) -> Result<()> {
        self.mlp.backward(rec, &self.weights, z, dq, dz, false)
    }
}
