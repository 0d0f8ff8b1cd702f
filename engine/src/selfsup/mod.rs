//! Self-supervised training on procedural shape images: M views per sample augmented on the
//! device, an MLP encoder with a projection head, and a linear probe on held-out labels to say
//! what was learned. Two objectives: the tiled poly-view contrastive losses, and BYOL (no
//! negatives: a predictor and an EMA target).
//!
//! The experiments they serve: at a fixed number of encoder passes, fewer samples with more
//! views against more samples with two (docs/papers.md §7); and the EMA scaling rule, BYOL at κ
//! times the batch with ρ^κ against ρ unchanged (§10).

mod byol;
pub mod ema_rule;
mod event;
mod polyview;
mod preview;
pub mod probe;
mod views;

#[cfg(not(target_arch = "wasm32"))]
pub use byol::train_byol;
pub use byol::{ByolConfig, ByolRecord, train_byol_async};
pub use event::SelfsupEvent;
#[cfg(not(target_arch = "wasm32"))]
pub use polyview::train_polyview;
pub use polyview::{PolyviewConfig, PolyviewRecord, curves_csv, train_polyview_async};
pub use preview::{ViewPreview, preview_views};
