//! The test-time adaptation demo's classifier: an MLP over image pixels with a LayerNorm
//! after each hidden layer, x → fc1 → LN → GELU → fc2 → LN → GELU → head → logits.
//!
//! The LayerNorms' affine parameters (γ, β) live in a slab of their own, apart from the
//! linear layers', so an optimiser can step them alone: that is what Tent and REALM adapt.
//! LayerNorm normalises each sample by itself, so a single test sample is well defined
//! (batch statistics, as BatchNorm would need, do not exist at batch size 1).

use crate::error::{Error, Result};
use crate::kernels::elementwise;
use crate::kernels::matmul::{MatmulOpts, matmul};
use crate::kernels::norm::NormKind;
use crate::nn::{Linear, Norm, ParamBuilder, Weights};
use crate::recorder::Recorder;
use crate::tensor::{DType, Device, Tensor};

/// Widths of the classifier.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Input width (pixels × channels).
    pub input: usize,
    /// First hidden width.
    pub hidden: usize,
    /// Second hidden width (the representation the head reads).
    pub repr: usize,
    /// Classes.
    pub classes: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig { input: 16 * 16 * 3, hidden: 256, repr: 128, classes: 5 }
    }
}

impl ClassifierConfig {
    /// Checks every width is positive and there are at least two classes.
    pub fn validate(&self) -> Result<()> {
        if [self.input, self.hidden, self.repr].contains(&0) || self.classes < 2 {
            return Err(Error::Config(format!("classifier widths must be positive with at least 2 classes: {self:?}")));
        }
        Ok(())
    }
}

/// A classifier over a fixed number of rows, with its weights and activations.
pub struct Classifier {
    config: ClassifierConfig,
    rows: usize,
    fc1: Linear,
    ln1: Norm,
    fc2: Linear,
    ln2: Norm,
    head: Linear,
    body: Weights,
    norms: Weights,
    zero_hidden: Tensor,
    zero_repr: Tensor,
    y1: Tensor,
    pre1: Tensor,
    act1: Tensor,
    y2: Tensor,
    pre2: Tensor,
    act2: Tensor,
    logits: Tensor,
    d_act2: Tensor,
    d_y2: Tensor,
    d_act1: Tensor,
    d_y1: Tensor,
}

impl Classifier {
    /// Builds the layers for `rows` rows and initialises the weights from `seed` (γ = 1, β = 0).
    pub fn new(device: &Device, config: &ClassifierConfig, rows: usize, seed: u64) -> Result<Classifier> {
        config.validate()?;
        if rows == 0 {
            return Err(Error::Config("a classifier needs at least one row per pass".into()));
        }
        let c = config;
        let (mut pb, mut pn) = (ParamBuilder::default(), ParamBuilder::default());
        let std = |fan_in: usize| (1.0 / fan_in as f32).sqrt();
        let fc1 = Linear::new(device, &mut pb, "classifier.fc1", rows, c.input, c.hidden, std(c.input))?;
        let ln1 = Norm::new(device, &mut pn, "classifier.ln1", NormKind::LayerNorm, rows, c.hidden)?;
        let fc2 = Linear::new(device, &mut pb, "classifier.fc2", rows, c.hidden, c.repr, std(c.hidden))?;
        let ln2 = Norm::new(device, &mut pn, "classifier.ln2", NormKind::LayerNorm, rows, c.repr)?;
        let head = Linear::new(device, &mut pb, "classifier.head", rows, c.repr, c.classes, std(c.repr))?;
        let t = |what: &str, w: usize| Tensor::empty(device, what, &[rows, w], DType::F32);
        Ok(Classifier {
            config: c.clone(),
            rows,
            fc1,
            ln1,
            fc2,
            ln2,
            head,
            body: pb.build(device, seed)?,
            norms: pn.build(device, seed)?,
            zero_hidden: Tensor::from_f32(device, "zero bias", &[c.hidden], &vec![0.0; c.hidden])?,
            zero_repr: Tensor::from_f32(device, "zero bias", &[c.repr], &vec![0.0; c.repr])?,
            y1: t("fc1 output", c.hidden)?,
            pre1: t("ln1 output", c.hidden)?,
            act1: t("hidden activation", c.hidden)?,
            y2: t("fc2 output", c.repr)?,
            pre2: t("ln2 output", c.repr)?,
            act2: t("representation", c.repr)?,
            logits: t("logits", c.classes)?,
            d_act2: t("representation gradient", c.repr)?,
            d_y2: t("fc2 output gradient", c.repr)?,
            d_act1: t("hidden activation gradient", c.hidden)?,
            d_y1: t("fc1 output gradient", c.hidden)?,
        })
    }

    /// A classifier of the same widths over `rows` rows, its weights copied from this one's.
    pub fn with_rows(&self, device: &Device, rows: usize) -> Result<Classifier> {
        let other = Classifier::new(device, &self.config, rows, 0)?;
        let mut rec = Recorder::new(device);
        rec.copy(self.body.params(), other.body.params())?;
        rec.copy(self.norms.params(), other.norms.params())?;
        rec.submit()?;
        Ok(other)
    }

    /// The linear layers' weights.
    pub fn body(&self) -> &Weights {
        &self.body
    }

    /// The LayerNorms' γ and β: what test-time adaptation updates.
    pub fn norms(&self) -> &Weights {
        &self.norms
    }

    /// The widths.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// Rows per pass.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The logits of the last forward pass (rows × classes).
    pub fn logits(&self) -> &Tensor {
        &self.logits
    }

    /// logits = head(gelu(LN(fc2(gelu(LN(fc1(x))))))).
    pub fn forward(&self, rec: &mut Recorder, x: &Tensor) -> Result<()> {
        let (b, n) = (&self.body, &self.norms);
        self.fc1.forward(rec, b, x, &self.y1)?;
        self.ln1.forward(rec, n, &self.y1)?;
        elementwise::bias_gelu(rec, &self.ln1.out, &self.zero_hidden, &self.act1, &self.pre1)?;
        self.fc2.forward(rec, b, &self.act1, &self.y2)?;
        self.ln2.forward(rec, n, &self.y2)?;
        elementwise::bias_gelu(rec, &self.ln2.out, &self.zero_repr, &self.act2, &self.pre2)?;
        self.head.forward(rec, b, &self.act2, &self.logits)
    }

    /// For dL/dlogits = `dlogits`: accumulates every weight's gradient (the caller clears both
    /// slabs' gradients per step).
    pub fn backward(&self, rec: &mut Recorder, x: &Tensor, dlogits: &Tensor) -> Result<()> {
        self.backward_to(rec, Some(x), dlogits)
    }

    /// For dL/dlogits = `dlogits`: accumulates the LayerNorms' γ and β gradients only, passing
    /// the gradient through the linear layers without forming their weights' gradients.
    pub fn backward_norms(&self, rec: &mut Recorder, dlogits: &Tensor) -> Result<()> {
        self.backward_to(rec, None, dlogits)
    }

    /// The backward pass; with `x`, the linear layers' weight gradients too.
    fn backward_to(&self, rec: &mut Recorder, x: Option<&Tensor>, dlogits: &Tensor) -> Result<()> {
        let (b, n) = (&self.body, &self.norms);
        let input_only = |rec: &mut Recorder, layer: &Linear, dy: &Tensor, dx: &Tensor| {
            matmul(rec, dy, &b.value(layer.w), dx, MatmulOpts::default())
        };
        match x {
            Some(_) => self.head.backward(rec, b, &self.act2, dlogits, Some(&self.d_act2), false)?,
            None => input_only(rec, &self.head, dlogits, &self.d_act2)?,
        }
        // As in the MLP block, the activation buffer takes the pre-activation gradient.
        elementwise::gelu_backward(rec, &self.pre2, &self.d_act2, &self.act2)?;
        self.ln2.backward(rec, n, &self.y2, &self.act2, &self.d_y2, false)?;
        match x {
            Some(_) => self.fc2.backward(rec, b, &self.act1, &self.d_y2, Some(&self.d_act1), false)?,
            None => input_only(rec, &self.fc2, &self.d_y2, &self.d_act1)?,
        }
        elementwise::gelu_backward(rec, &self.pre1, &self.d_act1, &self.act1)?;
        self.ln1.backward(rec, n, &self.y1, &self.act1, &self.d_y1, false)?;
        match x {
            Some(x) => self.fc1.backward(rec, b, x, &self.d_y1, None, false),
            None => Ok(()),
        }
    }
}
