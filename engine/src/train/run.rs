//! The loop: sample a batch, forward, backward, AdamW — one submission per step — and every
//! `log_every` steps read the loss back; evaluate on held-out text of every domain.

use std::time::Instant;

use crate::data::{Corpus, MixtureSampler, eval_batch};
use crate::error::{Error, Result};
use crate::models::Gpt;
use crate::optim::AdamW;
use crate::recorder::Recorder;
use crate::tensor::Device;
use crate::train::{CurvePoint, EvalPoint, RunConfig, RunRecord};

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

fn evaluate(model: &Gpt, device: &Device, corpus: &Corpus, cfg: &RunConfig, step: usize) -> Result<EvalPoint> {
    let mut per_domain = Vec::new();
    for d in 0..corpus.len() {
        let mut sum = 0.0;
        for i in 0..cfg.eval_batches.max(1) {
            let b = eval_batch(corpus, d, model.batch(), cfg.model.context, i);
            model.set_batch(&b.tokens, &b.targets)?;
            let mut rec = Recorder::new(device);
            model.forward(&mut rec, false)?;
            rec.submit()?;
            sum += model.read_mean_loss()?;
        }
        per_domain.push(sum / cfg.eval_batches.max(1) as f32);
    }
    Ok(EvalPoint { step, per_domain })
}

/// Trains a GPT as `cfg` says, reporting progress through `on_event`.
pub fn train(device: &Device, cfg: &RunConfig, on_event: &mut dyn FnMut(&Event)) -> Result<RunRecord> {
    cfg.validate()?;
    let corpus = Corpus::builtin(cfg.seed, cfg.train_bytes, (cfg.train_bytes / 10).max(4 * (cfg.model.context + 1)));
    let mut sampler = MixtureSampler::new(&corpus, &cfg.mixture, cfg.seed ^ 0xDA7A)?;
    let unigram_entropy = corpus.unigram_entropy(sampler.weights());
    let model = Gpt::new(device, &cfg.model, cfg.batch, cfg.seed)?;
    let mut opt = AdamW::new(device, model.weights(), cfg.optim.clone())?;
    let params = model.weights().count();
    on_event(&Event::Started { params, steps: cfg.steps, unigram_entropy });

    let tokens_per_step = cfg.batch * cfg.model.context;
    let mut curve = Vec::new();
    let mut evals = Vec::new();
    let start = Instant::now();
    let mut eval_time = 0.0;
    for step in 1..=cfg.steps {
        let batch = sampler.sample(&corpus, cfg.batch, cfg.model.context);
        model.set_batch(&batch.tokens, &batch.targets)?;
        let lr = cfg.schedule.at(step - 1, cfg.steps);
        let mut rec = Recorder::new(device);
        rec.clear(model.weights().grads())?;
        model.forward(&mut rec, true)?;
        model.backward(&mut rec)?;
        opt.step(&mut rec, model.weights(), lr)?;
        rec.submit()?;

        let read = step % cfg.log_every.max(1) == 0 || step == cfg.steps || step == 1;
        let loss = if read { Some(model.read_mean_loss()?) } else { None };
        if let Some(l) = loss {
            if !l.is_finite() {
                return Err(Error::NonFinite { step, value: l });
            }
            curve.push(CurvePoint { step, tokens: step * tokens_per_step, loss: l, lr });
        }
        let train_secs = (start.elapsed().as_secs_f64() - eval_time).max(1e-9);
        on_event(&Event::Step { step, loss, tokens_per_sec: (step * tokens_per_step) as f64 / train_secs });

        if (cfg.eval_every > 0 && step % cfg.eval_every == 0) || step == cfg.steps {
            let t0 = Instant::now();
            let e = evaluate(&model, device, &corpus, cfg, step)?;
            eval_time += t0.elapsed().as_secs_f64();
            on_event(&Event::Eval(e.clone()));
            evals.push(e);
        }
    }
    device.wait()?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(RunRecord {
        config: cfg.clone(),
        adapter: device.info(),
        params,
        tokens: cfg.total_tokens(),
        domains: corpus.names.clone(),
        curve,
        evals,
        unigram_entropy,
        tokens_per_sec: cfg.total_tokens() as f64 / (seconds - eval_time).max(1e-9),
        seconds,
    })
}
