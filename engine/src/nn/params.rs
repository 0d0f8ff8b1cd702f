//! Parameter bookkeeping: layers declare tensors, the model allocates one slab each for
//! parameters, gradients and the two AdamW moments.

use crate::error::Result;
use crate::rng::Rng;
use crate::tensor::Device;
use crate::tensor::{Slab, SlabLayout, Tensor};

/// How a parameter is initialised.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    /// Normal(0, std²).
    Normal(f32),
    /// Every element set to this value.
    Const(f32),
}

/// Handle of one declared parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamId(usize);

struct Decl {
    name: String,
    shape: Vec<usize>,
    init: Init,
    decay: bool,
}

/// Collects parameter declarations; weight-decayed tensors are laid out first so AdamW can
/// decay a prefix of the slab.
#[derive(Default)]
pub struct ParamBuilder {
    decls: Vec<Decl>,
}

impl ParamBuilder {
    /// Declares a parameter; `decay` marks matrices that receive weight decay.
    pub fn declare(&mut self, name: &str, shape: &[usize], init: Init, decay: bool) -> ParamId {
        self.decls.push(Decl { name: name.to_string(), shape: shape.to_vec(), init, decay });
        ParamId(self.decls.len() - 1)
    }

    /// Lays out the slabs, initialises the parameters from `seed`, and uploads them.
    pub fn build(self, device: &Device, seed: u64) -> Result<Weights> {
        let mut layout = SlabLayout::new(device);
        let mut slot = vec![0; self.decls.len()];
        let order: Vec<usize> = (0..self.decls.len())
            .filter(|i| self.decls[*i].decay)
            .chain((0..self.decls.len()).filter(|i| !self.decls[*i].decay))
            .collect();
        let mut n_decay = 0;
        for &i in &order {
            let d = &self.decls[i];
            slot[i] = layout.reserve(&d.name, &d.shape);
            if d.decay {
                n_decay = layout.len();
            }
        }
        let mut host = vec![0.0f32; layout.len()];
        let rng = Rng::new(seed);
        let entries: Vec<(usize, usize)> = layout.entries().map(|(_, o, s)| (o, s.iter().product())).collect();
        for (i, d) in self.decls.iter().enumerate() {
            let (offset, n) = entries[slot[i]];
            // Each tensor draws from its own stream: adding a layer doesn't reshuffle the rest.
            let mut r = rng.fork(i as u64 + 1);
            for v in &mut host[offset..offset + n] {
                *v = match d.init {
                    Init::Normal(std) => std * r.normal() as f32,
                    Init::Const(c) => c,
                };
            }
        }
        let params = Slab::zeros(device, "parameters", &layout)?;
        params.whole().write_f32(&host)?;
        Ok(Weights { grads: Slab::zeros(device, "gradients", &layout)?, params, slot, n_decay })
    }
}

/// A model's parameters and gradients, addressed by `ParamId`.
pub struct Weights {
    params: Slab,
    grads: Slab,
    slot: Vec<usize>,
    n_decay: usize,
}

impl Weights {
    /// The parameter tensor `id`.
    pub fn value(&self, id: ParamId) -> Tensor {
        self.params.get(self.slot[id.0])
    }

    /// The gradient tensor of `id`.
    pub fn grad(&self, id: ParamId) -> Tensor {
        self.grads.get(self.slot[id.0])
    }

    /// All parameters as one flat tensor.
    pub fn params(&self) -> &Tensor {
        self.params.whole()
    }

    /// All gradients as one flat tensor.
    pub fn grads(&self) -> &Tensor {
        self.grads.whole()
    }

    /// Leading elements that receive weight decay.
    pub fn n_decay(&self) -> usize {
        self.n_decay
    }

    /// Number of parameters (alignment gaps excluded).
    pub fn count(&self) -> usize {
        self.params.layout().numel()
    }

    /// Every parameter in layout order without the alignment gaps (`count()` numbers): the
    /// same on every device, whatever its alignment, so weights saved on one load on another.
    pub async fn read_packed(&self) -> Result<Vec<f32>> {
        let slab = self.params().read_f32().await?;
        let mut out = Vec::with_capacity(self.count());
        for (_, offset, shape) in self.layout().entries() {
            out.extend_from_slice(&slab[offset..offset + shape.iter().product::<usize>()]);
        }
        Ok(out)
    }

    /// Writes `values` (as `read_packed` gives them) into the parameters; fails unless there
    /// are exactly `count()` of them.
    pub fn write_packed(&self, values: &[f32]) -> Result<()> {
        if values.len() != self.count() {
            return Err(crate::error::Error::Config(format!(
                "{} numbers handed in for a model of {} parameters",
                values.len(),
                self.count()
            )));
        }
        let mut slab = vec![0.0f32; self.params().len()];
        let mut at = 0;
        for (_, offset, shape) in self.layout().entries() {
            let n: usize = shape.iter().product();
            slab[offset..offset + n].copy_from_slice(&values[at..at + n]);
            at += n;
        }
        self.params().write_f32(&slab)
    }

    /// Where every parameter sits in the flat `params()` / `grads()` tensors.
    pub fn layout(&self) -> &SlabLayout {
        self.params.layout()
    }
}
