//! Models assembled from `nn` layers: the GPT, the self-supervised demos' encoder and BYOL's
//! predictor, and the test-time adaptation demo's classifier.

mod classifier;
mod encoder;
mod gpt;
mod predictor;
mod sample;

pub use classifier::{Classifier, ClassifierConfig};
pub use encoder::{Encoder, EncoderConfig};
pub use gpt::{Ffn, Gpt, GptConfig};
pub use predictor::Predictor;
pub use sample::sample;
