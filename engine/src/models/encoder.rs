//! The contrastive demo's encoder: an MLP trunk (pixels → hidden → representation h) and a
//! projection head (h → hidden → z) in the SimCLR arrangement. The loss sees z; a linear
//! probe reads h.

use crate::error::{Error, Result};
use crate::kernels::elementwise;
use crate::nn::{Linear, ParamBuilder, Weights};
use crate::recorder::Recorder;
use crate::tensor::{DType, Device, Tensor};

/// Widths of the encoder.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderConfig {
    /// Input width (pixels × channels of a view).
    pub input: usize,
    /// Trunk hidden width.
    pub hidden: usize,
    /// Representation width (what the linear probe reads).
    pub repr: usize,
    /// Projection head hidden width.
    pub head_hidden: usize,
    /// Embedding width the loss sees (at most 128).
    pub embed: usize,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig { input: 16 * 16 * 3, hidden: 256, repr: 128, head_hidden: 128, embed: 64 }
    }
}

impl EncoderConfig {
    /// Checks every width is positive and the embedding fits the loss kernels.
    pub fn validate(&self) -> Result<()> {
        let widths = [self.input, self.hidden, self.repr, self.head_hidden, self.embed];
        if widths.contains(&0) {
            return Err(Error::Config(format!("encoder widths must be positive: {self:?}")));
        }
        if self.embed > crate::kernels::contrastive::MAX_DIM {
            return Err(Error::Config(format!(
                "encoder embedding width {} exceeds the loss kernels' {}",
                self.embed,
                crate::kernels::contrastive::MAX_DIM
            )));
        }
        Ok(())
    }
}

/// An encoder over a fixed number of rows, with its activations.
pub struct Encoder {
    config: EncoderConfig,
    rows: usize,
    fc1: Linear,
    fc2: Linear,
    head1: Linear,
    head2: Linear,
    weights: Weights,
    pre1: Tensor,
    act1: Tensor,
    repr: Tensor,
    pre2: Tensor,
    act2: Tensor,
    z: Tensor,
    d_act2: Tensor,
    d_repr: Tensor,
    d_act1: Tensor,
}

impl Encoder {
    /// Builds the layers for `rows` rows and initialises the weights from `seed`.
    pub fn new(device: &Device, config: &EncoderConfig, rows: usize, seed: u64) -> Result<Encoder> {
        config.validate()?;
        let c = config;
        let mut pb = ParamBuilder::default();
        let std = |fan_in: usize| (1.0 / fan_in as f32).sqrt();
        let fc1 = Linear::new(device, &mut pb, "encoder.fc1", rows, c.input, c.hidden, std(c.input))?;
        let fc2 = Linear::new(device, &mut pb, "encoder.fc2", rows, c.hidden, c.repr, std(c.hidden))?;
        let head1 = Linear::new(device, &mut pb, "head.fc1", rows, c.repr, c.head_hidden, std(c.repr))?;
        let head2 = Linear::new(device, &mut pb, "head.fc2", rows, c.head_hidden, c.embed, std(c.head_hidden))?;
        let weights = pb.build(device, seed)?;
        let t = |what: &str, w: usize| Tensor::empty(device, what, &[rows, w], DType::F32);
        Ok(Encoder {
            config: c.clone(),
            rows,
            fc1,
            fc2,
            head1,
            head2,
            weights,
            pre1: t("encoder pre-activation", c.hidden)?,
            act1: t("encoder activation", c.hidden)?,
            repr: t("representation", c.repr)?,
            pre2: t("head pre-activation", c.head_hidden)?,
            act2: t("head activation", c.head_hidden)?,
            z: t("embedding", c.embed)?,
            d_act2: t("head activation gradient", c.head_hidden)?,
            d_repr: t("representation gradient", c.repr)?,
            d_act1: t("encoder activation gradient", c.hidden)?,
        })
    }

    /// The weights (for the optimiser and for copying between encoders).
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The widths.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Rows per forward pass.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The representation h of the last forward pass (rows × repr).
    pub fn repr(&self) -> &Tensor {
        &self.repr
    }

    /// The embedding z of the last forward pass (rows × embed).
    pub fn embedding(&self) -> &Tensor {
        &self.z
    }

    /// Trunk only: h = fc2(gelu(fc1(x))).
    pub fn forward_repr(&self, rec: &mut Recorder, x: &Tensor) -> Result<()> {
        let w = &self.weights;
        let h = self.fc1.forward_no_bias(rec, w, x)?;
        elementwise::bias_gelu(rec, h, &w.value(self.fc1.b), &self.act1, &self.pre1)?;
        self.fc2.forward(rec, w, &self.act1, &self.repr)
    }

    /// Trunk and head: z = head2(gelu(head1(h))).
    pub fn forward(&self, rec: &mut Recorder, x: &Tensor) -> Result<()> {
        self.forward_repr(rec, x)?;
        let w = &self.weights;
        let h = self.head1.forward_no_bias(rec, w, &self.repr)?;
        elementwise::bias_gelu(rec, h, &w.value(self.head1.b), &self.act2, &self.pre2)?;
        self.head2.forward(rec, w, &self.act2, &self.z)
    }

    /// Accumulates the weight gradients for dL/dz = `dz` (the caller clears them per step).
    pub fn backward(&self, rec: &mut Recorder, x: &Tensor, dz: &Tensor) -> Result<()> {
        let w = &self.weights;
        self.head2.backward(rec, w, &self.act2, dz, Some(&self.d_act2), false)?;
        // As in the MLP block, the activation buffer takes the pre-activation gradient.
        elementwise::gelu_backward(rec, &self.pre2, &self.d_act2, &self.act2)?;
        self.head1.backward(rec, w, &self.repr, &self.act2, Some(&self.d_repr), false)?;
        self.fc2.backward(rec, w, &self.act1, &self.d_repr, Some(&self.d_act1), false)?;
        elementwise::gelu_backward(rec, &self.pre1, &self.d_act1, &self.act1)?;
        self.fc1.backward(rec, w, x, &self.act1, None, false)
    }
}
