//! Test-time adaptation (docs/papers.md §9, REALM): a classifier trained on clean shape images
//! meets a stream of corrupted ones and adapts online by minimising an objective on its own
//! predictions' entropy, updating only its LayerNorms' affine parameters (as Tent does).
//!
//! Compared: the source model unchanged; Tent (mean entropy), which is unstable one sample
//! at a time; SAR's entropy filter (skip samples above E0 = 0.4·ln C); and REALM's robust,
//! self-paced entropy, which tempers high-entropy samples smoothly instead of skipping them
//! (its form and constants are a labelled reconstruction [I]).

mod config;
mod source;
mod stream;

use std::sync::atomic::AtomicBool;

use crate::clock::Instant;
use crate::data::{ShapeImages, corrupt};
use crate::error::Result;
use crate::recorder::ReleaseBindGroups;
use crate::tensor::Device;

pub use config::{TtaConfig, TtaMethod};
pub use source::SOURCE_LOG_EVERY;
pub use stream::{StreamPoint, StreamRecord};

/// Mixed into the seed of the test images, so they are never training images.
const STREAM_SEED: u64 = 0x7e57_57a3;

/// Progress of an experiment.
#[derive(Clone, Debug)]
pub enum TtaEvent {
    /// After source training step `step` of `total`; `loss` when it was read back.
    SourceStep {
        /// Steps done.
        step: usize,
        /// Source steps in all.
        total: usize,
        /// Mean training loss of this step, when read.
        loss: Option<f32>,
    },
    /// The source model is trained; its accuracy on the clean test images.
    SourceDone {
        /// Accuracy on the clean stream images.
        clean_accuracy: f64,
    },
    /// A stream began.
    StreamStarted {
        /// The method.
        method: TtaMethod,
        /// Test batch size.
        batch: usize,
        /// Severity.
        severity: usize,
    },
    /// A stream's curve grew.
    StreamPoint {
        /// The method.
        method: TtaMethod,
        /// Test batch size.
        batch: usize,
        /// Severity.
        severity: usize,
        /// The new point.
        point: StreamPoint,
    },
    /// A stream finished.
    StreamDone(Box<StreamRecord>),
}

/// What an experiment measured.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TtaRecord {
    /// The configuration.
    pub config: TtaConfig,
    /// (step, loss) of source training.
    pub source_curve: Vec<(usize, f32)>,
    /// The source model's accuracy on the clean test images.
    pub clean_accuracy: f64,
    /// Seconds of source training.
    pub source_seconds: f64,
    /// Every stream, in run order (severity, then batch size, then method).
    pub streams: Vec<StreamRecord>,
    /// Seconds in all.
    pub seconds: f64,
}

impl TtaRecord {
    /// The stream of `method` at `batch` and `severity`, if it ran.
    pub fn stream(&self, method: TtaMethod, batch: usize, severity: usize) -> Option<&StreamRecord> {
        self.streams.iter().find(|s| s.method == method && s.batch == batch && s.severity == severity)
    }
}

/// Runs the experiment, blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_tta(device: &Device, cfg: &TtaConfig, on_event: &mut dyn FnMut(&TtaEvent)) -> Result<TtaRecord> {
    let never = AtomicBool::new(false);
    pollster::block_on(run_tta_async(device, cfg, &never, on_event))?
        .ok_or_else(|| crate::error::Error::Config("the run was stopped".into()))
}

/// As `run_tta`, but checks `stop` before every step and returns `None` once it is set (the
/// lab's Stop button); every read-back is awaited, so the page keeps drawing in the browser.
pub async fn run_tta_async(
    device: &Device,
    cfg: &TtaConfig,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&TtaEvent),
) -> Result<Option<TtaRecord>> {
    cfg.validate()?;
    let t0 = Instant::now();
    let _release = ReleaseBindGroups::on(device);
    let total = cfg.source_steps;
    let trained = source::train_source(device, cfg, stop, &mut |step, loss| {
        on_event(&TtaEvent::SourceStep { step, total, loss })
    })
    .await?;
    let Some((source, source_curve)) = trained else { return Ok(None) };
    let source_seconds = t0.elapsed().as_secs_f64();
    let test = ShapeImages::generate(cfg.stream_len, cfg.image_size, cfg.seed ^ STREAM_SEED);
    let predicted = source::predict(device, &source, &test.pixels).await?;
    let clean_accuracy = accuracy(&predicted, &test.labels);
    on_event(&TtaEvent::SourceDone { clean_accuracy });
    // The source model itself is never adapted: every stream starts from its norms.
    let source_norms = source.norms().params();
    let models = cfg
        .batches
        .iter()
        .map(|&b| {
            let m = source.with_rows(device, b)?;
            let buffers = stream::StreamBuffers::new(device, &m)?;
            Ok((m, buffers))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut streams = Vec::new();
    for &severity in &cfg.severities {
        let mut pixels = test.pixels.clone();
        corrupt(&mut pixels, cfg.image_size, cfg.corruption, severity, cfg.seed ^ STREAM_SEED ^ severity as u64)?;
        for (model, buffers) in &models {
            let batch = model.rows();
            for &method in &cfg.methods {
                on_event(&TtaEvent::StreamStarted { method, batch, severity });
                let record = stream::run_stream(
                    device,
                    cfg,
                    model,
                    buffers,
                    source_norms,
                    (method, severity),
                    (&pixels, &test.labels),
                    stop,
                    &mut |point| on_event(&TtaEvent::StreamPoint { method, batch, severity, point: *point }),
                )
                .await?;
                let Some(record) = record else { return Ok(None) };
                on_event(&TtaEvent::StreamDone(Box::new(record.clone())));
                streams.push(record);
            }
        }
    }
    Ok(Some(TtaRecord {
        config: cfg.clone(),
        source_curve,
        clean_accuracy,
        source_seconds,
        streams,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

fn accuracy(predicted: &[u32], labels: &[u32]) -> f64 {
    predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len().max(1) as f64
}

/// Every stream's curve as CSV: corruption, severity, batch, method, samples seen, window
/// accuracy, running accuracy, window entropy, top-class share.
pub fn curves_csv(record: &TtaRecord) -> String {
    let mut text = String::from("corruption,severity,batch,method,seen,window_accuracy,accuracy,entropy,top_share\n");
    for s in &record.streams {
        for p in &s.curve {
            text.push_str(&format!(
                "{},{},{},{},{},{:.4},{:.4},{:.4},{:.4}\n",
                record.config.corruption.name(),
                s.severity,
                s.batch,
                s.method.name(),
                p.seen,
                p.window_accuracy,
                p.accuracy,
                p.entropy,
                p.top_share
            ));
        }
    }
    text
}
