//! Sweeps: plan a grid of training runs over model size, tokens and mixture, train them with
//! results appended to a JSONL file as they finish (resumable, shardable, mergeable), then
//! fit the mixture law on the smaller sizes and predict the largest; a distillation sweep
//! trains teachers first and fits the supervised and distillation laws instead; a forgetting
//! sweep pretrains, finetunes with pretraining data injected, and fits the forgetting law; an
//! MoE sparsity sweep trains IsoFLOP slices over the expert count and fits the MoE law.

mod checkpoints;
mod distill_fit;
mod extrapolate;
mod forgetting_fit;
mod moe_fit;
mod optimum;
mod plan;
mod presets;
mod runner;
mod store;

pub use distill_fit::{Crossover, DistillReport, TeacherRun, fit_distillation, training_flops};
pub use extrapolate::{
    Extrapolation, HeldOutRun, ParamCount, fit_and_predict, fit_and_predict_table, fit_sweep, held_out_mre,
    mixture_form_for, observation, sweep_targets,
};
pub use forgetting_fit::{
    FinetunedRun, ForgettingFit, ForgettingReport, InjectionSummary, PretrainedRun, fit_forgetting,
};
pub use moe_fit::{IsoFlopSlice, MoeReport, MoeRun, OptimalSparsity, fit_moe_sparsity};
pub use optimum::{OPTIMUM_FLOOR, OptimumCheck, is_uniform, optimal_for, uniform_at_largest};
pub use plan::{DistillGrid, ForgettingGrid, MixtureDesign, ModelSize, PlannedRun, Shard, SweepPlan, TeacherSpec};
pub use presets::SWEEP_PRESETS;
#[cfg(not(target_arch = "wasm32"))]
pub use runner::run_sweep;
pub use runner::{SweepEvent, SweepOptions, SweepOutcome, run_sweep_async};
pub use store::{MergeReport, ReadRows, SweepRow, SweepWriter, jsonl, merge, parse_rows, read_rows};
