//! BYOL (Grill et al. 2020) in the engine: an online encoder with its projection head and a
//! predictor, a target encoder that is the EMA of the online one (the `ema` kernel), and the
//! normalised regression loss between the online prediction of one view and the target's
//! projection of the sample's other views (`kernels::byol`). No negatives: the predictor and
//! the slowly moving target keep the representation from collapsing.

use crate::clock::Instant;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::data::SHAPE_CLASSES;
use crate::error::{Error, Result, finite_loss};
use crate::kernels::augment::AugmentConfig;
use crate::kernels::byol::{MAX_VIEWS, byol_loss};
use crate::kernels::optim::ema;
use crate::models::{Encoder, EncoderConfig, Predictor};
use crate::optim::{AdamW, AdamWConfig, LrSchedule};
use crate::recorder::{Recorder, ReleaseBindGroups};
use crate::rng::Rng;
use crate::selfsup::SelfsupEvent;
use crate::selfsup::views::ViewBatch;
use crate::tensor::{DType, Device, Tensor};

/// Everything that defines a BYOL run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ByolConfig {
    /// Samples per step B.
    pub samples: usize,
    /// Views per sample (2: BYOL's symmetrised loss; up to 8, each view regressed onto the others).
    pub views: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Target decay ρ: target ← ρ·target + (1 − ρ)·online after every step.
    pub ema_decay: f64,
    /// Predictor hidden width.
    pub predictor_hidden: usize,
    /// Encoder and projection head widths (`input` must be view_size² × 3).
    pub encoder: EncoderConfig,
    /// Augmentation strength.
    pub augment: AugmentConfig,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// AdamW settings (encoder and predictor alike).
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

impl Default for ByolConfig {
    fn default() -> Self {
        ByolConfig {
            samples: 64,
            views: 2,
            steps: 1000,
            ema_decay: 0.99,
            predictor_hidden: 128,
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

impl ByolConfig {
    /// Encoder passes per step (B·M; the target encoder makes as many again).
    pub fn rows(&self) -> usize {
        self.samples * self.views
    }

    /// Checks the settings fit together, naming the first that does not.
    pub fn validate(&self) -> Result<()> {
        if self.samples < 2 {
            return Err(Error::Config(format!(
                "BYOL: {} samples per step; use at least 2 (the loss and the EMA scaling rule are per batch)",
                self.samples
            )));
        }
        if !(2..=MAX_VIEWS).contains(&self.views) {
            return Err(Error::Config(format!("BYOL: {} views per sample; use 2 to {MAX_VIEWS}", self.views)));
        }
        if !(self.ema_decay >= 0.0 && self.ema_decay < 1.0) {
            return Err(Error::Config(format!(
                "BYOL: target decay ρ = {} must be in [0, 1) (0.99 is a usual value)",
                self.ema_decay
            )));
        }
        self.encoder.validate()?;
        self.augment.validate()?;
        let want = self.view_size * self.view_size * 3;
        if self.encoder.input != want {
            return Err(Error::Config(format!(
                "encoder input {} must equal view_size² × 3 = {want}",
                self.encoder.input
            )));
        }
        if self.steps == 0 || self.log_every == 0 || self.predictor_hidden == 0 {
            return Err(Error::Config("BYOL: steps, log_every and the predictor width must be positive".into()));
        }
        if self.image_size < 4 || self.view_size < 4 {
            return Err(Error::Config(format!(
                "BYOL: image side {} and view side {} must be at least 4 pixels",
                self.image_size, self.view_size
            )));
        }
        if self.train_images < self.samples || self.probe_images < 2 * SHAPE_CLASSES.len() {
            return Err(Error::Config(format!(
                "BYOL: need at least B = {} training images (got {}) and {} probe images (got {})",
                self.samples,
                self.train_images,
                2 * SHAPE_CLASSES.len(),
                self.probe_images
            )));
        }
        Ok(())
    }
}

/// What a BYOL run measured.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ByolRecord {
    /// The configuration.
    pub config: ByolConfig,
    /// (step, mean loss) every `log_every` steps.
    pub curve: Vec<(usize, f32)>,
    /// (step, probe test accuracy of the online encoder), before training (step 0) and after
    /// included.
    pub probes: Vec<(usize, f64)>,
    /// (step, probe test accuracy of the target encoder) at the same steps: the EMA, which
    /// the EMA scaling rule is about.
    pub target_probes: Vec<(usize, f64)>,
    /// Probe (train, test) accuracy of the online encoder after training.
    pub probe_after: (f64, f64),
    /// Probe (train, test) accuracy of the target encoder after training.
    pub target_after: (f64, f64),
    /// Wall-clock seconds of training (probes excluded).
    pub seconds: f64,
}

impl ByolRecord {
    /// Samples seen after `step` steps.
    pub fn samples_seen(&self, step: usize) -> usize {
        step * self.config.samples
    }
}

/// The three networks of a run and the buffers of one step.
pub(crate) struct ByolNet {
    /// Online encoder and projection head (trained).
    pub online: Encoder,
    /// Predictor on the online projection (trained).
    pub predictor: Predictor,
    /// The EMA of `online` (never trained directly).
    pub target: Encoder,
    /// Per-row losses of the last step.
    pub losses: Tensor,
    dq: Tensor,
    dz: Tensor,
    views: usize,
}

impl ByolNet {
    /// Online and target start equal (one seed); the predictor draws from its own stream.
    pub fn new(device: &Device, cfg: &ByolConfig) -> Result<ByolNet> {
        let rows = cfg.rows();
        let embed = cfg.encoder.embed;
        let t = |what: &str| Tensor::empty(device, what, &[rows, embed], DType::F32);
        Ok(ByolNet {
            online: Encoder::new(device, &cfg.encoder, rows, cfg.seed)?,
            predictor: Predictor::new(device, embed, cfg.predictor_hidden, rows, cfg.seed ^ 0x9ed1)?,
            target: Encoder::new(device, &cfg.encoder, rows, cfg.seed)?,
            losses: Tensor::empty(device, "BYOL losses", &[rows], DType::F32)?,
            dq: t("prediction gradient")?,
            dz: t("projection gradient")?,
            views: cfg.views,
        })
    }

    /// Records the forward and backward pass on `x` (rows i·M + α): online and predictor
    /// weight gradients cleared and then accumulated for the mean loss.
    pub fn record_step(&self, rec: &mut Recorder, x: &Tensor) -> Result<()> {
        rec.clear(self.online.weights().grads())?;
        rec.clear(self.predictor.weights().grads())?;
        self.online.forward(rec, x)?;
        self.predictor.forward(rec, self.online.embedding())?;
        self.target.forward(rec, x)?;
        let scale = 1.0 / self.online.rows() as f32;
        let q = self.predictor.output();
        byol_loss(rec, q, self.target.embedding(), &self.losses, &self.dq, self.views, scale)?;
        self.predictor.backward(rec, self.online.embedding(), &self.dq, &self.dz)?;
        self.online.backward(rec, x, &self.dz)
    }

    /// Mean loss of the last recorded step.
    pub async fn mean_loss(&self) -> Result<f32> {
        let l = self.losses.read_f32().await?;
        Ok(l.iter().sum::<f32>() / l.len().max(1) as f32)
    }
}

/// Trains BYOL and probes it before and after, blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn train_byol(device: &Device, cfg: &ByolConfig, on_event: &mut dyn FnMut(&SelfsupEvent)) -> Result<ByolRecord> {
    let never = AtomicBool::new(false);
    let record = pollster::block_on(train_byol_async(device, cfg, &never, on_event))?;
    record.ok_or_else(|| Error::Config("the run was stopped".into()))
}

/// As `train_byol`, but checks `stop` before every step and returns `None` once it is set;
/// every read-back is awaited, so in the browser the page keeps drawing while it trains.
pub async fn train_byol_async(
    device: &Device,
    cfg: &ByolConfig,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&SelfsupEvent),
) -> Result<Option<ByolRecord>> {
    cfg.validate()?;
    let rows = cfg.rows();
    let b = ViewBatch::new(device, cfg.train_images, cfg.probe_images, cfg.image_size, cfg.view_size, rows, cfg.seed)?;
    let net = ByolNet::new(device, cfg)?;
    let mut opt_online = AdamW::new(device, net.online.weights(), cfg.optim.clone())?;
    let mut opt_predictor = AdamW::new(device, net.predictor.weights(), cfg.optim.clone())?;
    let _release = ReleaseBindGroups::on(device);
    let params = net.online.weights().count() + net.predictor.weights().count();
    on_event(&SelfsupEvent::Started { params });
    let (_, before) = b.probe(device, &net.online).await?;
    on_event(&SelfsupEvent::Probe { step: 0, accuracy: before, target: Some(before) });
    let mut probes = vec![(0, before)];
    // Online and target start equal, so their probes do too.
    let mut target_probes = vec![(0, before)];
    // Samples and their crops from one stream, noise seeds from another: runs at κ·B see the
    // very samples of κ consecutive steps at B, in order (the EMA rule's comparison).
    let mut rng = Rng::new(cfg.seed).fork(0xb701);
    let mut noise = Rng::new(cfg.seed).fork(0xb702);
    let mut curve = Vec::new();
    let rho = cfg.ema_decay as f32;
    let (t0, mut probing) = (Instant::now(), 0.0);
    for step in 1..=cfg.steps {
        crate::clock::yield_now().await;
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut rec = Recorder::reusing_bind_groups(device);
        b.draw(&mut rec, &mut rng, cfg.samples, cfg.views, &cfg.augment, Some(&mut noise))?;
        net.record_step(&mut rec, &b.views)?;
        let lr = cfg.schedule.at(step - 1, cfg.steps);
        opt_online.step(&mut rec, net.online.weights(), lr)?;
        opt_predictor.step(&mut rec, net.predictor.weights(), lr)?;
        ema(&mut rec, net.online.weights().params(), net.target.weights().params(), rho)?;
        rec.submit()?;
        let loss = if step % cfg.log_every == 0 || step == cfg.steps {
            let l = finite_loss(step, net.mean_loss().await?)?;
            curve.push((step, l));
            Some(l)
        } else {
            None
        };
        on_event(&SelfsupEvent::Step { step, loss });
        if cfg.probe_every > 0 && step.is_multiple_of(cfg.probe_every) && step < cfg.steps {
            let p0 = Instant::now();
            let (_, accuracy) = b.probe(device, &net.online).await?;
            probes.push((step, accuracy));
            let target = b.probe(device, &net.target).await?.1;
            target_probes.push((step, target));
            on_event(&SelfsupEvent::Probe { step, accuracy, target: Some(target) });
            probing += p0.elapsed().as_secs_f64();
        }
    }
    let seconds = t0.elapsed().as_secs_f64() - probing;
    let probe_after = b.probe(device, &net.online).await?;
    probes.push((cfg.steps, probe_after.1));
    let target_after = b.probe(device, &net.target).await?;
    target_probes.push((cfg.steps, target_after.1));
    on_event(&SelfsupEvent::Probe { step: cfg.steps, accuracy: probe_after.1, target: Some(target_after.1) });
    Ok(Some(ByolRecord { config: cfg.clone(), curve, probes, target_probes, probe_after, target_after, seconds }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;

    fn tiny() -> ByolConfig {
        let encoder = EncoderConfig { input: 4 * 4 * 3, hidden: 9, repr: 7, head_hidden: 6, embed: 5 };
        ByolConfig { samples: 3, views: 2, predictor_hidden: 4, encoder, view_size: 4, ..ByolConfig::default() }
    }

    /// The engine's gradient of the mean BYOL loss in the online and predictor weights against
    /// centred finite differences of the same loss (target held fixed: stop-gradient).
    #[test]
    fn the_online_gradient_matches_finite_differences() {
        let device = Device::Cpu(Cpu::new());
        let cfg = tiny();
        let net = ByolNet::new(&device, &cfg).expect("builds");
        // A target that differs from the online network, as it does after a few steps.
        let tw = net.target.weights().params();
        let mut rng = Rng::new(3);
        let perturbed: Vec<f32> = tw.to_f32().expect("reads").iter().map(|v| v + 0.2 * rng.normal() as f32).collect();
        tw.write_f32(&perturbed).expect("writes");
        let x_data = rng.uniform_vec(cfg.rows() * cfg.encoder.input, 0.0, 1.0);
        let x = Tensor::from_f32(&device, "views", &[cfg.rows(), cfg.encoder.input], &x_data).expect("uploads");
        let loss_of = |net: &ByolNet| {
            let mut rec = Recorder::new(&device);
            net.record_step(&mut rec, &x).expect("records");
            rec.submit().expect("runs");
            pollster::block_on(net.mean_loss()).expect("reads") as f64
        };
        let base = loss_of(&net);
        assert!(base > 0.05, "the loss {base} should be well above 0 with a perturbed target");
        let sets = [net.online.weights(), net.predictor.weights()];
        let grads: Vec<Vec<f32>> = sets.iter().map(|w| w.grads().to_f32().expect("reads")).collect();
        for (weights, grad) in sets.into_iter().zip(grads) {
            let theta = weights.params().to_f32().expect("reads");
            // The largest gradients (the most informative to difference in f32), and a few others.
            let mut order: Vec<usize> = (0..grad.len()).collect();
            order.sort_by(|a, b| grad[*b].abs().total_cmp(&grad[*a].abs()));
            for &i in order.iter().take(6).chain(order.iter().skip(grad.len() / 3).step_by(7).take(4)) {
                // Small steps: the normalisations make the loss strongly curved in a tiny net.
                let h = 3e-4f32;
                let at = |v: f32| {
                    let mut t = theta.clone();
                    t[i] = v;
                    weights.params().write_f32(&t).expect("writes");
                    loss_of(&net)
                };
                let fd = (at(theta[i] + h) - at(theta[i] - h)) / (2.0 * h as f64);
                weights.params().write_f32(&theta).expect("restores");
                let g = grad[i] as f64;
                assert!(
                    (fd - g).abs() <= 2e-3 * g.abs().max(0.1) + 3e-4,
                    "parameter {i}: finite difference {fd:.6}, engine {g:.6}"
                );
            }
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let err = |c: ByolConfig| c.validate().unwrap_err().to_string();
        assert!(err(ByolConfig { samples: 1, ..tiny() }).contains("1 samples"));
        assert!(err(ByolConfig { views: 9, ..tiny() }).contains("9 views"));
        assert!(err(ByolConfig { ema_decay: 1.0, ..tiny() }).contains("ρ = 1"));
        assert!(err(ByolConfig { view_size: 5, ..tiny() }).contains("view_size"));
        assert!(err(ByolConfig { train_images: 2, ..tiny() }).contains("got 2"));
    }
}
