//! A sweep, or a fit, on a worker thread, reporting over a channel; a sweep stops between
//! runs when asked, with every finished run already in its file.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;

use sigmix::DeviceChoice;
use sigmix::laws::FitOptions;
use sigmix::sweep::{
    Extrapolation, ParamCount, SweepEvent, SweepOptions, SweepPlan, SweepRow, fit_and_predict, run_sweep,
};

/// What a sweep or fit job reports.
#[derive(Debug)]
pub enum SweepMessage {
    /// The plan is read: runs in all, runs left to train.
    Planned {
        /// Runs in the plan.
        planned: usize,
        /// Runs this job will train.
        todo: usize,
        /// Rows already in the file.
        rows: Vec<SweepRow>,
    },
    /// A run started: its id and position.
    RunStarted(String, usize),
    /// A run finished and is on disk.
    RunFinished(Box<SweepRow>),
    /// The sweep ended (complete or stopped).
    Done,
    /// A fit finished.
    Fitted(Vec<Extrapolation>),
    /// The job failed.
    Failed(String),
}

/// A running sweep or fit.
pub struct SweepJob {
    messages: Receiver<SweepMessage>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl SweepJob {
    /// Runs (or resumes) `plan` into `out` on the device `choice` names.
    pub fn sweep(choice: DeviceChoice, plan: SweepPlan, out: PathBuf, wake: impl Fn() + Send + 'static) -> SweepJob {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        Self::spawn(
            stop,
            move |send| {
                let device = crate::lab::device(choice)?;
                let opts = SweepOptions { resume: true, stop: Some(flag), ..Default::default() };
                run_sweep(&device, &plan, &out, opts, &mut |e| match e {
                    SweepEvent::Planned { planned, todo, finished, .. } => {
                        let rows = finished.iter().map(|r| (*r).clone()).collect();
                        send(SweepMessage::Planned { planned, todo: todo.len(), rows });
                    }
                    SweepEvent::RunStarted { run, position, .. } => {
                        send(SweepMessage::RunStarted(run.id.clone(), position))
                    }
                    SweepEvent::RunFinished { row, .. } => send(SweepMessage::RunFinished(Box::new(row.clone()))),
                    SweepEvent::Training(_) => {}
                })?;
                send(SweepMessage::Done);
                Ok(())
            },
            wake,
        )
    }

    /// Fits the additive law to `rows` on every size but the largest.
    pub fn fit(rows: Vec<SweepRow>, wake: impl Fn() + Send + 'static) -> SweepJob {
        Self::spawn(
            Arc::new(AtomicBool::new(false)),
            move |send| {
                let fits = fit_and_predict(&rows, ParamCount::NonEmbedding, &FitOptions::default())?;
                send(SweepMessage::Fitted(fits));
                Ok(())
            },
            wake,
        )
    }

    /// Fits the additive law to an external table of runs (CSV or JSONL with `model_size`,
    /// `n_tokens`, `weight_*` and `*_loss` columns, like the public data-mixture table).
    pub fn fit_table(path: PathBuf, wake: impl Fn() + Send + 'static) -> SweepJob {
        Self::spawn(
            Arc::new(AtomicBool::new(false)),
            move |send| {
                let table = sigmix::laws::RunTable::read(&path)?;
                let opts = FitOptions { starts: 4, hops: 4, ..FitOptions::default() };
                let fits = sigmix::sweep::fit_and_predict_table(&table, "model_size", "n_tokens", "weight_", &opts)?;
                send(SweepMessage::Fitted(fits));
                Ok(())
            },
            wake,
        )
    }

    fn spawn(
        stop: Arc<AtomicBool>,
        work: impl FnOnce(&dyn Fn(SweepMessage)) -> sigmix::Result<()> + Send + 'static,
        wake: impl Fn() + Send + 'static,
    ) -> SweepJob {
        let (tx, messages) = channel();
        let handle = std::thread::Builder::new()
            .name("sigmix-sweep".into())
            .spawn(move || {
                let send = |m: SweepMessage| {
                    let _ = tx.send(m);
                    wake();
                };
                if let Err(e) = work(&send) {
                    send(SweepMessage::Failed(e.to_string()));
                }
            })
            .ok();
        SweepJob { messages, stop, handle }
    }

    /// Asks the sweep to stop after the run in progress.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Messages that arrived since the last call.
    pub fn drain(&self) -> Vec<SweepMessage> {
        self.messages.try_iter().collect()
    }

    /// Whether the worker thread has ended.
    pub fn ended(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }
}

impl Drop for SweepJob {
    fn drop(&mut self) {
        self.stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
