//! Sweeps: plan a grid of training runs over model size, tokens and mixture, train them with
//! results appended to a JSONL file as they finish (resumable, shardable, mergeable), then
//! fit the mixture law on the smaller sizes and predict the largest.

mod extrapolate;
mod plan;
mod runner;
mod store;

pub use extrapolate::{
    Extrapolation, HeldOutRun, ParamCount, fit_and_predict, fit_and_predict_table, observation, sweep_targets,
};
pub use plan::{MixtureDesign, ModelSize, PlannedRun, SWEEP_PRESETS, Shard, SweepPlan};
#[cfg(not(target_arch = "wasm32"))]
pub use runner::run_sweep;
pub use runner::{SweepEvent, SweepOptions, SweepOutcome, run_sweep_async};
pub use store::{
    MergeReport, ReadRows, SweepRow, SweepWriter, jsonl, merge, parse_rows, read_rows, write_bytes_atomic,
    write_text_atomic,
};
