//! One error type for the whole engine, so every failure reaches the user as one clear
//! sentence that says what was wrong and what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong in sigmix, each variant carrying what a user needs to act.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter matched the request (or none exists at all).
    #[error(
        "no usable GPU adapter{detail}. On Linux without a GPU install Mesa's lavapipe \
         (`apt-get install mesa-vulkan-drivers libvulkan1`); with several adapters pick one with \
         SIGMIX_ADAPTER=<part of its name> or SIGMIX_BACKEND=vulkan|metal|dx12|gl"
    )]
    NoAdapter {
        /// What was tried and what exists, e.g. ": SIGMIX_ADAPTER=foo matched none of [..]".
        detail: String,
    },
    /// The adapter refused to create a device.
    #[error("the adapter `{adapter}` refused to open a device: {reason}")]
    DeviceRequest {
        /// Name of the adapter that refused.
        adapter: String,
        /// wgpu's reason.
        reason: String,
    },
    /// A tensor had the wrong shape for an operation.
    #[error("{op}: {what} has shape {got:?}, expected {expected:?}")]
    Shape {
        /// The launcher or layer that checked.
        op: &'static str,
        /// Which operand.
        what: String,
        /// The shape that was required.
        expected: Vec<usize>,
        /// The shape that was passed.
        got: Vec<usize>,
    },
    /// An allocation would exceed a limit of the adapter.
    #[error(
        "{what} needs {bytes} bytes but the adapter `{adapter}` allows at most {limit} bytes per \
         buffer; make the model, batch or context smaller"
    )]
    TooLarge {
        /// What was being allocated.
        what: String,
        /// Requested size.
        bytes: u64,
        /// The adapter's limit.
        limit: u64,
        /// Adapter name.
        adapter: String,
    },
    /// A dispatch or shader was rejected by the GPU validation layer.
    #[error("GPU rejected {what}: {reason}")]
    Gpu {
        /// What was being created or run.
        what: String,
        /// wgpu's message.
        reason: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Training diverged.
    #[error("the loss became {value} at step {step}; lower the learning rate (--lr) or raise warmup")]
    NonFinite {
        /// The step at which it happened.
        step: usize,
        /// The non-finite value.
        value: f32,
    },
    /// Training diverged; the record of the run up to that step comes with the error.
    #[error("the loss became {value} at step {step}; lower the learning rate (--lr) or raise warmup")]
    Diverged {
        /// The step at which it happened.
        step: usize,
        /// The non-finite value.
        value: f32,
        /// Everything recorded before it (its `diverged` field set).
        record: Box<crate::train::RunRecord>,
    },
    /// The CUDA path failed: no driver or NVRTC found, a kernel did not compile, a launch failed.
    #[error("CUDA: {0}")]
    Cuda(String),
    /// A scaling-law fit could not be done.
    #[error("fit: {0}")]
    Fit(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file's content could not be parsed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong, with line and column when known.
        message: String,
    },
}

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A shape mismatch, named by operation and operand.
    pub fn shape(op: &'static str, what: impl Into<String>, expected: &[usize], got: &[usize]) -> Self {
        Error::Shape { op, what: what.into(), expected: expected.to_vec(), got: got.to_vec() }
    }
}

/// `value` when it is a finite loss, else `Error::NonFinite` at `step`: the divergence check
/// every training loop makes on a loss it read back.
pub fn finite_loss(step: usize, value: f32) -> Result<f32> {
    if value.is_finite() { Ok(value) } else { Err(Error::NonFinite { step, value }) }
}
