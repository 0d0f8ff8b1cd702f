//! What a run trains: model, batch, steps, schedule, optimiser, seed and data mixture.

use std::path::Path;

use crate::data::{DOMAINS, TextDomain, TextRef};
use crate::error::{Error, Result};
use crate::kernels::distill::DistillLoss;
use crate::models::{Ffn, GptConfig};
use crate::nn::MoeConfig;
use crate::optim::{AdamWConfig, LrSchedule};

/// A training run's full description; serialisable so runs can be repeated from their record.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// A label for the run.
    pub name: String,
    /// The model.
    pub model: GptConfig,
    /// Sequences per step.
    pub batch: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// AdamW settings.
    pub optim: AdamWConfig,
    /// Seed for data, initialisation and sampling.
    pub seed: u64,
    /// Mixture weights h over the built-in domains (prose, code, arithmetic, records), then
    /// over `texts` in order.
    pub mixture: Vec<f64>,
    /// The user's own text domains after the built-in ones (the bytes are given to the trainer
    /// beside the configuration).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<TextRef>,
    /// Bytes of generated training text per domain.
    pub train_bytes: usize,
    /// Evaluate every this many steps (and at the end); 0 = only at the end.
    pub eval_every: usize,
    /// Held-out batches per domain in each evaluation.
    pub eval_batches: usize,
    /// Read the training loss back every this many steps (reading waits for the GPU).
    pub log_every: usize,
    /// Learn from a trained teacher's softened predictions instead of (or beside) the labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distill: Option<DistillSpec>,
    /// Start from the trained weights of this run (a sweep id) instead of a random
    /// initialisation: a finetuning run. The weights are handed to the trainer beside the
    /// configuration (`Trainer::start_from`); a fresh optimiser and schedule start with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_from: Option<String>,
}

/// A distillation run's teacher and loss (Busbridge et al. 2025): the teacher's logits are
/// computed batch by batch as the student trains, never stored for the data set.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillSpec {
    /// The teacher's architecture (same vocabulary and context as the student's).
    pub teacher: GptConfig,
    /// The run that trained it (a sweep id): whose weights the trainer is handed.
    pub teacher_run: String,
    /// Temperature τ and weight λ of the teacher's term.
    #[serde(default)]
    pub loss: DistillLoss,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            name: "tiny".into(),
            model: GptConfig::default(),
            batch: 16,
            steps: 300,
            schedule: LrSchedule::default(),
            optim: AdamWConfig::default(),
            seed: 1,
            mixture: vec![1.0; DOMAINS.len()],
            texts: Vec::new(),
            train_bytes: 200_000,
            eval_every: 100,
            eval_batches: 2,
            log_every: 10,
            distill: None,
            init_from: None,
        }
    }
}

/// Named presets: (name, what it is for).
pub const PRESETS: &[(&str, &str)] = &[
    ("tiny", "≈120K-parameter GPT (2 layers, width 64, context 64), 300 steps: the default demo"),
    ("smoke", "a 1-layer width-32 GPT for 60 steps: seconds, used by the tests"),
    ("small", "≈0.8M-parameter GPT (4 layers, width 128, context 128), 1000 steps: wants a real GPU"),
    (
        "moe-tiny",
        "the tiny GPT with a mixture of 8 experts, top-2, in every layer (dropless): expert load in the summary",
    ),
];

impl RunConfig {
    /// The preset called `name`.
    pub fn preset(name: &str) -> Result<RunConfig> {
        let base = RunConfig::default();
        match name {
            "tiny" => Ok(base),
            "smoke" => Ok(RunConfig {
                name: "smoke".into(),
                model: GptConfig { context: 32, d_model: 32, n_layers: 1, n_heads: 2, ..GptConfig::default() },
                batch: 8,
                steps: 60,
                schedule: LrSchedule { lr: 1e-2, warmup: 5, min_ratio: 0.1 },
                train_bytes: 50_000,
                eval_every: 0,
                eval_batches: 1,
                log_every: 5,
                ..base
            }),
            "small" => Ok(RunConfig {
                name: "small".into(),
                model: GptConfig { context: 128, d_model: 128, n_layers: 4, n_heads: 4, ..GptConfig::default() },
                batch: 16,
                steps: 1000,
                schedule: LrSchedule { lr: 2e-3, warmup: 50, min_ratio: 0.1 },
                train_bytes: 1_000_000,
                eval_every: 250,
                ..base
            }),
            "moe-tiny" => Ok(RunConfig {
                name: "moe-tiny".into(),
                model: GptConfig { ffn: Ffn::Moe(MoeConfig::default()), ..GptConfig::default() },
                ..base
            }),
            other => {
                let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
                Err(Error::Config(format!("no preset named `{other}`; choose one of {}", names.join(", "))))
            }
        }
    }

    /// Reads a JSON config; fields left out take the defaults of the `tiny` preset.
    pub fn from_file(path: &Path) -> Result<RunConfig> {
        let cfg: RunConfig = crate::train::read_json(path)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the run can start.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        if self.batch == 0 || self.steps == 0 {
            return Err(Error::Config(format!("batch ({}) and steps ({}) must be positive", self.batch, self.steps)));
        }
        let names = self.domain_names();
        if self.mixture.len() != names.len() {
            return Err(Error::Config(format!(
                "mixture has {} weights; there are {} domains ({})",
                self.mixture.len(),
                names.len(),
                names.join(", ")
            )));
        }
        for (i, t) in self.texts.iter().enumerate() {
            if names[..DOMAINS.len() + i].contains(&t.name) {
                return Err(Error::Config(format!("two domains are called `{}`; rename one of the files", t.name)));
            }
            if TextDomain::held_out(t.bytes) < self.model.context + 1 {
                return Err(Error::Config(format!(
                    "the text domain `{}` holds {} bytes: too little to hold out windows of context {} (it needs {})",
                    t.name,
                    t.bytes,
                    self.model.context,
                    10 * (self.model.context + 1)
                )));
            }
        }
        if !(self.schedule.lr.is_finite() && self.schedule.lr > 0.0) {
            return Err(Error::Config(format!("learning rate must be positive, got {}", self.schedule.lr)));
        }
        if let Some(d) = &self.distill {
            d.teacher.validate()?;
            d.loss.validate()?;
            if (d.teacher.vocab, d.teacher.context) != (self.model.vocab, self.model.context) {
                return Err(Error::Config(format!(
                    "the teacher reads vocabulary {} and context {}, the student {} and {}: distillation needs the same of both",
                    d.teacher.vocab, d.teacher.context, self.model.vocab, self.model.context
                )));
            }
        }
        if self.train_bytes < 4 * (self.model.context + 1) {
            return Err(Error::Config(format!(
                "train_bytes {} is too small for context {}",
                self.train_bytes, self.model.context
            )));
        }
        Ok(())
    }

    /// The domains' names in mixture order: the built-in ones, then the texts.
    pub fn domain_names(&self) -> Vec<String> {
        DOMAINS.iter().map(|d| d.name().to_string()).chain(self.texts.iter().map(|t| t.name.clone())).collect()
    }

    /// Trains on `texts` too: each becomes a domain after the built-in ones, with mixture
    /// weight `weight` (a text already named is replaced).
    pub fn add_texts(&mut self, texts: &[TextDomain], weight: f64) {
        for t in texts {
            let r = t.reference();
            match self.texts.iter().position(|x| x.name == r.name) {
                Some(i) => self.texts[i] = r,
                None => {
                    self.texts.push(r);
                    self.mixture.push(weight);
                }
            }
        }
    }

    /// This configuration with `bytes` of the procedural dialogue domain as its last text
    /// domain, at weight 0: the target a forgetting sweep finetunes on.
    pub fn with_dialogue_target(mut self, bytes: usize) -> Result<RunConfig> {
        self.add_texts(&[crate::data::dialogue(bytes)?], 0.0);
        Ok(self)
    }

    /// Trains on the built-in domains only again (drops the texts and their weights).
    pub fn remove_texts(&mut self) {
        self.texts.clear();
        self.mixture.truncate(DOMAINS.len());
    }

    /// Tokens seen by the whole run.
    pub fn total_tokens(&self) -> usize {
        self.steps * self.batch * self.model.context
    }
}
