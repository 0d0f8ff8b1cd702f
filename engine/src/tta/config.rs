//! What defines a test-time adaptation experiment: the source model and its training, the
//! corrupted stream, and the methods, batch sizes and severities compared.

use crate::data::{Corruption, SHAPE_CLASSES, check_severity};
use crate::error::{Error, Result};
use crate::kernels::augment::AugmentConfig;
use crate::kernels::entropy::{REALM_ALPHA, TtaObjective, sar_margin};
use crate::models::ClassifierConfig;
use crate::optim::{AdamWConfig, LrSchedule};

/// How the stream is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TtaMethod {
    /// The source model unchanged.
    Source,
    /// Tent: minimise each batch's mean entropy.
    Tent,
    /// SAR's entropy filter: Tent on the samples whose entropy is under E0 only.
    Filter,
    /// REALM: the robust, self-paced entropy [I].
    Realm,
}

impl TtaMethod {
    /// Every method, in table order.
    pub const ALL: [TtaMethod; 4] = [TtaMethod::Source, TtaMethod::Tent, TtaMethod::Filter, TtaMethod::Realm];

    /// Name for tables, files and the command line.
    pub fn name(self) -> &'static str {
        match self {
            TtaMethod::Source => "source",
            TtaMethod::Tent => "tent",
            TtaMethod::Filter => "filter",
            TtaMethod::Realm => "realm",
        }
    }

    /// Parses a name, listing the choices when it is none of them.
    pub fn parse(name: &str) -> Result<TtaMethod> {
        TtaMethod::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            Error::Config(format!("unknown adaptation method {name:?}; choose from source, tent, filter, realm"))
        })
    }
}

/// Everything that defines a run of the experiment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtaConfig {
    /// Classifier widths (`input` must be image_size² × 3).
    pub classifier: ClassifierConfig,
    /// Side of the shape images, pixels.
    pub image_size: usize,
    /// Clean labelled images the source model trains on.
    pub train_images: usize,
    /// Source training steps.
    pub source_steps: usize,
    /// Source training batch.
    pub source_batch: usize,
    /// Source learning-rate schedule.
    pub source_schedule: LrSchedule,
    /// Augmentations of the source training images (the augment kernel).
    pub source_augment: AugmentConfig,
    /// Test samples in each stream (divisible by every batch size).
    pub stream_len: usize,
    /// The corruption of the stream.
    pub corruption: Corruption,
    /// Severities to stream (0 = clean, up to 5).
    pub severities: Vec<usize>,
    /// Test batch sizes.
    pub batches: Vec<usize>,
    /// Methods compared.
    pub methods: Vec<TtaMethod>,
    /// Adam learning rate of the adaptation at batch 64; other batches take the square-root
    /// rule, lr·√(b/64) (Malladi et al. 2022, Adam's rule for batch scaling).
    pub adapt_lr: f32,
    /// REALM's shape α [I] (`REALM_ALPHA` by default).
    pub realm_alpha: f32,
    /// REALM's scale c in nats [I]; SAR's E0 = 0.4·ln C when absent.
    pub realm_scale: Option<f32>,
    /// The filter's entropy threshold in nats; SAR's E0 = 0.4·ln C when absent.
    pub filter_threshold: Option<f32>,
    /// Samples in the sliding window of the accuracy curve.
    pub window: usize,
    /// Seed of the images, the corruptions, the augmentations and the weights.
    pub seed: u64,
}

impl Default for TtaConfig {
    fn default() -> Self {
        TtaConfig {
            classifier: ClassifierConfig::default(),
            image_size: 16,
            train_images: 8000,
            source_steps: 3000,
            source_batch: 64,
            source_schedule: LrSchedule { lr: 3e-3, warmup: 30, min_ratio: 0.05 },
            source_augment: AugmentConfig { min_crop_area: 0.75, jitter: 0.2, noise_std: 0.02 },
            stream_len: 4096,
            corruption: Corruption::Mixed,
            severities: vec![1, 3, 5],
            batches: vec![1, 8, 64],
            methods: TtaMethod::ALL.to_vec(),
            adapt_lr: 3e-3,
            realm_alpha: REALM_ALPHA,
            realm_scale: None,
            filter_threshold: None,
            window: 128,
            seed: 0,
        }
    }
}

impl TtaConfig {
    /// The objective `method` minimises (None: the source model is not adapted).
    pub fn objective(&self, method: TtaMethod) -> Option<TtaObjective> {
        let classes = self.classifier.classes;
        match method {
            TtaMethod::Source => None,
            TtaMethod::Tent => Some(TtaObjective::Tent),
            TtaMethod::Filter => {
                Some(TtaObjective::Filter { threshold: self.filter_threshold.unwrap_or(sar_margin(classes)) })
            }
            TtaMethod::Realm => Some(TtaObjective::Realm {
                alpha: self.realm_alpha,
                scale: self.realm_scale.unwrap_or(sar_margin(classes)),
            }),
        }
    }

    /// The adaptation's learning rate at batch size `batch`.
    pub fn lr_at(&self, batch: usize) -> f32 {
        self.adapt_lr * (batch as f32 / 64.0).sqrt()
    }

    /// Adam for the adaptation: no weight decay or clipping, β₂ = 0.999 (Tent's recipe).
    pub fn adapt_optim(&self) -> AdamWConfig {
        AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, grad_clip: 0.0 }
    }

    /// Checks the settings fit together, naming the first value that does not.
    pub fn validate(&self) -> Result<()> {
        self.classifier.validate()?;
        self.source_augment.validate()?;
        let want = self.image_size * self.image_size * 3;
        if self.classifier.input != want {
            return Err(Error::Config(format!(
                "classifier input {} must equal image_size² × 3 = {want}",
                self.classifier.input
            )));
        }
        if self.classifier.classes != SHAPE_CLASSES.len() {
            return Err(Error::Config(format!(
                "the shape images have {} classes, the classifier {}",
                SHAPE_CLASSES.len(),
                self.classifier.classes
            )));
        }
        if self.image_size < 4 {
            return Err(Error::Config(format!("image_size {} is too small: use at least 4", self.image_size)));
        }
        if self.source_steps == 0 || self.source_batch == 0 || self.window == 0 {
            return Err(Error::Config("source_steps, source_batch and window must be positive".into()));
        }
        if self.train_images < self.source_batch {
            return Err(Error::Config(format!(
                "{} training images are fewer than one source batch of {}",
                self.train_images, self.source_batch
            )));
        }
        if self.batches.is_empty() || self.severities.is_empty() || self.methods.is_empty() {
            return Err(Error::Config("choose at least one batch size, severity and method".into()));
        }
        for &b in &self.batches {
            if b == 0 || self.stream_len == 0 || !self.stream_len.is_multiple_of(b) {
                return Err(Error::Config(format!(
                    "a stream of {} samples does not split into test batches of {b}; \
                     use a stream length divisible by every batch size (4096 for 1, 8, 64)",
                    self.stream_len
                )));
            }
        }
        for &s in &self.severities {
            check_severity(s)?;
        }
        if !(self.adapt_lr > 0.0 && self.adapt_lr.is_finite()) {
            return Err(Error::Config(format!("adapt_lr must be positive, got {}", self.adapt_lr)));
        }
        for m in &self.methods {
            if let Some(o) = self.objective(*m) {
                o.validate()?;
            }
        }
        Ok(())
    }
}
