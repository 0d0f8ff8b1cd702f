//! Embedding table lookup (token and position embeddings).

use crate::error::Result;
use crate::kernels::embedding;
use crate::nn::params::{Init, ParamBuilder, ParamId, Weights};
use crate::recorder::Recorder;
use crate::tensor::Tensor;

/// A (vocab, dim) table.
pub struct Embedding {
    /// The table.
    pub table: ParamId,
}

impl Embedding {
    /// Declares a table initialised N(0, std²).
    pub fn new(pb: &mut ParamBuilder, name: &str, vocab: usize, dim: usize, std: f32) -> Embedding {
        Embedding { table: pb.declare(&format!("{name}.weight"), &[vocab, dim], Init::Normal(std), true) }
    }

    /// out (+)= table[ids].
    pub fn forward(&self, rec: &mut Recorder, w: &Weights, ids: &Tensor, out: &Tensor, accumulate: bool) -> Result<()> {
        embedding::embedding_forward(rec, ids, &w.value(self.table), out, accumulate)
    }

    /// dtable[ids] += dout.
    pub fn backward(&self, rec: &mut Recorder, w: &Weights, ids: &Tensor, dout: &Tensor) -> Result<()> {
        embedding::embedding_backward(rec, ids, dout, &w.grad(self.table))
    }
}
