//! What a run produced: the loss curve, per-domain evaluations, speed and the adapter.

use std::path::Path;

use crate::error::{Error, Result};
use crate::gpu::GpuInfo;
use crate::train::RunConfig;

/// One point of the training-loss curve.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    /// 1-based step.
    pub step: usize,
    /// Tokens seen so far.
    pub tokens: usize,
    /// Mean training loss of this step's batch (nats/token).
    pub loss: f32,
    /// Learning rate used.
    pub lr: f32,
}

/// Held-out losses at one step.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalPoint {
    /// Step after which the evaluation ran.
    pub step: usize,
    /// Loss per domain, in mixture order (nats/token).
    pub per_domain: Vec<f32>,
}

impl EvalPoint {
    /// Unweighted mean over domains.
    pub fn mean(&self) -> f32 {
        self.per_domain.iter().sum::<f32>() / self.per_domain.len().max(1) as f32
    }
}

/// Everything a finished run reports.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// The configuration, enough to repeat the run.
    pub config: RunConfig,
    /// Adapter that ran it.
    pub adapter: GpuInfo,
    /// Parameter count N.
    pub params: usize,
    /// Tokens trained on, D.
    pub tokens: usize,
    /// Domain names, in mixture order.
    pub domains: Vec<String>,
    /// Training loss curve.
    pub curve: Vec<CurvePoint>,
    /// Held-out evaluations; the last one is the final result.
    pub evals: Vec<EvalPoint>,
    /// Entropy of the mixture's byte unigram distribution (nats): the context-free baseline.
    pub unigram_entropy: f64,
    /// Training throughput: tokens/s over the steps after the first (which compiles the kernels
    /// on a GPU), evaluations left out.
    pub tokens_per_sec: f64,
    /// Wall-clock seconds of the training loop (evaluations included).
    pub seconds: f64,
    /// Parameters a token passes through (less than `params` for MoE models).
    #[serde(default)]
    pub active_params: usize,
    /// MoE only: per layer, the fraction of routed slots each expert received, averaged over
    /// the last logged steps.
    #[serde(default)]
    pub expert_load: Vec<Vec<f64>>,
    /// Where the run stopped because its loss stopped being finite (the record then holds
    /// everything up to that step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
}

/// The step at which a run's loss became NaN or infinite, and the value read.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Divergence {
    /// 1-based step whose loss was not finite.
    pub step: usize,
    /// The loss read back, as text ("NaN", "inf"): JSON has no number for it.
    pub value: String,
}

impl RunRecord {
    /// The last evaluation.
    pub fn final_eval(&self) -> Option<&EvalPoint> {
        self.evals.last()
    }
}

/// Reads a JSON file into `T`; a parse error names the file, line and column.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|e| Error::Parse {
        path: path.into(),
        message: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}

/// Writes `value` as pretty JSON to `path` atomically (temp file + rename), so a crash
/// never leaves a half-written file where a good one was.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| Error::Parse { path: path.into(), message: e.to_string() })?;
    text.push('\n');
    crate::files::write_text_atomic(path, &text)
}
