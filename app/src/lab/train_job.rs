//! A training run on a worker thread: the UI sends Play / Pause / Step / Stop and receives
//! steps, evaluations and samples over channels, so the window never waits for the engine.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use sigmix::train::{EvalPoint, RunConfig, RunRecord, StepOutcome, Trainer};
use sigmix::{Device, DeviceChoice};

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
    /// All steps done.
    Finished(Box<RunRecord>),
    /// The job stopped with an error.
    Failed(String),
}

/// A running job's handles.
pub struct TrainJob {
    commands: Sender<Command>,
    messages: Receiver<Message>,
    handle: Option<JoinHandle<()>>,
}

/// Bytes of text sampled at each evaluation and pause.
const SAMPLE_BYTES: usize = 120;

impl TrainJob {
    /// Starts training `cfg` on the device `choice` names; `playing` starts it running.
    /// `wake` is called after every message so the UI repaints.
    pub fn start(choice: DeviceChoice, cfg: RunConfig, playing: bool, wake: impl Fn() + Send + 'static) -> TrainJob {
        let (commands, command_rx) = channel();
        let (message_tx, messages) = channel();
        let handle = std::thread::Builder::new()
            .name("sigmix-train".into())
            .spawn(move || {
                let send = |m: Message| {
                    let _ = message_tx.send(m);
                    wake();
                };
                if let Err(e) = run(choice, &cfg, playing, &command_rx, &send) {
                    send(Message::Failed(e.to_string()));
                }
            })
            .ok();
        TrainJob { commands, messages, handle }
    }

    /// Sends a command (ignored once the job has ended).
    pub fn send(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    /// Messages that arrived since the last call.
    pub fn drain(&self) -> Vec<Message> {
        self.messages.try_iter().collect()
    }
}

impl Drop for TrainJob {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    choice: DeviceChoice,
    cfg: &RunConfig,
    mut playing: bool,
    commands: &Receiver<Command>,
    send: &dyn Fn(Message),
) -> sigmix::Result<()> {
    let device = Device::open(choice)?;
    let mut trainer = Trainer::new(&device, cfg)?;
    send(Message::Started {
        device: device.label(),
        params: trainer.params(),
        unigram_entropy: trainer.unigram_entropy(),
        domains: trainer.domains().to_vec(),
    });
    let mut single_steps = 0usize;
    let sample = |t: &Trainer| -> sigmix::Result<String> { t.sample("", SAMPLE_BYTES, 0.8, t.steps_done() as u64) };
    loop {
        // Apply every pending command; wait for one when there is nothing to do.
        let idle = !playing && single_steps == 0;
        let next = if idle {
            commands.recv().ok()
        } else {
            match commands.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => Some(Command::Stop),
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
                    send(Message::Eval(trainer.evaluate_now()?));
                    send(Message::Sample(sample(&trainer)?));
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
        let out = trainer.step()?;
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
            send(Message::Sample(sample(&trainer)?));
        }
        if trainer.finished() {
            device.wait()?;
            send(Message::Finished(Box::new(trainer.record())));
            return Ok(());
        }
    }
}
