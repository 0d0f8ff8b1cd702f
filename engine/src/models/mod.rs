//! Models assembled from `nn` layers: the GPT, the contrastive demo's encoder and the
//! test-time adaptation demo's classifier.

mod classifier;
mod encoder;
mod gpt;
mod sample;

pub use classifier::{Classifier, ClassifierConfig};
pub use encoder::{Encoder, EncoderConfig};
pub use gpt::{Ffn, Gpt, GptConfig};
pub use sample::sample;
