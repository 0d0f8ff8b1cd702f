//! The EMA scaling rule experiment (BYOL at κ times the batch, with and without ρ^κ) as a
//! task: the UI receives every run's steps, probes and finished record over a channel and can
//! stop the job between steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

use sigmix::DeviceChoice;
use sigmix::selfsup::SelfsupEvent;
use sigmix::selfsup::ema_rule::{EmaRuleConfig, EmaRuleRecord, run_ema_rule_async};

use crate::jobs::Task;

/// What a BYOL job reports; `run` indexes the experiment's plan.
#[derive(Clone, Debug)]
pub enum ByolMessage {
    /// The job opened `device`.
    Started(String),
    /// A step of run `run`.
    Step {
        /// Index in the plan.
        run: usize,
        /// Steps done.
        step: usize,
        /// The mean loss, when read back.
        loss: Option<f32>,
    },
    /// Probes of run `run` after `step` steps.
    Probe {
        /// Index in the plan.
        run: usize,
        /// Steps done.
        step: usize,
        /// The online encoder's held-out accuracy.
        online: f64,
        /// The target encoder's.
        target: f64,
    },
    /// One run finished.
    Finished(Box<EmaRuleRecord>),
    /// Every run finished, or the job was stopped.
    Done,
    /// The job stopped with an error.
    Failed(String),
}

/// A running job's handles.
pub struct ByolJob {
    stop: Arc<AtomicBool>,
    messages: Receiver<ByolMessage>,
    task: Task,
}

impl ByolJob {
    /// Runs `config`'s plan on the device `choice` names; `wake` repaints the UI.
    pub fn start(choice: DeviceChoice, config: EmaRuleConfig, wake: impl Fn() + Send + 'static) -> ByolJob {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, messages) = channel();
        let flag = stop.clone();
        let task = Task::spawn("sigmix-byol", move || async move {
            let send = |m: ByolMessage| {
                let _ = tx.send(m);
                wake();
            };
            let result = async {
                let device = crate::jobs::device_async(choice).await?;
                send(ByolMessage::Started(device.label()));
                run_ema_rule_async(
                    &device,
                    &config,
                    &flag,
                    &mut |r| {
                        send(ByolMessage::Finished(Box::new(r.clone())));
                        Ok(())
                    },
                    &mut |run, e| match e {
                        SelfsupEvent::Started { .. } => {}
                        SelfsupEvent::Step { step, loss } => send(ByolMessage::Step { run, step: *step, loss: *loss }),
                        SelfsupEvent::Probe { step, accuracy, target } => send(ByolMessage::Probe {
                            run,
                            step: *step,
                            online: *accuracy,
                            target: target.unwrap_or(f64::NAN),
                        }),
                    },
                )
                .await
            }
            .await;
            if let Err(e) = result {
                send(ByolMessage::Failed(e.to_string()));
            }
            send(ByolMessage::Done);
        });
        ByolJob { stop, messages, task }
    }

    /// Asks the job to stop before its next step.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Messages that arrived since the last call.
    pub fn drain(&self) -> Vec<ByolMessage> {
        self.messages.try_iter().collect()
    }
}

impl Drop for ByolJob {
    fn drop(&mut self) {
        self.stop();
        self.task.join();
    }
}
