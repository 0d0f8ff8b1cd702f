//! One self-supervised run: B samples × M views per step, the chosen contrastive loss, AdamW,
//! and a linear probe before and after.

use crate::clock::Instant;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::data::SHAPE_CLASSES;
use crate::error::{Error, Result, finite_loss};
use crate::kernels::augment::AugmentConfig;
use crate::kernels::contrastive::{
    ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState, contrastive_backward, contrastive_forward,
};
use crate::models::{Encoder, EncoderConfig};
use crate::optim::{AdamW, AdamWConfig, LrSchedule};
use crate::recorder::{Recorder, ReleaseBindGroups};
use crate::rng::Rng;
use crate::selfsup::SelfsupEvent;
use crate::selfsup::views::ViewBatch;
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

/// Trains one encoder and probes it before and after, blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn train_polyview(
    device: &Device,
    cfg: &PolyviewConfig,
    on_event: &mut dyn FnMut(&SelfsupEvent),
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
    on_event: &mut dyn FnMut(&SelfsupEvent),
) -> Result<Option<PolyviewRecord>> {
    cfg.validate()?;
    let rows = cfg.passes_per_step();
    let shape = cfg.shape();
    let b = ViewBatch::new(device, cfg.train_images, cfg.probe_images, cfg.image_size, cfg.view_size, rows, cfg.seed)?;
    let dz = Tensor::empty(device, "embedding gradient", &[rows, cfg.encoder.embed], DType::F32)?;
    let enc = Encoder::new(device, &cfg.encoder, rows, cfg.seed)?;
    let mut opt = AdamW::new(device, enc.weights(), cfg.optim.clone())?;
    let state = ContrastiveState::new(device, shape)?;
    // The steps keep their bind groups (they record the same work every time); they hold this
    // run's buffers, so they go when the run ends, however it ends.
    let _release = ReleaseBindGroups::on(device);
    let opts = ContrastiveOpts { loss: cfg.loss, temperature: cfg.temperature };
    on_event(&SelfsupEvent::Started { params: enc.weights().count() });
    let probe_before = b.probe(device, &enc).await?;
    on_event(&SelfsupEvent::Probe { step: 0, accuracy: probe_before.1, target: None });
    let mut probes = vec![(0, probe_before.1)];
    let mut rng = Rng::new(cfg.seed).fork(0xa11);
    let mut curve = Vec::new();
    let (t0, mut probing) = (Instant::now(), 0.0);
    for step in 1..=cfg.steps {
        crate::clock::yield_now().await;
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut rec = Recorder::reusing_bind_groups(device);
        b.draw(&mut rec, &mut rng, cfg.samples, cfg.views, &cfg.augment, None)?;
        rec.clear(enc.weights().grads())?;
        enc.forward(&mut rec, &b.views)?;
        contrastive_forward(&mut rec, enc.embedding(), &state, &shape, &opts)?;
        contrastive_backward(&mut rec, &state, &dz, &shape, &opts)?;
        enc.backward(&mut rec, &b.views, &dz)?;
        opt.step(&mut rec, enc.weights(), cfg.schedule.at(step - 1, cfg.steps))?;
        rec.submit()?;
        let loss = if step % cfg.log_every == 0 || step == cfg.steps {
            let l = finite_loss(step, state.loss.read_f32().await?.first().copied().unwrap_or(f32::NAN))?;
            curve.push((step, l));
            Some(l)
        } else {
            None
        };
        on_event(&SelfsupEvent::Step { step, loss });
        if cfg.probe_every > 0 && step.is_multiple_of(cfg.probe_every) && step < cfg.steps {
            let p0 = Instant::now();
            let (_, accuracy) = b.probe(device, &enc).await?;
            probes.push((step, accuracy));
            on_event(&SelfsupEvent::Probe { step, accuracy, target: None });
            probing += p0.elapsed().as_secs_f64();
        }
    }
    // The last step read its loss back, so the device has finished its work.
    let seconds = t0.elapsed().as_secs_f64() - probing;
    let probe_after = b.probe(device, &enc).await?;
    probes.push((cfg.steps, probe_after.1));
    on_event(&SelfsupEvent::Probe { step: cfg.steps, accuracy: probe_after.1, target: None });
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
