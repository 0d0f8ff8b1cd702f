//! The loop: sample a batch, forward, backward, AdamW — one submission per step — and every
//! `log_every` steps read the loss back; evaluate on held-out text of every domain.

use crate::clock::Instant;

use crate::data::{Corpus, MixtureSampler, TextDomain, eval_batch, resolve_texts};
use crate::error::{Error, Result, finite_loss};
use crate::models::Gpt;
use crate::optim::AdamW;
use crate::recorder::{Recorder, ReleaseBindGroups};
use crate::tensor::Device;
use crate::train::{CurvePoint, Divergence, EvalPoint, RunConfig, RunRecord};

/// Progress of a run, for a progress bar or a live plot.
#[derive(Clone, Debug)]
pub enum Event {
    /// The model is built; training starts.
    Started {
        /// Parameter count.
        params: usize,
        /// Steps to run.
        steps: usize,
        /// Context-free baseline loss of the mixture (nats).
        unigram_entropy: f64,
    },
    /// A step finished (`loss` is set on steps whose loss was read back).
    Step {
        /// 1-based step.
        step: usize,
        /// Mean batch loss, when read back.
        loss: Option<f32>,
        /// Training tokens per second so far.
        tokens_per_sec: f64,
    },
    /// A held-out evaluation finished.
    Eval(EvalPoint),
}

async fn evaluate(model: &Gpt, device: &Device, corpus: &Corpus, cfg: &RunConfig, step: usize) -> Result<EvalPoint> {
    let mut per_domain = Vec::new();
    for d in 0..corpus.len() {
        let mut sum = 0.0;
        for i in 0..cfg.eval_batches.max(1) {
            let b = eval_batch(corpus, d, model.batch(), cfg.model.context, i);
            model.set_batch(&b.tokens, &b.targets)?;
            let mut rec = Recorder::new(device);
            model.forward(&mut rec, false)?;
            rec.submit()?;
            sum += model.read_mean_loss().await?;
        }
        per_domain.push(sum / cfg.eval_batches.max(1) as f32);
    }
    Ok(EvalPoint { step, per_domain })
}

/// One step's outcome.
#[derive(Clone, Debug)]
pub struct StepOutcome {
    /// 1-based step just taken.
    pub step: usize,
    /// Mean batch loss, on steps whose loss was read back.
    pub loss: Option<f32>,
    /// Training tokens per second so far, evaluations and (after step 1) the first step left
    /// out: that one compiles the kernels on a GPU, which says nothing of the speed.
    pub tokens_per_sec: f64,
    /// The held-out evaluation, on steps where one ran.
    pub eval: Option<EvalPoint>,
}

/// A run that advances one step at a time, so a UI can play, pause, single-step and sample
/// from the model between steps; `train` is a loop over it.
pub struct Trainer {
    cfg: RunConfig,
    device: Device,
    corpus: Corpus,
    sampler: MixtureSampler,
    model: Gpt,
    /// The distillation teacher, when the configuration names one.
    teacher: Option<Gpt>,
    opt: AdamW,
    params: usize,
    unigram_entropy: f64,
    step: usize,
    curve: Vec<CurvePoint>,
    evals: Vec<EvalPoint>,
    train_secs: f64,
    /// Seconds the first step took (compilation included).
    first_step_secs: f64,
    /// Kernels the last step recorded.
    kernels_per_step: usize,
    eval_secs: f64,
    /// Expert counts per MoE layer at the last logged steps (most recent last).
    loads: Vec<Vec<Vec<u32>>>,
    /// Whether the weights `cfg.init_from` names are still to be handed in (a finetuning run
    /// refuses to step from a random initialisation).
    awaiting_init: bool,
    /// The steps keep their bind groups; they go with the trainer.
    _release: ReleaseBindGroups,
}

/// Logged steps the expert-load average covers.
const LOAD_WINDOW: usize = 10;

impl Trainer {
    /// Builds the data, the model and the optimiser for `cfg` on `device` (built-in domains
    /// only; a configuration with texts needs `with_texts`).
    pub fn new(device: &Device, cfg: &RunConfig) -> Result<Trainer> {
        Self::with_texts(device, cfg, &[])
    }

    /// As `new`, with the bytes of the text domains `cfg` names taken from `texts`.
    pub fn with_texts(device: &Device, cfg: &RunConfig, texts: &[TextDomain]) -> Result<Trainer> {
        Self::with_teacher(device, cfg, texts, None)
    }

    /// As `with_texts`, for a distillation run: `teacher` holds the trained weights (the
    /// parameters packed, as `read_weights` gives them) of the model `cfg.distill` names.
    pub fn with_teacher(
        device: &Device,
        cfg: &RunConfig,
        texts: &[TextDomain],
        teacher: Option<&[f32]>,
    ) -> Result<Trainer> {
        cfg.validate()?;
        let teacher = match (&cfg.distill, teacher) {
            (None, None) => None,
            (Some(d), Some(weights)) => {
                let t = Gpt::new(device, &d.teacher, cfg.batch, cfg.seed)?;
                if weights.len() != t.weights().count() {
                    return Err(Error::Config(format!(
                        "the weights handed in for teacher `{}` hold {} numbers, its architecture has {} parameters",
                        d.teacher_run,
                        weights.len(),
                        t.weights().count()
                    )));
                }
                t.weights().write_packed(weights)?;
                Some(t)
            }
            (Some(d), None) => {
                return Err(Error::Config(format!(
                    "run `{}` distils from `{}`: train that teacher first and hand its weights in (a distillation sweep does both)",
                    cfg.name, d.teacher_run
                )));
            }
            (None, Some(_)) => {
                return Err(Error::Config(format!(
                    "run `{}` was handed teacher weights but its configuration names no teacher (set `distill`)",
                    cfg.name
                )));
            }
        };
        let texts = resolve_texts(&cfg.texts, texts)?;
        let eval_bytes = (cfg.train_bytes / 10).max(4 * (cfg.model.context + 1));
        let corpus = Corpus::with_texts(cfg.seed, cfg.train_bytes, eval_bytes, &texts);
        let sampler = MixtureSampler::new(&corpus, &cfg.mixture, cfg.seed ^ 0xDA7A)?;
        let unigram_entropy = corpus.unigram_entropy(sampler.weights());
        let model = Gpt::new(device, &cfg.model, cfg.batch, cfg.seed)?;
        let opt = AdamW::new(device, model.weights(), cfg.optim.clone())?;
        let params = model.weights().count();
        Ok(Trainer {
            cfg: cfg.clone(),
            device: device.clone(),
            corpus,
            sampler,
            model,
            teacher,
            opt,
            params,
            unigram_entropy,
            step: 0,
            curve: Vec::new(),
            evals: Vec::new(),
            train_secs: 0.0,
            first_step_secs: 0.0,
            kernels_per_step: 0,
            eval_secs: 0.0,
            loads: Vec::new(),
            awaiting_init: cfg.init_from.is_some(),
            _release: ReleaseBindGroups::on(device),
        })
    }

    /// Writes trained weights (packed, as `read_weights` gives them) into the model before the
    /// first step: how a finetuning run starts from the run its `init_from` names.
    pub fn start_from(&mut self, weights: &[f32]) -> Result<()> {
        if self.step > 0 {
            return Err(Error::Config(format!(
                "run `{}` has taken {} steps: weights are handed in before the first",
                self.cfg.name, self.step
            )));
        }
        if weights.len() != self.params {
            return Err(Error::Config(format!(
                "the weights handed to run `{}` hold {} numbers, its model has {} parameters",
                self.cfg.name,
                weights.len(),
                self.params
            )));
        }
        self.model.weights().write_packed(weights)?;
        self.awaiting_init = false;
        Ok(())
    }

    /// Parameter count.
    pub fn params(&self) -> usize {
        self.params
    }

    /// Context-free baseline loss of the mixture (nats).
    pub fn unigram_entropy(&self) -> f64 {
        self.unigram_entropy
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Whether every configured step has been taken.
    pub fn finished(&self) -> bool {
        self.step >= self.cfg.steps
    }

    /// The configuration.
    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    /// The model being trained.
    pub fn model(&self) -> &Gpt {
        &self.model
    }

    /// Domain names, in mixture order.
    pub fn domains(&self) -> &[String] {
        &self.corpus.names
    }

    /// Takes one optimiser step (and the evaluation when one is due), blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn step(&mut self) -> Result<StepOutcome> {
        pollster::block_on(self.step_async())
    }

    /// `step` as a future: the browser awaits its read-backs through the event loop.
    pub async fn step_async(&mut self) -> Result<StepOutcome> {
        crate::clock::yield_now().await;
        if self.finished() {
            return Err(Error::Config(format!("the run has finished its {} steps", self.cfg.steps)));
        }
        if self.awaiting_init {
            return Err(Error::Config(format!(
                "run `{}` starts from the weights of `{}`: train that run first and hand its weights in (Trainer::start_from; a forgetting sweep does both)",
                self.cfg.name,
                self.cfg.init_from.as_deref().unwrap_or_default()
            )));
        }
        let cfg = &self.cfg;
        let t0 = Instant::now();
        let step = self.step + 1;
        let batch = self.sampler.sample(&self.corpus, cfg.batch, cfg.model.context);
        self.model.set_batch(&batch.tokens, &batch.targets)?;
        let lr = cfg.schedule.at(step - 1, cfg.steps);
        let mut rec = Recorder::reusing_bind_groups(&self.device);
        rec.clear(self.model.weights().grads())?;
        match (&self.teacher, &cfg.distill) {
            (Some(teacher), Some(d)) => {
                teacher.set_batch(&batch.tokens, &batch.targets)?;
                teacher.forward(&mut rec, false)?;
                self.model.forward_distilled(&mut rec, teacher.logits(), d.loss)?;
            }
            _ => self.model.forward(&mut rec, true)?,
        }
        self.model.backward(&mut rec)?;
        self.opt.step(&mut rec, self.model.weights(), lr)?;
        self.kernels_per_step = rec.dispatches();
        rec.submit()?;

        let tokens_per_step = cfg.batch * cfg.model.context;
        let read = step.is_multiple_of(cfg.log_every.max(1)) || step == cfg.steps || step == 1;
        let loss = if read { Some(finite_loss(step, self.model.read_mean_loss().await?)?) } else { None };
        if let Some(l) = loss {
            self.curve.push(CurvePoint { step, tokens: step * tokens_per_step, loss: l, lr });
            let counts = self.model.expert_counts().await?;
            if !counts.is_empty() {
                self.loads.push(counts);
                if self.loads.len() > LOAD_WINDOW {
                    self.loads.remove(0);
                }
            }
        }
        self.step = step;
        self.train_secs += t0.elapsed().as_secs_f64();
        if step == 1 {
            self.first_step_secs = self.train_secs;
        }
        let tokens_per_sec = self.tokens_per_sec();
        let eval = if (cfg.eval_every > 0 && step.is_multiple_of(cfg.eval_every)) || step == cfg.steps {
            let t0 = Instant::now();
            let e = evaluate(&self.model, &self.device, &self.corpus, cfg, step).await?;
            self.eval_secs += t0.elapsed().as_secs_f64();
            self.evals.push(e.clone());
            Some(e)
        } else {
            None
        };
        Ok(StepOutcome { step, loss, tokens_per_sec, eval })
    }

    /// Evaluates on held-out text of every domain now (e.g. when a UI pauses), blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn evaluate_now(&mut self) -> Result<EvalPoint> {
        pollster::block_on(self.evaluate_now_async())
    }

    /// `evaluate_now` as a future.
    pub async fn evaluate_now_async(&mut self) -> Result<EvalPoint> {
        let t0 = Instant::now();
        let e = evaluate(&self.model, &self.device, &self.corpus, &self.cfg, self.step).await?;
        self.eval_secs += t0.elapsed().as_secs_f64();
        Ok(e)
    }

    /// Continues `prompt` by `len` bytes sampled from the model at `temperature` (0 = greedy),
    /// blocking.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn sample(&self, prompt: &str, len: usize, temperature: f32, seed: u64) -> Result<String> {
        pollster::block_on(self.sample_async(prompt, len, temperature, seed))
    }

    /// `sample` as a future.
    pub async fn sample_async(&self, prompt: &str, len: usize, temperature: f32, seed: u64) -> Result<String> {
        crate::models::sample(&self.model, &self.device, prompt, len, temperature, seed).await
    }

    /// The model's parameters, packed without alignment gaps (what `with_teacher` takes for a
    /// teacher, on any device).
    pub async fn read_weights(&self) -> Result<Vec<f32>> {
        self.model.weights().read_packed().await
    }

    /// Kernels (GPU dispatches, or CPU kernel calls) the last step recorded.
    pub fn kernels_per_step(&self) -> usize {
        self.kernels_per_step
    }

    /// Training tokens per second over the steps after the first (which compiles the kernels
    /// on a GPU), or over the first while it is the only one.
    fn tokens_per_sec(&self) -> f64 {
        let tokens_per_step = (self.cfg.batch * self.cfg.model.context) as f64;
        let (steps, secs) = if self.step > 1 {
            (self.step - 1, self.train_secs - self.first_step_secs)
        } else {
            (self.step, self.train_secs)
        };
        steps as f64 * tokens_per_step / secs.max(1e-9)
    }

    /// The record of the run so far.
    pub fn record(&self) -> RunRecord {
        RunRecord {
            config: self.cfg.clone(),
            adapter: self.device.info(),
            params: self.params,
            tokens: self.step * self.cfg.batch * self.cfg.model.context,
            domains: self.corpus.names.clone(),
            curve: self.curve.clone(),
            evals: self.evals.clone(),
            unigram_entropy: self.unigram_entropy,
            tokens_per_sec: self.tokens_per_sec(),
            seconds: self.train_secs + self.eval_secs,
            active_params: self.cfg.model.active_params(),
            expert_load: self.expert_load(),
            diverged: None,
        }
    }

    /// Per MoE layer, each expert's share of the routed slots over the last logged steps.
    pub fn expert_load(&self) -> Vec<Vec<f64>> {
        let Some(first) = self.loads.first() else { return Vec::new() };
        (0..first.len())
            .map(|layer| {
                let mut sum = vec![0.0; first[layer].len()];
                for snapshot in &self.loads {
                    sum.iter_mut().zip(&snapshot[layer]).for_each(|(s, c)| *s += *c as f64);
                }
                let total: f64 = sum.iter().sum();
                sum.iter().map(|s| s / total.max(1.0)).collect()
            })
            .collect()
    }
}

/// Trains a GPT as `cfg` says, reporting progress through `on_event`, blocking; `texts` holds
/// the bytes of the text domains `cfg` names (none for the built-in domains alone).
#[cfg(not(target_arch = "wasm32"))]
pub fn train(
    device: &Device,
    cfg: &RunConfig,
    texts: &[TextDomain],
    on_event: &mut dyn FnMut(&Event),
) -> Result<RunRecord> {
    pollster::block_on(train_async(device, cfg, texts, on_event))
}

/// `train` as a future: in the browser every step hands the page its turn.
pub async fn train_async(
    device: &Device,
    cfg: &RunConfig,
    texts: &[TextDomain],
    on_event: &mut dyn FnMut(&Event),
) -> Result<RunRecord> {
    Ok(train_trainer_async(Trainer::with_texts(device, cfg, texts)?, on_event).await?.record())
}

/// Trains `trainer` to its last step and hands it back (its model, e.g. a teacher's weights,
/// with it).
pub async fn train_trainer_async(mut trainer: Trainer, on_event: &mut dyn FnMut(&Event)) -> Result<Trainer> {
    let cfg = trainer.config().clone();
    on_event(&Event::Started {
        params: trainer.params(),
        steps: cfg.steps,
        unigram_entropy: trainer.unigram_entropy(),
    });
    while !trainer.finished() {
        let out = match trainer.step_async().await {
            Ok(out) => out,
            Err(Error::NonFinite { step, value }) => {
                let mut record = trainer.record();
                record.diverged = Some(Divergence { step, value: value.to_string() });
                return Err(Error::Diverged { step, value, record: Box::new(record) });
            }
            Err(e) => return Err(e),
        };
        on_event(&Event::Step { step: out.step, loss: out.loss, tokens_per_sec: out.tokens_per_sec });
        if let Some(e) = out.eval {
            on_event(&Event::Eval(e));
        }
    }
    // The last step read its loss and evaluated, so the device has finished its work.
    Ok(trainer)
}
