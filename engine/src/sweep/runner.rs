//! Runs a sweep: trains every planned cell of this shard that the output does not hold yet,
//! appending each finished run at once; refuses to mix runs of another plan into it. Natively
//! the output is a JSONL file; in the browser the page keeps the rows (same core, awaited).

use std::collections::{HashMap, HashSet};
#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use crate::error::{Error, Result};
#[cfg(not(target_arch = "wasm32"))]
use crate::sweep::SweepWriter;
use crate::sweep::checkpoints::Checkpoints;
use crate::sweep::{PlannedRun, ReadRows, Shard, SweepPlan, SweepRow};
use crate::tensor::Device;
use crate::train::{Event, Trainer, train_trainer_async};

/// How to run a sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Continue a file that already holds runs of this sweep.
    pub resume: bool,
    /// Which cells this process runs.
    pub shard: Shard,
    /// Set by another thread to stop after the run in progress (its row is still written).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The bytes of the text domains the plan's configuration names.
    pub texts: Vec<crate::data::TextDomain>,
    /// Folder a sweep keeps the weights it hands on in (a distillation sweep's teachers, a
    /// forgetting sweep's pretrained models), so a resumed sweep need not train them again
    /// (`run_sweep` puts it beside the JSONL file: `runs.weights/`); `None` keeps them in
    /// memory only, and a resumed sweep trains them once more.
    pub weights_dir: Option<std::path::PathBuf>,
}

/// Progress of a sweep, for a progress bar or the app.
#[derive(Debug)]
pub enum SweepEvent<'a> {
    /// The plan is known and the output file read.
    Planned {
        /// Cells in the whole plan.
        planned: usize,
        /// Cells of this shard.
        in_shard: usize,
        /// Cells of this shard still to train, in order (the rest are in the file already).
        todo: &'a [&'a PlannedRun],
        /// The rows of this plan already in the file, in plan order.
        finished: &'a [&'a SweepRow],
        /// Whether a torn last line was cut from the file.
        torn_tail: bool,
    },
    /// A cell starts training.
    RunStarted {
        /// The cell.
        run: &'a PlannedRun,
        /// 1-based position among the cells this call trains.
        position: usize,
        /// Cells this call trains.
        todo: usize,
    },
    /// Progress inside the running cell.
    Training(&'a Event),
    /// A run whose weights another run needs (a teacher, a pretrained model) and which were
    /// not kept (a sweep resumed without its weights folder, or another shard's run) is
    /// trained again first.
    RetrainingSource {
        /// The run trained again.
        run: &'a PlannedRun,
    },
    /// A cell finished and its row is on disk.
    RunFinished {
        /// Its row.
        row: &'a SweepRow,
        /// 1-based position among the cells this call trains.
        position: usize,
        /// Cells this call trains.
        todo: usize,
    },
}

/// What a sweep call leaves behind.
#[derive(Debug)]
pub struct SweepOutcome {
    /// Every row of this plan now in the file, in plan order.
    pub rows: Vec<SweepRow>,
    /// Cells trained by this call.
    pub trained: usize,
    /// Cells in the whole plan (when `rows.len()` equals it, the sweep is complete).
    pub planned: usize,
}

impl SweepOutcome {
    /// Whether every cell of the plan (all shards) is in the file.
    pub fn complete(&self) -> bool {
        self.rows.len() == self.planned
    }
}

/// Trains the cells of `plan` in `opts.shard` that `out` lacks, appending one row per run,
/// blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_sweep(
    device: &Device,
    plan: &SweepPlan,
    out: &Path,
    opts: SweepOptions,
    on_event: &mut dyn FnMut(SweepEvent<'_>),
) -> Result<SweepOutcome> {
    let (mut writer, found) = SweepWriter::open(out, opts.resume)?;
    let label = out.display().to_string();
    let mut opts = opts;
    if opts.weights_dir.is_none() && plan.hands_on_weights() {
        opts.weights_dir = Some(out.with_extension("weights"));
    }
    pollster::block_on(run_sweep_async(device, plan, found, &label, opts, on_event, &mut |row| writer.append(row)))
}

/// The sweep as a future: `found` holds the rows already kept (read from `label`, a file name
/// or "this page"), and `append` keeps each finished row before the next run starts.
pub async fn run_sweep_async(
    device: &Device,
    plan: &SweepPlan,
    found: ReadRows,
    label: &str,
    opts: SweepOptions,
    on_event: &mut dyn FnMut(SweepEvent<'_>),
    append: &mut dyn FnMut(&SweepRow) -> Result<()>,
) -> Result<SweepOutcome> {
    let runs = plan.runs()?;
    // A missing or different text fails here, before any run trains.
    crate::data::resolve_texts(&plan.base.texts, &opts.texts)?;
    let by_id: HashMap<&str, &PlannedRun> = runs.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut done: HashMap<String, SweepRow> = HashMap::new();
    for row in found.rows {
        let planned = by_id.get(row.id.as_str()).filter(|_| row.sweep == plan.name);
        match planned {
            Some(p) if p.config == row.config && p.index == row.index => {
                done.insert(row.id.clone(), row);
            }
            Some(_) => {
                return Err(Error::Config(format!(
                    "{}: run {} was trained with a different configuration than the `{}` plan now makes; \
                     finish it with the sigmix version that started it, or choose another --out",
                    label, row.id, plan.name
                )));
            }
            None => {
                return Err(Error::Config(format!(
                    "{}: holds run {} of sweep `{}`, which is not in the `{}` plan; choose another --out",
                    label, row.id, row.sweep, plan.name
                )));
            }
        }
    }
    let in_shard: Vec<&PlannedRun> = runs.iter().filter(|r| opts.shard.has(r.index)).collect();
    let todo: Vec<&PlannedRun> = in_shard.iter().copied().filter(|r| !done.contains_key(&r.id)).collect();
    let mut finished: Vec<&SweepRow> = done.values().collect();
    finished.sort_by_key(|r| r.index);
    on_event(SweepEvent::Planned {
        planned: runs.len(),
        in_shard: in_shard.len(),
        todo: &todo,
        finished: &finished,
        torn_tail: found.torn_tail,
    });
    let mut trained = 0;
    // Runs whose weights other runs start from or learn from.
    let sources: HashSet<&str> = runs
        .iter()
        .flat_map(|r| {
            r.config.distill.as_ref().map(|d| d.teacher_run.as_str()).into_iter().chain(r.config.init_from.as_deref())
        })
        .collect();
    let mut kept = Checkpoints::new(opts.weights_dir.clone());
    for (i, run) in todo.iter().enumerate() {
        if opts.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            break;
        }
        let mut source = async |id: &str, len: usize| -> Result<Vec<f32>> {
            if let Some(w) = kept.get(id, len) {
                return Ok(w);
            }
            let Some(t) = by_id.get(id) else {
                return Err(Error::Config(format!(
                    "run {} needs the weights of `{id}`, which is not a run of the `{}` plan",
                    run.id, plan.name
                )));
            };
            on_event(SweepEvent::RetrainingSource { run: t });
            let w = train_source(device, t, &opts.texts, &mut kept, on_event).await?;
            Ok(w)
        };
        let teacher = match &run.config.distill {
            Some(d) => Some(source(&d.teacher_run, d.teacher.param_count()).await?),
            None => None,
        };
        let init = match &run.config.init_from {
            Some(id) => Some(source(id, run.config.model.param_count()).await?),
            None => None,
        };
        on_event(SweepEvent::RunStarted { run, position: i + 1, todo: todo.len() });
        let mut trainer = Trainer::with_teacher(device, &run.config, &opts.texts, teacher.as_deref())?;
        if let Some(w) = &init {
            trainer.start_from(w)?;
        }
        let trainer = train_trainer_async(trainer, &mut |e| on_event(SweepEvent::Training(e))).await?;
        if sources.contains(run.id.as_str()) {
            kept.keep(&run.id, trainer.read_weights().await?)?;
        }
        let record = trainer.record();
        let row = SweepRow::from_record(&plan.name, run.index, &run.id, &record)?;
        append(&row)?;
        on_event(SweepEvent::RunFinished { row: &row, position: i + 1, todo: todo.len() });
        done.insert(row.id.clone(), row);
        trained += 1;
    }
    let mut rows: Vec<SweepRow> = done.into_values().collect();
    rows.sort_by_key(|r| r.index);
    Ok(SweepOutcome { rows, trained, planned: runs.len() })
}

/// Trains run `t` again because another run needs its weights, keeps them and hands them back.
/// A source is itself trained from scratch (no sweep chains finetunes), so it needs no weights.
async fn train_source(
    device: &Device,
    t: &PlannedRun,
    texts: &[crate::data::TextDomain],
    kept: &mut Checkpoints,
    on_event: &mut dyn FnMut(SweepEvent<'_>),
) -> Result<Vec<f32>> {
    if t.config.distill.is_some() || t.config.init_from.is_some() {
        return Err(Error::Config(format!(
            "run {} is needed by another run but learns from one itself; a sweep hands weights on one level only",
            t.id
        )));
    }
    let trainer = Trainer::with_texts(device, &t.config, texts)?;
    let trainer = train_trainer_async(trainer, &mut |e| on_event(SweepEvent::Training(e))).await?;
    let w = trainer.read_weights().await?;
    kept.keep(&t.id, w.clone())?;
    Ok(w)
}
