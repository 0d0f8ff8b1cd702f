//! Training data: procedural text domains generated from a seed (the embedded default), a
//! byte-level tokenizer, and a sampler that draws each batch's sequences by mixture weights;
//! a procedural dialogue domain to finetune on;
//! the user's own text files as further domains; and procedural shape images for the
//! contrastive demo, with the corruptions a test-time adaptation stream applies to them.

mod corpus;
mod corrupt;
mod dialogue;
mod domains;
mod sampler;
mod shapes;
mod text;

pub use corpus::Corpus;
pub use corrupt::{Corruption, MAX_SEVERITY, check_severity, corrupt};
pub use dialogue::{DIALOGUE, dialogue};
pub use domains::{DOMAINS, Domain};
pub use sampler::{Batch, MixtureSampler, eval_batch};
pub use shapes::{SHAPE_CLASSES, ShapeImages};
pub use text::{TextDomain, TextRef, resolve_texts};

/// The byte-level tokenizer's vocabulary size: every byte is a token.
pub const VOCAB: usize = 256;

/// Text → token ids (its UTF-8 bytes).
pub fn encode(text: &str) -> Vec<u32> {
    text.bytes().map(u32::from).collect()
}

/// Token ids → text (invalid UTF-8 replaced).
pub fn decode(ids: &[u32]) -> String {
    let bytes: Vec<u8> = ids.iter().map(|&i| i.min(255) as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
