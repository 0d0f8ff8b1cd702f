//! Self-supervised training with contrastive losses: procedural shape images, augmented on
//! the device into M views per sample, an MLP encoder with a projection head, the tiled
//! contrastive loss, and a linear probe on held-out labels to say what was learned.
//!
//! The experiment it serves (PAPERS.md §7): at a fixed number of encoder passes, fewer
//! samples with more views against more samples with two views.

mod polyview;
mod preview;
pub mod probe;

#[cfg(not(target_arch = "wasm32"))]
pub use polyview::train_polyview;
pub use polyview::{PolyviewConfig, PolyviewEvent, PolyviewRecord, curves_csv, train_polyview_async};
pub use preview::{ViewPreview, preview_views};
