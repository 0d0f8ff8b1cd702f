//! One self-supervised run: B samples × M views per step, the chosen contrastive loss, AdamW,
//! and a linear probe before and after.

use crate::clock::Instant;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::data::{SHAPE_CLASSES, ShapeImages};
use crate::error::{Error, Result};
use crate::kernels::augment::{AugmentConfig, AugmentShape, VIEW_PARAMS, ViewParams, augment};
use crate::kernels::contrastive::{
    ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState, contrastive_backward, contrastive_forward,
};
use crate::models::{Encoder, EncoderConfig};
use crate::optim::{AdamW, AdamWConfig, LrSchedule};
use crate::recorder::{Recorder, ReleaseBindGroups};
use crate::rng::Rng;
use crate::selfsup::probe::{Labelled, linear_probe};
use crate::tensor::{DType, Device, Tensor};

/// Everything that defines a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolyviewConfig {
    /// Samples per step B.
    pub samples: usize,
    /// Views per sample M.
    pub views: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// The objective.
    pub loss: ContrastiveLoss,
    /// Temperature τ (0.2, the labelled default [I]).
    pub temperature: f32,
    /// Encoder widths (`input` must be view_size² × 3).
    pub encoder: EncoderConfig,
    /// Augmentation strength.
    pub augment: AugmentConfig,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// AdamW settings.
    pub optim: AdamWConfig,
    /// Side of the generated images, pixels.
    pub image_size: usize,
    /// Side of each view, pixels.
    pub view_size: usize,
    /// Images in the unlabelled training pool.
    pub train_images: usize,
    /// Labelled images for the probe: half to fit it, half to score it.
    pub probe_images: usize,
    /// Seed of the images, views and weights.
    pub seed: u64,
    /// Read the loss back every this many steps.
    pub log_every: usize,
    /// Also probe every this many steps (0: only before and after training).
    pub probe_every: usize,
}

impl Default for PolyviewConfig {
    fn default() -> Self {
        PolyviewConfig {
            samples: 64,
            views: 4,
            steps: 1000,
            loss: ContrastiveLoss::Geometric,
            temperature: 0.2,
            encoder: EncoderConfig::default(),
            augment: AugmentConfig { min_crop_area: 0.6, jitter: 0.3, noise_std: 0.03 },
            schedule: LrSchedule { lr: 2e-3, warmup: 20, min_ratio: 0.1 },
            optim: AdamWConfig { weight_decay: 0.05, ..AdamWConfig::default() },
            image_size: 24,
            view_size: 16,
            train_images: 4000,
            probe_images: 4000,
            seed: 0,
            log_every: 10,
            probe_every: 0,
        }
    }
}

impl PolyviewConfig {
    /// Encoder passes per step, B·M: what the demo holds fixed across M.
    pub fn passes_per_step(&self) -> usize {
        self.samples * self.views
    }

    /// This configuration at `views` views per sample within `passes` encoder passes per step
    /// (B = passes / M), the compute-matched comparison of the demo: M = 2 runs InfoNCE (every
    /// objective equals it there), other M run `loss`.
    pub fn with_views(&self, passes: usize, views: usize, loss: ContrastiveLoss) -> Result<PolyviewConfig> {
        if views == 0 || !passes.is_multiple_of(views) {
            return Err(Error::Config(format!(
                "{passes} encoder passes per step do not split into {views} views per sample; \
                 use a number of passes divisible by every M (a multiple of 8 for M = 2, 4, 8)"
            )));
        }
        let loss = if views == 2 { ContrastiveLoss::InfoNce } else { loss };
        let cfg = PolyviewConfig { samples: passes / views, views, loss, ..self.clone() };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The loss shape of one step.
    pub fn shape(&self) -> ContrastiveShape {
        ContrastiveShape { samples: self.samples, views: self.views, dim: self.encoder.embed }
    }

    /// Checks the settings fit together, naming the first that does not.
    pub fn validate(&self) -> Result<()> {
        self.shape().validate(self.loss)?;
        self.encoder.validate()?;
        self.augment.validate()?;
        let want = self.view_size * self.view_size * 3;
        if self.encoder.input != want {
            return Err(Error::Config(format!(
                "encoder input {} must equal view_size² × 3 = {want}",
                self.encoder.input
            )));
        }
        if self.steps == 0 || self.image_size < 4 || self.view_size < 4 || self.log_every == 0 {
            return Err(Error::Config("steps and log_every must be positive, image and view sides at least 4".into()));
        }
        if self.train_images < self.samples || self.probe_images < 2 * SHAPE_CLASSES.len() {
            return Err(Error::Config(format!(
                "need at least B = {} training images and {} probe images",
                self.samples,
                2 * SHAPE_CLASSES.len()
            )));
        }
        Ok(())
    }
}

/// Progress of a run.
#[derive(Clone, Debug)]
pub enum PolyviewEvent {
    /// Built; `params` weights.
    Started {
        /// Encoder and head parameters.
        params: usize,
    },
    /// After optimiser step `step` (1-based); `loss` when it was read back.
    Step {
        /// Steps done.
        step: usize,
        /// Mean contrastive loss of this step, when read.
        loss: Option<f32>,
    },
    /// A linear probe's held-out accuracy.
    Probe {
        /// Steps done when it was taken (0: before training).
        step: usize,
        /// Test accuracy.
        accuracy: f64,
    },
}

/// What a run measured.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PolyviewRecord {
    /// The configuration.
    pub config: PolyviewConfig,
    /// (step, loss) every `log_every` steps.
    pub curve: Vec<(usize, f32)>,
    /// Probe (train, test) accuracy of the untrained encoder.
    pub probe_before: (f64, f64),
    /// (step, test accuracy) of every probe, before training (step 0) and after included.
    pub probes: Vec<(usize, f64)>,
    /// Probe (train, test) accuracy after training.
    pub probe_after: (f64, f64),
    /// Wall-clock seconds of training (probes excluded).
    pub seconds: f64,
    /// Encoder passes in all (steps × B × M).
    pub encoder_passes: usize,
    /// Sample draws in all (steps × B).
    pub sample_draws: usize,
}

/// Mixed into the seed of the held-out probe images, so they are never training images.
const PROBE_SEED: u64 = 0x0050_4f42_4553;

/// Device-side buffers of one run.
struct Buffers {
    images: Tensor,
    probe_images: Tensor,
    src: Tensor,
    view: Tensor,
    views: Tensor,
    dz: Tensor,
}

fn augment_shape(cfg: &PolyviewConfig, noise_std: f32, seed: u32) -> AugmentShape {
    AugmentShape { views: cfg.passes_per_step(), in_size: cfg.image_size, out_size: cfg.view_size, noise_std, seed }
}

/// The encoder's representation of every image in `images` (identity views, no noise).
async fn features(device: &Device, enc: &Encoder, b: &Buffers, cfg: &PolyviewConfig, count: usize) -> Result<Vec<f32>> {
    let rows = enc.rows();
    let repr = enc.config().repr;
    let identity = ViewParams::identity(cfg.image_size).to_floats();
    b.view.write_f32(&identity.repeat(rows))?;
    let mut out = Vec::with_capacity(count * repr);
    for start in (0..count).step_by(rows) {
        let ids: Vec<u32> = (0..rows).map(|r| (start + r).min(count - 1) as u32).collect();
        b.src.write_u32(&ids)?;
        let mut rec = Recorder::new(device);
        augment(&mut rec, &b.probe_images, &b.src, &b.view, &b.views, &augment_shape(cfg, 0.0, 0))?;
        enc.forward_repr(&mut rec, &b.views)?;
        rec.submit()?;
        let h = enc.repr().read_f32().await?;
        let take = rows.min(count - start);
        out.extend_from_slice(&h[..take * repr]);
    }
    Ok(out)
}

/// Probe (train, test) accuracy: fitted on the first half of the probe images, scored on the rest.
async fn probe(
    device: &Device,
    enc: &Encoder,
    b: &Buffers,
    cfg: &PolyviewConfig,
    labels: &[u32],
) -> Result<(f64, f64)> {
    let x = features(device, enc, b, cfg, labels.len()).await?;
    let dim = enc.config().repr;
    let half = labels.len() / 2;
    let train = Labelled { features: &x[..half * dim], labels: &labels[..half] };
    let test = Labelled { features: &x[half * dim..], labels: &labels[half..] };
    linear_probe(&train, &test, dim, SHAPE_CLASSES.len())
}

/// Trains one encoder and probes it before and after, blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn train_polyview(
    device: &Device,
    cfg: &PolyviewConfig,
    on_event: &mut dyn FnMut(&PolyviewEvent),
) -> Result<PolyviewRecord> {
    let never = AtomicBool::new(false);
    let record = pollster::block_on(train_polyview_async(device, cfg, &never, on_event))?;
    record.ok_or_else(|| Error::Config("the run was stopped".into()))
}

/// As `train_polyview`, but checks `stop` before every step and returns `None` once it is set
/// (for the lab's Stop button); every read-back is awaited, so in the browser the page keeps
/// drawing while it trains.
pub async fn train_polyview_async(
    device: &Device,
    cfg: &PolyviewConfig,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&PolyviewEvent),
) -> Result<Option<PolyviewRecord>> {
    cfg.validate()?;
    let rows = cfg.passes_per_step();
    let shape = cfg.shape();
    let pool = ShapeImages::generate(cfg.train_images, cfg.image_size, cfg.seed);
    let held_out = ShapeImages::generate(cfg.probe_images, cfg.image_size, cfg.seed ^ PROBE_SEED);
    let image_len = pool.image_len();
    let b = Buffers {
        images: Tensor::from_f32(device, "training images", &[pool.len(), image_len], &pool.pixels)?,
        probe_images: Tensor::from_f32(device, "probe images", &[held_out.len(), image_len], &held_out.pixels)?,
        src: Tensor::from_u32(device, "view sources", &[rows], &vec![0; rows])?,
        view: Tensor::empty(device, "view parameters", &[rows, VIEW_PARAMS], DType::F32)?,
        views: Tensor::empty(device, "views", &[rows, cfg.encoder.input], DType::F32)?,
        dz: Tensor::empty(device, "embedding gradient", &[rows, cfg.encoder.embed], DType::F32)?,
    };
    let enc = Encoder::new(device, &cfg.encoder, rows, cfg.seed)?;
    let mut opt = AdamW::new(device, enc.weights(), cfg.optim.clone())?;
    let state = ContrastiveState::new(device, shape)?;
    // The steps keep their bind groups (they record the same work every time); they hold this
    // run's buffers, so they go when the run ends, however it ends.
    let _release = ReleaseBindGroups::on(device);
    let opts = ContrastiveOpts { loss: cfg.loss, temperature: cfg.temperature };
    on_event(&PolyviewEvent::Started { params: enc.weights().count() });
    let probe_before = probe(device, &enc, &b, cfg, &held_out.labels).await?;
    on_event(&PolyviewEvent::Probe { step: 0, accuracy: probe_before.1 });
    let mut probes = vec![(0, probe_before.1)];
    let mut rng = Rng::new(cfg.seed).fork(0xa11);
    let mut curve = Vec::new();
    let t0 = Instant::now();
    for step in 1..=cfg.steps {
        crate::clock::yield_now().await;
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut src = Vec::with_capacity(rows);
        let mut params = Vec::with_capacity(rows * VIEW_PARAMS);
        for _ in 0..cfg.samples {
            let image = rng.below(pool.len()) as u32;
            for _ in 0..cfg.views {
                src.push(image);
                params.extend(cfg.augment.draw(&mut rng, cfg.image_size).to_floats());
            }
        }
        b.src.write_u32(&src)?;
        b.view.write_f32(&params)?;
        let noise_seed = rng.next_u64() as u32;
        let mut rec = Recorder::reusing_bind_groups(device);
        augment(
            &mut rec,
            &b.images,
            &b.src,
            &b.view,
            &b.views,
            &augment_shape(cfg, cfg.augment.noise_std, noise_seed),
        )?;
        rec.clear(enc.weights().grads())?;
        enc.forward(&mut rec, &b.views)?;
        contrastive_forward(&mut rec, enc.embedding(), &state, &shape, &opts)?;
        contrastive_backward(&mut rec, &state, &b.dz, &shape, &opts)?;
        enc.backward(&mut rec, &b.views, &b.dz)?;
        opt.step(&mut rec, enc.weights(), cfg.schedule.at(step - 1, cfg.steps))?;
        rec.submit()?;
        let loss = if step % cfg.log_every == 0 || step == cfg.steps {
            let l = state.loss.read_f32().await?.first().copied().unwrap_or(f32::NAN);
            if !l.is_finite() {
                return Err(Error::NonFinite { step, value: l });
            }
            curve.push((step, l));
            Some(l)
        } else {
            None
        };
        on_event(&PolyviewEvent::Step { step, loss });
        if cfg.probe_every > 0 && step.is_multiple_of(cfg.probe_every) && step < cfg.steps {
            let (_, accuracy) = probe(device, &enc, &b, cfg, &held_out.labels).await?;
            probes.push((step, accuracy));
            on_event(&PolyviewEvent::Probe { step, accuracy });
        }
    }
    // The last step read its loss back, so the device has finished its work.
    let seconds = t0.elapsed().as_secs_f64();
    let probe_after = probe(device, &enc, &b, cfg, &held_out.labels).await?;
    probes.push((cfg.steps, probe_after.1));
    on_event(&PolyviewEvent::Probe { step: cfg.steps, accuracy: probe_after.1 });
    Ok(Some(PolyviewRecord {
        config: cfg.clone(),
        curve,
        probe_before,
        probes,
        probe_after,
        seconds,
        encoder_passes: cfg.steps * rows,
        sample_draws: cfg.steps * cfg.samples,
    }))
}

/// The loss curves of `records` as CSV: views, samples, objective, step, encoder passes, loss.
pub fn curves_csv(records: &[PolyviewRecord]) -> String {
    let mut text = String::from("views,samples,loss_fn,step,encoder_passes,loss\n");
    for r in records {
        let c = &r.config;
        for (step, loss) in &r.curve {
            text.push_str(&format!(
                "{},{},{},{step},{},{loss:.6}\n",
                c.views,
                c.samples,
                c.loss.name(),
                step * c.passes_per_step()
            ));
        }
    }
    text
}
