//! Layers with explicit `forward` and `backward`, in the spirit of llm.c.
//!
//! A layer owns handles to its parameters (in the model's slabs) and the activations its
//! backward pass needs, allocated once when the layer is built for a fixed number of rows;
//! `forward` and `backward` only record launcher calls, so a training step allocates nothing.
//! Parameter gradients accumulate (`+=`): the trainer clears them once per step.

mod attention;
mod bayes_linear;
mod embedding;
mod linear;
mod mlp;
mod moe;
mod norm;
mod params;

pub use attention::{Attention, AttentionKind, AttentionSpec};
pub use bayes_linear::{BayesInit, BayesLinear};
pub use embedding::Embedding;
pub use linear::Linear;
pub use mlp::Mlp;
pub use moe::{Moe, MoeConfig};
pub use norm::Norm;
pub use params::{Init, ParamBuilder, ParamId, Weights};
