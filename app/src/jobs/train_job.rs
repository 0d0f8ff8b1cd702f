//! A training run as a task: the UI sends Play / Pause / Step / Stop and receives steps,
//! evaluations and samples over channels, so the window never waits for the engine.

use std::sync::mpsc::{Receiver, Sender, channel};

use async_channel::TryRecvError;
use sigmix::DeviceChoice;
use sigmix::data::TextDomain;
use sigmix::nn::AttentionKind;
use sigmix::train::{EvalPoint, RunConfig, RunRecord, StepOutcome, Trainer};

use crate::jobs::Task;

/// What the UI asks of a running job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Train continuously.
    Play,
    /// Stop after the current step and wait.
    Pause,
    /// Take one step, then wait.
    Step,
    /// End the job.
    Stop,
}

/// What a job reports.
#[derive(Clone, Debug)]
pub enum Message {
    /// The device is open and the model built.
    Started {
        /// Device label.
        device: String,
        /// Parameter count.
        params: usize,
        /// Unigram entropy of the mixture (nats).
        unigram_entropy: f64,
        /// Domain names.
        domains: Vec<String>,
    },
    /// A step finished.
    Step(StepOutcome),
    /// A held-out evaluation (also sent on pause).
    Eval(EvalPoint),
    /// Text sampled from the model.
    Sample(String),
    /// MoE models: per layer, each expert's share of the routed slots over the last logged steps.
    ExpertLoad(Vec<Vec<f64>>),
    /// What the model's attention read on its own sampled text (for the Attention panel).
    Attention(Box<TrainedAttention>),
    /// All steps done.
    Finished(Box<RunRecord>),
    /// The job stopped with an error.
    Failed(String),
}

/// A running job's handles.
pub struct TrainJob {
    commands: async_channel::Sender<Command>,
    messages: Receiver<Message>,
    task: Task,
}

/// Bytes of text sampled at each evaluation and pause.
const SAMPLE_BYTES: usize = 120;

impl TrainJob {
    /// Starts training `cfg` (its text domains' bytes from `texts`) on the device `choice`
    /// names; `playing` starts it running. `wake` is called after every message so the UI
    /// repaints.
    pub fn start(
        choice: DeviceChoice,
        cfg: RunConfig,
        texts: Vec<TextDomain>,
        playing: bool,
        wake: impl Fn() + Send + 'static,
    ) -> TrainJob {
        let (commands, command_rx) = async_channel::unbounded();
        let (message_tx, messages): (Sender<Message>, _) = channel();
        let task = Task::spawn("sigmix-train", move || async move {
            let send = |m: Message| {
                let _ = message_tx.send(m);
                wake();
            };
            if let Err(e) = run(choice, &cfg, &texts, playing, &command_rx, &send).await {
                send(Message::Failed(e.to_string()));
            }
        });
        TrainJob { commands, messages, task }
    }

    /// Sends a command (ignored once the job has ended).
    pub fn send(&self, c: Command) {
        let _ = self.commands.try_send(c);
    }

    /// Messages that arrived since the last call.
    pub fn drain(&self) -> Vec<Message> {
        self.messages.try_iter().collect()
    }
}

impl Drop for TrainJob {
    fn drop(&mut self) {
        let _ = self.commands.try_send(Command::Stop);
        self.task.join();
    }
}

async fn run(
    choice: DeviceChoice,
    cfg: &RunConfig,
    texts: &[TextDomain],
    mut playing: bool,
    commands: &async_channel::Receiver<Command>,
    send: &dyn Fn(Message),
) -> sigmix::Result<()> {
    let device = crate::jobs::device_async(choice).await?;
    let mut trainer = Trainer::with_texts(&device, cfg, texts)?;
    send(Message::Started {
        device: device.label(),
        params: trainer.params(),
        unigram_entropy: trainer.unigram_entropy(),
        domains: trainer.domains().to_vec(),
    });
    let mut single_steps = 0usize;
    // After each evaluation and pause: a sample, and the attention inputs on that sample.
    let report = async |t: &Trainer| -> sigmix::Result<()> {
        let text = t.sample_async("", SAMPLE_BYTES, 0.8, t.steps_done() as u64).await?;
        send(Message::Attention(Box::new(TrainedAttention::capture(t, &text).await?)));
        send(Message::Sample(text));
        Ok(())
    };
    loop {
        // Apply every pending command; wait for one when there is nothing to do.
        let idle = !playing && single_steps == 0;
        let next = if idle {
            commands.recv().await.ok()
        } else {
            match commands.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Closed) => Some(Command::Stop),
            }
        };
        match next {
            Some(Command::Stop) => return Ok(()),
            None if idle => return Ok(()),
            Some(Command::Play) => playing = true,
            Some(Command::Pause) => {
                playing = false;
                single_steps = 0;
                if trainer.steps_done() > 0 {
                    send(Message::Eval(trainer.evaluate_now_async().await?));
                    report(&trainer).await?;
                }
            }
            Some(Command::Step) => single_steps += 1,
            None => {}
        }
        if (!playing && single_steps == 0) || trainer.finished() {
            if trainer.finished() {
                return Ok(());
            }
            continue;
        }
        let out = trainer.step_async().await?;
        single_steps = single_steps.saturating_sub(1);
        let eval = out.eval.clone();
        let logged = out.loss.is_some();
        send(Message::Step(out));
        if logged {
            let load = trainer.expert_load();
            if !load.is_empty() {
                send(Message::ExpertLoad(load));
            }
        }
        if let Some(e) = eval {
            send(Message::Eval(e));
            report(&trainer).await?;
        }
        if trainer.finished() {
            send(Message::Finished(Box::new(trainer.record())));
            return Ok(());
        }
    }
}

/// A trained model's attention inputs on one sequence, with what drawing its maps needs.
#[derive(Clone, Debug)]
pub struct TrainedAttention {
    /// Steps trained when captured.
    pub step: usize,
    /// The sequence (the model's own sample, padded or cut to the context).
    pub text: String,
    /// Sequence length T.
    pub context: usize,
    /// Heads per layer.
    pub heads: usize,
    /// Model width C.
    pub d_model: usize,
    /// Whether the model was trained with sigmoid attention.
    pub sigmoid: bool,
    /// Its sigmoid bias b (−ln T unless set).
    pub bias: f64,
    /// Per layer, the T × 3C [q | k | v] rows its attention read.
    pub qkv: Vec<Vec<f32>>,
}

impl TrainedAttention {
    /// Runs `text` through the trainer's model and keeps what its attention read.
    pub async fn capture(t: &Trainer, text: &str) -> sigmix::Result<TrainedAttention> {
        let m = &t.config().model;
        let mut bytes: Vec<u8> = text.bytes().take(m.context).collect();
        bytes.resize(m.context, b' ');
        let tokens: Vec<u32> = bytes.iter().map(|b| u32::from(*b)).collect();
        Ok(TrainedAttention {
            step: t.steps_done(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            context: m.context,
            heads: m.n_heads,
            d_model: m.d_model,
            sigmoid: m.attention == AttentionKind::Sigmoid,
            bias: m.sigmoid_bias.map_or(-(m.context as f64).ln(), f64::from),
            qkv: t.model().attention_inputs(&tokens).await?,
        })
    }

    /// Layers captured.
    pub fn layers(&self) -> usize {
        self.qkv.len()
    }

    /// Head `head` of layer `layer`: its queries and keys (T × head dim each, row-major).
    pub fn queries_keys(&self, layer: usize, head: usize) -> (Vec<f64>, Vec<f64>) {
        let (t, c) = (self.context, self.d_model);
        let hd = c / self.heads.max(1);
        let rows = self.qkv.get(layer).map_or(&[][..], |v| &v[..]);
        let take = |part: usize| -> Vec<f64> {
            (0..t)
                .flat_map(|i| (0..hd).map(move |j| (i, j)))
                .map(|(i, j)| rows.get(i * 3 * c + part * c + head * hd + j).map_or(0.0, |v| *v as f64))
                .collect()
        };
        (take(0), take(1))
    }
}
