//! "Fit on these runs" for the distillation calculator: run a distillation sweep in the engine
//! (teachers, then students supervised and distilled), fit the supervised and distillation
//! laws on every student size but the largest, and show how well they predict it and where
//! distilling beats supervised training at equal compute.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::DeviceChoice;
use sigmix::sweep::{DistillReport, HeldOutRun, SWEEP_PRESETS, SweepPlan, SweepRow, parse_rows};

use crate::lab::{Followed, SweepJob, SweepMessage, SweepStore, follow};
use crate::ui::widgets::{RunButton, colour, start_or_stop};

/// Whether the sweep preset `name` is a distillation sweep.
pub fn is_distill(name: &str) -> bool {
    SweepPlan::preset(name).is_ok_and(|p| p.distill.is_some())
}

/// The sweep presets that are distillation sweeps.
pub fn distill_presets() -> Vec<(&'static str, &'static str)> {
    SWEEP_PRESETS.iter().copied().filter(|(n, _)| is_distill(n)).collect()
}

/// A distillation sweep run from the lab, and its fit.
pub struct DistillLab {
    /// Where the sweeps train.
    pub device: DeviceChoice,
    /// The sweep preset.
    pub preset: String,
    /// The JSONL file the runs go to (natively; the page keeps them in the browser).
    pub path: String,
    /// Finished runs, in plan order.
    pub rows: Vec<SweepRow>,
    /// Runs in the plan.
    pub planned: usize,
    /// The run in progress.
    pub current: Option<String>,
    /// The laws fitted on the finished sweep.
    pub report: Option<DistillReport>,
    /// The last error, shown until the next action.
    pub error: Option<String>,
    job: Option<SweepJob>,
    fit_job: Option<SweepJob>,
}

impl DistillLab {
    /// The panel at the smoke preset (seconds), reading any runs already kept.
    pub fn new(device: DeviceChoice) -> DistillLab {
        let mut lab = DistillLab {
            device,
            preset: "distill-smoke".into(),
            path: String::new(),
            rows: Vec::new(),
            planned: 0,
            current: None,
            report: None,
            error: None,
            job: None,
            fit_job: None,
        };
        lab.path = lab.default_path();
        lab.load();
        lab
    }

    fn default_path(&self) -> String {
        format!("{}/{}.jsonl", crate::lab::LAB_DIR, self.preset)
    }

    /// Reads the runs already kept for the preset (a finished sweep is fitted on the next frame).
    pub fn load(&mut self) {
        self.rows.clear();
        self.report = None;
        self.planned = SweepPlan::preset(&self.preset).and_then(|p| p.runs()).map_or(0, |r| r.len());
        match crate::lab::files::read_kept(&self.path) {
            Ok(Some(text)) => match parse_rows(std::path::Path::new(&self.path), &text) {
                Ok(found) => self.rows = found.rows.into_iter().filter(|r| r.sweep == self.preset).collect(),
                Err(e) => self.error = Some(e.to_string()),
            },
            Ok(None) => {}
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Whether `rows` come from a distillation sweep (some run learns from a teacher).
    pub fn holds_distillation(rows: &[SweepRow]) -> bool {
        rows.iter().any(|r| r.config.distill.is_some())
    }

    /// Takes the rows of a distillation sweep dropped onto the lab (any plan's, e.g. one run
    /// with `sigmix sweep --plan`) and fits them.
    pub fn accept(&mut self, name: &str, rows: Vec<SweepRow>, ctx: &egui::Context) {
        if self.busy() {
            self.error = Some(format!("{name}: wait for the sweep or fit in progress to end, then drop it again"));
            return;
        }
        if let Some(first) = rows.first()
            && is_distill(&first.sweep)
        {
            self.preset = first.sweep.clone();
            self.path = self.default_path();
        }
        self.planned = rows.len();
        self.rows = rows;
        self.rows.sort_by_key(|r| r.index);
        self.report = None;
        self.error = None;
        self.fit(ctx);
    }

    /// Whether a sweep or a fit is in progress.
    pub fn busy(&self) -> bool {
        self.job.is_some() || self.fit_job.is_some()
    }

    /// Starts (or resumes) the sweep.
    pub fn run(&mut self, ctx: &egui::Context) {
        let plan = match SweepPlan::preset(&self.preset) {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        self.error = None;
        self.report = None;
        #[cfg(not(target_arch = "wasm32"))]
        let store = SweepStore::File(std::path::PathBuf::from(&self.path));
        #[cfg(target_arch = "wasm32")]
        let store = SweepStore::Page(self.rows.clone());
        let ctx = ctx.clone();
        self.job = Some(SweepJob::sweep(self.device, plan, Vec::new(), store, move || ctx.request_repaint()));
    }

    fn fit(&mut self, ctx: &egui::Context) {
        let ctx = ctx.clone();
        self.fit_job = Some(SweepJob::fit_distill(self.rows.clone(), move || ctx.request_repaint()));
    }

    /// Takes what the sweep and the fit report.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let mut finished = false;
        if let Some(job) = &self.job {
            for m in job.drain() {
                match follow(m, &mut self.rows, &mut self.planned, &mut self.current) {
                    #[cfg(target_arch = "wasm32")]
                    Followed::RowAdded => {
                        if let Err(e) = crate::lab::files::keep_rows_in_page(&self.path, &self.rows) {
                            self.error = Some(e.to_string());
                        }
                    }
                    Followed::Ended(error) => {
                        if error.is_some() {
                            self.error = error;
                        }
                        finished = true;
                    }
                    _ => {}
                }
            }
            finished |= job.ended();
        }
        if finished {
            self.job = None;
            self.current = None;
        }
        if let Some(job) = &self.fit_job {
            for m in job.drain() {
                match m {
                    SweepMessage::DistillFitted(r) => self.report = Some(*r),
                    SweepMessage::Failed(e) => self.error = Some(e),
                    _ => {}
                }
            }
            if job.ended() {
                self.fit_job = None;
            }
        }
        let complete = self.planned > 0 && self.rows.len() == self.planned;
        if complete && !self.busy() && self.report.is_none() && self.error.is_none() {
            self.fit(ctx);
        }
    }

    /// Draws the controls, the progress and, once fitted, what the laws say.
    pub fn ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        ui.label("Fit on these runs: train teachers, then students with and without them, here; fit both laws on all but the largest student and predict it.");
        ui.horizontal(|ui| {
            ui.add_enabled_ui(!self.busy(), |ui| {
                let mut preset = self.preset.clone();
                egui::ComboBox::from_id_salt("distill-preset").selected_text(&preset).show_ui(ui, |ui| {
                    for (name, what) in distill_presets() {
                        ui.selectable_value(&mut preset, name.to_string(), name).on_hover_text(what);
                    }
                });
                if preset != self.preset {
                    self.preset = preset;
                    self.path = self.default_path();
                    self.error = None;
                    self.load();
                }
            });
            match start_or_stop(
                ui,
                self.job.is_none(),
                "Run distillation sweep",
                "Train the sweep's runs not yet kept (its teachers first), then fit",
                "Stop after the run in progress (finished runs are kept)",
            ) {
                RunButton::Start => self.run(&ctx),
                RunButton::Stop => {
                    if let Some(j) = &self.job {
                        j.stop();
                    }
                }
                RunButton::Nothing => {}
            }
        });
        if self.planned > 0 {
            let done = self.rows.len() as f32 / self.planned as f32;
            let text = match &self.current {
                Some(id) => format!("{} of {} runs · training {id}", self.rows.len(), self.planned),
                None => format!("{} of {} runs", self.rows.len(), self.planned),
            };
            ui.add(egui::ProgressBar::new(done).text(text));
        }
        if self.fit_job.is_some() {
            ui.label("fitting both laws…");
        }
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(220, 80, 80), e);
        }
        if let Some(r) = &self.report {
            report_ui(ui, r);
        }
    }
}

fn points(held: &[HeldOutRun]) -> Vec<[f64; 2]> {
    held.iter().map(|h| [h.measured, h.predicted]).collect()
}

/// The fitted laws' held-out errors, their predictions against the measurements, the
/// measured gains and the compute crossovers.
fn report_ui(ui: &mut Ui, r: &DistillReport) {
    let teachers: Vec<String> = r.teachers.iter().map(|t| format!("{} (L_T {:.3})", t.id, t.loss)).collect();
    ui.label(format!("teachers: {}", teachers.join(", ")));
    ui.label(format!(
        "largest student predicted: supervised law {:.2}% MRE ({} runs fitted), distillation law {:.2}% MRE ({} runs fitted)",
        100.0 * r.supervised_mre,
        r.supervised.rows,
        100.0 * r.distill_mre,
        r.distill.rows
    ));
    let helped = r.measured_gain.iter().filter(|(_, g)| *g < 0.0).count();
    ui.label(format!(
        "measured at equal tokens, the teacher lowered the loss in {helped} of {} runs",
        r.measured_gain.len()
    ));
    let all: Vec<f64> =
        r.supervised_held_out.iter().chain(&r.distill_held_out).flat_map(|h| [h.measured, h.predicted]).collect();
    let (lo, hi) = all.iter().fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
    Plot::new("distill-fit")
        .height(200.0)
        .legend(Legend::default())
        .x_axis_label("measured loss (largest student)")
        .y_axis_label("predicted")
        .show(ui, |p| {
            if lo.is_finite() {
                p.line(Line::new("exact", PlotPoints::from(vec![[lo, lo], [hi, hi]])).color(egui::Color32::GRAY));
            }
            p.points(Points::new("supervised law", points(&r.supervised_held_out)).radius(4.0).color(colour(0)));
            p.points(Points::new("distillation law", points(&r.distill_held_out)).radius(4.0).color(colour(1)));
        });
    ui.label("at equal training compute (the teacher's forward pass counted, its training not):");
    for c in &r.crossovers {
        ui.label(format!("  student {} from {}: {}", c.student, c.teacher, c.verdict()));
    }
}
