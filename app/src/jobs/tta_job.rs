//! A test-time adaptation experiment as a task: the UI receives source training progress and
//! each stream's curve over a channel and can stop the job between steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

use sigmix::DeviceChoice;
use sigmix::tta::{TtaConfig, TtaEvent, TtaRecord, run_tta_async};

use crate::jobs::Task;

/// What a test-time adaptation job reports.
#[derive(Clone, Debug)]
pub enum TtaMessage {
    /// The job opened `device`.
    Started(String),
    /// An engine event.
    Event(TtaEvent),
    /// The experiment finished.
    Finished(Box<TtaRecord>),
    /// The experiment finished, was stopped or failed.
    Done,
    /// The job stopped with an error.
    Failed(String),
}

/// A running job's handles.
pub struct TtaJob {
    stop: Arc<AtomicBool>,
    messages: Receiver<TtaMessage>,
    task: Task,
}

impl TtaJob {
    /// Runs `config` on the device `choice` names; `wake` repaints the UI.
    pub fn start(choice: DeviceChoice, config: TtaConfig, wake: impl Fn() + Send + 'static) -> TtaJob {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, messages) = channel();
        let flag = stop.clone();
        let task = Task::spawn("sigmix-tta", move || async move {
            let send = |m: TtaMessage| {
                let _ = tx.send(m);
                wake();
            };
            let result = async {
                let device = crate::jobs::device_async(choice).await?;
                send(TtaMessage::Started(device.label()));
                run_tta_async(&device, &config, &flag, &mut |e| send(TtaMessage::Event(e.clone()))).await
            }
            .await;
            match result {
                Ok(Some(r)) => send(TtaMessage::Finished(Box::new(r))),
                Ok(None) => {}
                Err(e) => send(TtaMessage::Failed(e.to_string())),
            }
            send(TtaMessage::Done);
        });
        TtaJob { stop, messages, task }
    }

    /// Asks the job to stop before its next step.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Messages that arrived since the last call.
    pub fn drain(&self) -> Vec<TtaMessage> {
        self.messages.try_iter().collect()
    }
}

impl Drop for TtaJob {
    fn drop(&mut self) {
        self.stop();
        self.task.join();
    }
}
