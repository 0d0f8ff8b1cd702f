//! Models assembled from `nn` layers: the GPT and the contrastive demo's encoder.

mod encoder;
mod gpt;
mod sample;

pub use encoder::{Encoder, EncoderConfig};
pub use gpt::{Ffn, Gpt, GptConfig};
pub use sample::sample;
