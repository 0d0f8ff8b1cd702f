//! Steady-state training speed, measured one way everywhere: `sigmix bench train` natively and
//! the page's `#bench=train` in the browser call the same function, so "tokens/s in the browser
//! against native on the same adapter" compares like with like.
//!
//! The first step (pipeline compilation, first touches) and `warm` more are left out; the device
//! is drained before the clock starts and again before it stops (one loss read-back each), and
//! no step in between reads anything back, so the timed steps run as a training loop that logs
//! rarely would.

use crate::clock::Instant;
use crate::error::{Error, Result};
use crate::gpu::GpuInfo;
use crate::tensor::Device;
use crate::train::{RunConfig, Trainer};

/// What a throughput measurement found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Throughput {
    /// The adapter (or CPU backend) that trained.
    pub adapter: GpuInfo,
    /// The preset's name.
    pub preset: String,
    /// Trainable parameters.
    pub params: usize,
    /// Tokens in one step's batch.
    pub tokens_per_step: usize,
    /// Seconds from building the model to the end of its first step, read-back included: the
    /// kernels' compilation on a GPU.
    pub first_step_secs: f64,
    /// Steps left out after the first.
    pub warm_steps: usize,
    /// Steps timed.
    pub timed_steps: usize,
    /// Seconds the timed steps took, drained device to drained device.
    pub timed_secs: f64,
    /// Training tokens per second over the timed steps.
    pub tokens_per_sec: f64,
    /// Kernels one step records (GPU dispatches, or CPU kernel calls).
    pub kernels_per_step: usize,
    /// Mean milliseconds the host spent recording and submitting one timed step (the device
    /// works meanwhile): on a fast GPU, the floor of a step's time.
    pub record_ms_per_step: f64,
    /// Training loss read after the last timed step (it must be finite).
    pub last_loss: f32,
}

/// Trains `cfg` for `1 + warm + timed` steps on `device` and times the last `timed` of them.
pub async fn measure_async(device: &Device, cfg: &RunConfig, warm: usize, timed: usize) -> Result<Throughput> {
    if timed == 0 {
        return Err(Error::Config("a throughput measurement needs at least one timed step".into()));
    }
    let total = 1 + warm + timed;
    // One step more than is taken, so the last timed step does not evaluate; steps read
    // nothing back except the first, which always does.
    let cfg = RunConfig { steps: total + 1, log_every: usize::MAX, eval_every: 0, ..cfg.clone() };
    let build = Instant::now();
    let mut trainer = Trainer::new(device, &cfg)?;
    trainer.step_async().await?;
    let first_step_secs = build.elapsed().as_secs_f64();
    for _ in 0..warm {
        trainer.step_async().await?;
    }
    trainer.model().read_mean_loss().await?;
    let t0 = Instant::now();
    let mut record_secs = 0.0;
    for _ in 0..timed {
        // The page's turn first, so the step's own yield finds it just taken.
        crate::clock::yield_now().await;
        let r0 = Instant::now();
        trainer.step_async().await?;
        record_secs += r0.elapsed().as_secs_f64();
    }
    let last_loss = trainer.model().read_mean_loss().await?;
    let timed_secs = t0.elapsed().as_secs_f64();
    if !last_loss.is_finite() {
        return Err(Error::NonFinite { step: total, value: last_loss });
    }
    let tokens_per_step = cfg.batch * cfg.model.context;
    Ok(Throughput {
        adapter: device.info(),
        preset: cfg.name.clone(),
        params: trainer.params(),
        tokens_per_step,
        first_step_secs,
        warm_steps: warm,
        timed_steps: timed,
        timed_secs,
        tokens_per_sec: (timed * tokens_per_step) as f64 / timed_secs.max(1e-9),
        kernels_per_step: trainer.kernels_per_step(),
        record_ms_per_step: 1e3 * record_secs / timed as f64,
        last_loss,
    })
}

/// `measure_async`, blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn measure(device: &Device, cfg: &RunConfig, warm: usize, timed: usize) -> Result<Throughput> {
    pollster::block_on(measure_async(device, cfg, warm, timed))
}
