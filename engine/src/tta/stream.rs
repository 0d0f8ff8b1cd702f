//! One stream: corrupted test images met batch by batch by one method. Each batch is
//! predicted first (that prediction is what counts), then, unless the method is the source
//! model, its objective's gradient updates the LayerNorms' γ and β by one Adam step, so the
//! next batch meets the adapted model (online test-time adaptation).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::Instant;
use crate::error::{Error, Result};
use crate::kernels::entropy::{TtaObjective, entropy_loss};
use crate::models::Classifier;
use crate::optim::AdamW;
use crate::recorder::Recorder;
use crate::tensor::{DType, Device, Tensor};
use crate::tta::source::argmax_rows;
use crate::tta::{TtaConfig, TtaMethod};

/// A point of a stream's curve.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamPoint {
    /// Samples predicted so far.
    pub seen: usize,
    /// Accuracy over the last `window` samples.
    pub window_accuracy: f64,
    /// Accuracy over every sample so far.
    pub accuracy: f64,
    /// Mean prediction entropy over the window, nats.
    pub entropy: f64,
    /// Share of the window's predictions that go to its most predicted class: 1/C for a
    /// balanced stream, 1 when the model has collapsed onto one class.
    pub top_share: f64,
}

/// What one stream measured.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StreamRecord {
    /// The method.
    pub method: TtaMethod,
    /// Test batch size.
    pub batch: usize,
    /// Corruption severity (0 = clean).
    pub severity: usize,
    /// The adaptation's learning rate (0 for the source model).
    pub lr: f32,
    /// Accuracy over the whole stream.
    pub accuracy: f64,
    /// Accuracy over the stream's last window.
    pub final_window_accuracy: f64,
    /// Mean prediction entropy over the stream, nats.
    pub mean_entropy: f64,
    /// The curve, a point every few batches.
    pub curve: Vec<StreamPoint>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The stream's sliding window and running counts.
struct Tally {
    window: usize,
    classes: usize,
    recent: VecDeque<(bool, u32, f64)>,
    hits: usize,
    seen: usize,
    entropy_sum: f64,
}

impl Tally {
    fn push(&mut self, hit: bool, predicted: u32, entropy: f64) {
        if self.recent.len() == self.window {
            self.recent.pop_front();
        }
        self.recent.push_back((hit, predicted, entropy));
        self.hits += hit as usize;
        self.seen += 1;
        self.entropy_sum += entropy;
    }

    fn point(&self) -> StreamPoint {
        let n = self.recent.len().max(1) as f64;
        let mut counts = vec![0usize; self.classes];
        for (_, p, _) in &self.recent {
            if let Some(c) = counts.get_mut(*p as usize) {
                *c += 1;
            }
        }
        StreamPoint {
            seen: self.seen,
            window_accuracy: self.recent.iter().filter(|r| r.0).count() as f64 / n,
            accuracy: self.hits as f64 / self.seen.max(1) as f64,
            entropy: self.recent.iter().map(|r| r.2).sum::<f64>() / n,
            top_share: counts.iter().copied().max().unwrap_or(0) as f64 / n,
        }
    }
}

/// Buffers of one batch size, shared by every stream at that size.
pub(crate) struct StreamBuffers {
    x: Tensor,
    terms: Tensor,
    dlogits: Tensor,
}

impl StreamBuffers {
    /// Buffers for test batches of `model.rows()` rows.
    pub(crate) fn new(device: &Device, model: &Classifier) -> Result<StreamBuffers> {
        let (rows, c) = (model.rows(), model.config());
        Ok(StreamBuffers {
            x: Tensor::empty(device, "test batch", &[rows, c.input], DType::F32)?,
            terms: Tensor::empty(device, "entropy terms", &[rows, 2], DType::F32)?,
            dlogits: Tensor::empty(device, "logit gradient", &[rows, c.classes], DType::F32)?,
        })
    }
}

/// Streams `pixels` (with `labels`) through `model` in batches of its rows with `method`,
/// starting from the source model's LayerNorm parameters `source_norms`; `on_point` gets the
/// curve as it grows. `None` when `stop` was set.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_stream(
    device: &Device,
    cfg: &TtaConfig,
    model: &Classifier,
    buffers: &StreamBuffers,
    source_norms: &Tensor,
    (method, severity): (TtaMethod, usize),
    (pixels, labels): (&[f32], &[u32]),
    stop: &AtomicBool,
    on_point: &mut dyn FnMut(&StreamPoint),
) -> Result<Option<StreamRecord>> {
    let batch = model.rows();
    let (width, classes) = (model.config().input, model.config().classes);
    let objective = cfg.objective(method);
    let lr = if objective.is_some() { cfg.lr_at(batch) } else { 0.0 };
    // Every stream starts from the source model, with fresh optimiser moments.
    let mut rec = Recorder::new(device);
    rec.copy(source_norms, model.norms().params())?;
    rec.submit()?;
    let mut opt = AdamW::new(device, model.norms(), cfg.adapt_optim())?;
    let mut tally = Tally { window: cfg.window, classes, recent: VecDeque::new(), hits: 0, seen: 0, entropy_sum: 0.0 };
    let every = (cfg.window / 4).max(1).div_ceil(batch) * batch;
    let mut curve = Vec::new();
    let t0 = Instant::now();
    for (step, (x, y)) in pixels.chunks(batch * width).zip(labels.chunks(batch)).enumerate() {
        crate::clock::yield_now().await;
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        buffers.x.write_f32(x)?;
        let mut rec = Recorder::reusing_bind_groups(device);
        model.forward(&mut rec, &buffers.x)?;
        // The source model's entropies come from the same kernel (Tent's objective is H).
        let o = objective.unwrap_or(TtaObjective::Tent);
        entropy_loss(&mut rec, model.logits(), &buffers.terms, &buffers.dlogits, o, 1.0 / batch as f32)?;
        if objective.is_some() {
            rec.clear(model.norms().grads())?;
            model.backward_norms(&mut rec, &buffers.dlogits)?;
            opt.step(&mut rec, model.norms(), lr)?;
        }
        rec.submit()?;
        let logits = model.logits().read_f32().await?;
        let terms = buffers.terms.read_f32().await?;
        if let Some(bad) = logits.iter().find(|v| !v.is_finite()) {
            return Err(Error::Config(format!(
                "{} at batch {batch} diverged: a logit became {bad} after {} samples; lower adapt_lr (now {})",
                method.name(),
                step * batch,
                cfg.adapt_lr
            )));
        }
        for ((p, label), t) in argmax_rows(&logits, classes).into_iter().zip(y).zip(terms.chunks(2)) {
            tally.push(p == *label, p, t[1] as f64);
        }
        if tally.seen.is_multiple_of(every) || tally.seen == labels.len() {
            let point = tally.point();
            on_point(&point);
            curve.push(point);
        }
    }
    let last = tally.point();
    Ok(Some(StreamRecord {
        method,
        batch,
        severity,
        lr,
        accuracy: last.accuracy,
        final_window_accuracy: last.window_accuracy,
        mean_entropy: tally.entropy_sum / tally.seen.max(1) as f64,
        curve,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}
