//! Optimisers and schedules: AdamW over a model's parameter slab, warmup + cosine learning
//! rates, and the EMA scaling rule.

mod adamw;
mod ema;
mod schedule;

pub use adamw::{AdamW, AdamWConfig};
pub use ema::scale_ema_decay;
pub use schedule::LrSchedule;
