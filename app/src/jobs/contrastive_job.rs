//! Poly-view runs as a task, one M after another: the UI receives steps and probe results over
//! a channel and can stop the job between steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

use sigmix::DeviceChoice;
use sigmix::selfsup::{PolyviewConfig, PolyviewRecord, SelfsupEvent, train_polyview_async};

use crate::jobs::Task;

/// What a contrastive job reports.
#[derive(Clone, Debug)]
pub enum ContrastiveMessage {
    /// The run with `views` views per sample started on `device`.
    Started {
        /// Views per sample M.
        views: usize,
        /// Device label.
        device: String,
    },
    /// A step of the run with `views` views.
    Step {
        /// Views per sample M.
        views: usize,
        /// Steps done.
        step: usize,
        /// Encoder passes per step.
        passes: usize,
        /// The loss, when read back.
        loss: Option<f32>,
    },
    /// A linear probe of the run with `views` views.
    Probe {
        /// Views per sample M.
        views: usize,
        /// Encoder passes done when it was taken.
        passes: usize,
        /// Held-out accuracy.
        accuracy: f64,
    },
    /// One run finished.
    Finished(Box<PolyviewRecord>),
    /// Every run finished, or the job was stopped.
    Done,
    /// The job stopped with an error.
    Failed(String),
}

/// A running job's handles.
pub struct ContrastiveJob {
    stop: Arc<AtomicBool>,
    messages: Receiver<ContrastiveMessage>,
    task: Task,
}

impl ContrastiveJob {
    /// Runs `configs` in turn on the device `choice` names; `wake` repaints the UI.
    pub fn start(
        choice: DeviceChoice,
        configs: Vec<PolyviewConfig>,
        wake: impl Fn() + Send + 'static,
    ) -> ContrastiveJob {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, messages) = channel();
        let flag = stop.clone();
        let task = Task::spawn("sigmix-polyview", move || async move {
            let send = |m: ContrastiveMessage| {
                let _ = tx.send(m);
                wake();
            };
            if let Err(e) = run(choice, &configs, &flag, &send).await {
                send(ContrastiveMessage::Failed(e.to_string()));
            }
            send(ContrastiveMessage::Done);
        });
        ContrastiveJob { stop, messages, task }
    }

    /// Asks the job to stop before its next step.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Messages that arrived since the last call.
    pub fn drain(&self) -> Vec<ContrastiveMessage> {
        self.messages.try_iter().collect()
    }
}

impl Drop for ContrastiveJob {
    fn drop(&mut self) {
        self.stop();
        self.task.join();
    }
}

async fn run(
    choice: DeviceChoice,
    configs: &[PolyviewConfig],
    stop: &AtomicBool,
    send: &dyn Fn(ContrastiveMessage),
) -> sigmix::Result<()> {
    let device = crate::jobs::device_async(choice).await?;
    for cfg in configs {
        let views = cfg.views;
        send(ContrastiveMessage::Started { views, device: device.label() });
        let passes = cfg.passes_per_step();
        let record = train_polyview_async(&device, cfg, stop, &mut |e| match e {
            SelfsupEvent::Started { .. } => {}
            SelfsupEvent::Step { step, loss } => {
                send(ContrastiveMessage::Step { views, step: *step, passes, loss: *loss })
            }
            SelfsupEvent::Probe { step, accuracy, .. } => {
                send(ContrastiveMessage::Probe { views, passes: step * passes, accuracy: *accuracy })
            }
        })
        .await?;
        match record {
            Some(r) => send(ContrastiveMessage::Finished(Box::new(r))),
            None => return Ok(()),
        }
    }
    Ok(())
}
