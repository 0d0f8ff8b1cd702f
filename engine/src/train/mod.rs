//! The training loop: `RunConfig` → `RunRecord`, with progress events for a CLI bar or the app.

mod config;
mod record;
mod run;
mod throughput;

pub use config::{DistillSpec, PRESETS, RunConfig};
pub use record::{CurvePoint, Divergence, EvalPoint, RunRecord, read_json, write_json_atomic};
#[cfg(not(target_arch = "wasm32"))]
pub use run::train;
pub use run::{Event, StepOutcome, Trainer, train_async, train_trainer_async};
#[cfg(not(target_arch = "wasm32"))]
pub use throughput::measure;
pub use throughput::{Throughput, measure_async};
