//! A sweep, or a fit, as a task reporting over a channel; a sweep stops between runs when
//! asked, with every finished run already kept (natively in its file, in the browser by the
//! page, which receives each row).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

use sigmix::DeviceChoice;
use sigmix::data::TextDomain;
use sigmix::laws::{FitOptions, MixtureForm, RunTable};
use sigmix::sweep::{
    DistillReport, Extrapolation, ForgettingReport, MoeReport, ReadRows, SweepEvent, SweepOptions, SweepPlan, SweepRow,
    fit_distillation, fit_forgetting, fit_moe_sparsity, fit_sweep, run_sweep_async,
};

use crate::jobs::Task;

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
    /// A distillation or forgetting sweep's fit finished.
    LawFitted(LawReport),
    /// The job failed.
    Failed(String),
}

/// The sweeps that fit a law of their own instead of the mixture law.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LawSweep {
    /// Teachers, then students supervised and distilled: the distillation law.
    Distillation,
    /// Pretrained models finetuned with pretraining data injected: the forgetting law.
    Forgetting,
    /// IsoFLOP slices over the expert count: the MoE law and the optimal sparsity.
    MoeSparsity,
}

impl LawSweep {
    /// Which of these a plan is, if any.
    pub fn of_plan(plan: &SweepPlan) -> Option<LawSweep> {
        if plan.distill.is_some() {
            Some(LawSweep::Distillation)
        } else if plan.forgetting.is_some() {
            Some(LawSweep::Forgetting)
        } else if plan.moe.is_some() {
            Some(LawSweep::MoeSparsity)
        } else {
            None
        }
    }

    /// Which of these the sweep preset `name` is, if any.
    pub fn of_preset(name: &str) -> Option<LawSweep> {
        SweepPlan::preset(name).ok().as_ref().and_then(Self::of_plan)
    }

    /// Which of these a sweep's rows come from, if any (a run that learns from a teacher, one
    /// that starts from another run, or MoE runs of more than one expert count).
    pub fn of_rows(rows: &[SweepRow]) -> Option<LawSweep> {
        let experts: std::collections::BTreeSet<usize> = rows
            .iter()
            .filter_map(|r| match &r.config.model.ffn {
                sigmix::models::Ffn::Moe(m) => Some(m.experts),
                sigmix::models::Ffn::Dense => None,
            })
            .collect();
        if rows.iter().any(|r| r.config.distill.is_some()) {
            Some(LawSweep::Distillation)
        } else if rows.iter().any(|r| r.config.init_from.is_some()) {
            Some(LawSweep::Forgetting)
        } else if experts.len() > 1 {
            Some(LawSweep::MoeSparsity)
        } else {
            None
        }
    }

    /// The sweep presets of this kind: (name, what it is for).
    pub fn presets(self) -> Vec<(&'static str, &'static str)> {
        sigmix::sweep::SWEEP_PRESETS.iter().copied().filter(|(n, _)| Self::of_preset(n) == Some(self)).collect()
    }
}

/// A law sweep's fit; serialised as the report it holds (what `sigmix sweep --fit-out` writes).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum LawReport {
    /// What a distillation sweep found.
    Distillation(Box<DistillReport>),
    /// What a forgetting sweep found.
    Forgetting(Box<ForgettingReport>),
    /// What an MoE sparsity sweep found.
    Moe(Box<MoeReport>),
}

/// What `follow` made of a sweep job's message.
pub enum Followed {
    /// The plan's size, the rows kept or the run in progress changed.
    Progress,
    /// A finished run was added to the rows (the browser's page keeps them itself).
    RowAdded,
    /// The sweep ended, complete or stopped; with the error when it failed.
    Ended(Option<String>),
    /// A fit's message, for the caller.
    Other(SweepMessage),
}

/// Applies a sweep job's message to what a panel shows of it: the plan's size, the finished
/// rows (in plan order, each once) and the run in progress.
pub fn follow(
    m: SweepMessage,
    rows: &mut Vec<SweepRow>,
    planned: &mut usize,
    current: &mut Option<String>,
) -> Followed {
    match m {
        SweepMessage::Planned { planned: p, rows: r, .. } => {
            *planned = p;
            *rows = r;
            Followed::Progress
        }
        SweepMessage::RunStarted(id, _) => {
            *current = Some(id);
            Followed::Progress
        }
        SweepMessage::RunFinished(row) => {
            rows.retain(|r| r.index != row.index);
            rows.push(*row);
            rows.sort_by_key(|r| r.index);
            Followed::RowAdded
        }
        SweepMessage::Done => Followed::Ended(None),
        SweepMessage::Failed(e) => Followed::Ended(Some(e)),
        other => Followed::Other(other),
    }
}

/// Where a sweep keeps its finished rows.
pub enum SweepStore {
    /// A JSONL file, appended and synced run by run (native).
    File(std::path::PathBuf),
    /// The page: rows already kept, and each new one is sent to the panel (the browser).
    Page(Vec<SweepRow>),
}

/// A running sweep or fit.
pub struct SweepJob {
    messages: Receiver<SweepMessage>,
    stop: Arc<AtomicBool>,
    task: Task,
}

impl SweepJob {
    /// Runs (or resumes) `plan` into `store` on the device `choice` names, the bytes of the
    /// text domains it names taken from `texts`.
    pub fn sweep(
        choice: DeviceChoice,
        plan: SweepPlan,
        texts: Vec<TextDomain>,
        store: SweepStore,
        wake: impl Fn() + Send + 'static,
    ) -> SweepJob {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        Self::spawn(
            stop,
            async move |send: &dyn Fn(SweepMessage)| {
                let device = crate::jobs::device_async(choice).await?;
                // The weights a sweep hands on (teachers, pretrained models) are kept beside its
                // file, as `sigmix sweep` keeps them (the page keeps them in memory).
                #[cfg(not(target_arch = "wasm32"))]
                let weights_dir = match &store {
                    SweepStore::File(path) if plan.hands_on_weights() => Some(path.with_extension("weights")),
                    _ => None,
                };
                #[cfg(target_arch = "wasm32")]
                let weights_dir = None;
                let opts = SweepOptions { resume: true, stop: Some(flag), texts, weights_dir, ..Default::default() };
                // Where each finished row goes before the next run starts.
                type Append = Box<dyn FnMut(&SweepRow) -> sigmix::Result<()>>;
                let (label, found, mut append): (String, ReadRows, Append) = match store {
                    #[cfg(not(target_arch = "wasm32"))]
                    SweepStore::File(path) => {
                        let (mut writer, found) = sigmix::sweep::SweepWriter::open(&path, true)?;
                        (path.display().to_string(), found, Box::new(move |row| writer.append(row)))
                    }
                    #[cfg(target_arch = "wasm32")]
                    SweepStore::File(path) => {
                        return Err(sigmix::Error::Config(format!(
                            "{}: the browser keeps sweeps in the page, not in files",
                            path.display()
                        )));
                    }
                    // The panel keeps the rows it receives.
                    SweepStore::Page(rows) => {
                        ("this page".to_string(), ReadRows { rows, ..Default::default() }, Box::new(|_| Ok(())))
                    }
                };
                run_sweep_async(
                    &device,
                    &plan,
                    found,
                    &label,
                    opts,
                    &mut |e| match e {
                        SweepEvent::Planned { planned, todo, finished, .. } => {
                            let rows = finished.iter().map(|r| (*r).clone()).collect();
                            send(SweepMessage::Planned { planned, todo: todo.len(), rows });
                        }
                        SweepEvent::RunStarted { run, position, .. } => {
                            send(SweepMessage::RunStarted(run.id.clone(), position))
                        }
                        SweepEvent::RunFinished { row, .. } => send(SweepMessage::RunFinished(Box::new(row.clone()))),
                        SweepEvent::Training(_) | SweepEvent::RetrainingSource { .. } => {}
                    },
                    &mut append,
                )
                .await?;
                send(SweepMessage::Done);
                Ok(())
            },
            wake,
        )
    }

    /// Fits the mixture law of `form` to `rows` on every size but the largest (the additive
    /// one where the runs below the largest are fewer than the joint law's parameters: the
    /// fits name the law they are of).
    pub fn fit(rows: Vec<SweepRow>, form: MixtureForm, wake: impl Fn() + Send + 'static) -> SweepJob {
        Self::spawn(
            Arc::new(AtomicBool::new(false)),
            async move |send: &dyn Fn(SweepMessage)| {
                send(SweepMessage::Fitted(fit_sweep(&rows, form)?));
                Ok(())
            },
            wake,
        )
    }

    /// Fits a law sweep's rows: the supervised and distillation laws and where distilling pays,
    /// the forgetting and finetuning laws and what injection prevents, or the MoE law and the
    /// optimal sparsity per budget.
    pub fn fit_law(kind: LawSweep, rows: Vec<SweepRow>, wake: impl Fn() + Send + 'static) -> SweepJob {
        Self::spawn(
            Arc::new(AtomicBool::new(false)),
            async move |send: &dyn Fn(SweepMessage)| {
                let opts = FitOptions::default();
                let report = match kind {
                    LawSweep::Distillation => LawReport::Distillation(Box::new(fit_distillation(&rows, &opts)?)),
                    LawSweep::Forgetting => LawReport::Forgetting(Box::new(fit_forgetting(&rows, &opts)?)),
                    LawSweep::MoeSparsity => LawReport::Moe(Box::new(fit_moe_sparsity(&rows, &opts)?)),
                };
                send(SweepMessage::LawFitted(report));
                Ok(())
            },
            wake,
        )
    }

    /// Fits the additive law to an external table of runs (CSV or JSONL with `model_size`,
    /// `n_tokens`, `weight_*` and `*_loss` columns, like the public data-mixture table).
    pub fn fit_table(table: RunTable, wake: impl Fn() + Send + 'static) -> SweepJob {
        Self::spawn(
            Arc::new(AtomicBool::new(false)),
            async move |send: &dyn Fn(SweepMessage)| {
                let opts = FitOptions { starts: 4, hops: 4, ..FitOptions::default() };
                let fits = sigmix::sweep::fit_and_predict_table(
                    &table,
                    "model_size",
                    "n_tokens",
                    "weight_",
                    MixtureForm::Additive,
                    &opts,
                )?;
                send(SweepMessage::Fitted(fits));
                Ok(())
            },
            wake,
        )
    }

    fn spawn(
        stop: Arc<AtomicBool>,
        work: impl AsyncFnOnce(&dyn Fn(SweepMessage)) -> sigmix::Result<()> + Send + 'static,
        wake: impl Fn() + Send + 'static,
    ) -> SweepJob {
        let (tx, messages) = channel();
        let task = Task::spawn("sigmix-sweep", move || async move {
            let send = |m: SweepMessage| {
                let _ = tx.send(m);
                wake();
            };
            if let Err(e) = work(&send).await {
                send(SweepMessage::Failed(e.to_string()));
            }
        });
        SweepJob { messages, stop, task }
    }

    /// Asks the sweep to stop after the run in progress.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Messages that arrived since the last call.
    pub fn drain(&self) -> Vec<SweepMessage> {
        self.messages.try_iter().collect()
    }

    /// Whether the work has ended.
    pub fn ended(&self) -> bool {
        self.task.ended()
    }
}

impl Drop for SweepJob {
    fn drop(&mut self) {
        self.stop();
        self.task.join();
    }
}
