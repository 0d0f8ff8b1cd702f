//! Models assembled from `nn` layers.

mod gpt;
mod sample;

pub use gpt::{Ffn, Gpt, GptConfig};
pub use sample::sample;
