//! "Fit on these runs" for a law calculator: run the law's sweep in the engine (a distillation
//! sweep: teachers, then students supervised and distilled; a forgetting sweep: pretrained
//! models finetuned with pretraining data injected; an MoE sparsity sweep: IsoFLOP slices over
//! the expert count), fit its laws on every size but the largest, show how well they predict
//! the largest and what the sweep found, and export runs, fit, CSV and the window.

use egui::Ui;
use sigmix::DeviceChoice;
use sigmix::sweep::{SweepPlan, SweepRow, parse_rows};

use crate::jobs::{Followed, LawReport, LawSweep, SweepJob, SweepMessage, SweepStore, follow};
use crate::ui::widgets::{RunButton, start_or_stop};

/// A law sweep run from the lab, and its fit.
pub struct LawSweepLab {
    /// Which law's sweep.
    pub kind: LawSweep,
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
    pub report: Option<LawReport>,
    /// The last error, shown until the next action.
    pub error: Option<String>,
    /// Where the last export went, shown until the next one.
    pub notice: Option<String>,
    /// Folder natively exported files go to.
    pub export_dir: std::path::PathBuf,
    job: Option<SweepJob>,
    fit_job: Option<SweepJob>,
}

impl LawSweepLab {
    /// The panel at the kind's smoke preset (seconds), reading any runs already kept.
    pub fn new(kind: LawSweep, device: DeviceChoice) -> LawSweepLab {
        let preset = match kind {
            LawSweep::Distillation => "distill-smoke",
            LawSweep::Forgetting => "forgetting-smoke",
            LawSweep::MoeSparsity => "moe-sparsity-smoke",
        };
        let mut lab = LawSweepLab {
            kind,
            device,
            preset: preset.into(),
            path: String::new(),
            rows: Vec::new(),
            planned: 0,
            current: None,
            report: None,
            error: None,
            notice: None,
            export_dir: crate::jobs::LAB_DIR.into(),
            job: None,
            fit_job: None,
        };
        lab.path = lab.default_path();
        lab.load();
        lab
    }

    fn default_path(&self) -> String {
        format!("{}/{}.jsonl", crate::jobs::LAB_DIR, self.preset)
    }

    /// Reads the runs already kept for the preset (a finished sweep is fitted on the next frame).
    pub fn load(&mut self) {
        self.rows.clear();
        self.report = None;
        self.planned = SweepPlan::preset(&self.preset).and_then(|p| p.runs()).map_or(0, |r| r.len());
        match crate::jobs::files::read_kept(&self.path) {
            Ok(Some(text)) => match parse_rows(std::path::Path::new(&self.path), &text) {
                Ok(found) => self.rows = found.rows.into_iter().filter(|r| r.sweep == self.preset).collect(),
                Err(e) => self.error = Some(e.to_string()),
            },
            Ok(None) => {}
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Takes the rows of a sweep of this kind dropped onto the lab (any plan's, e.g. one run
    /// with `sigmix sweep --plan`) and fits them.
    pub fn accept(&mut self, name: &str, rows: Vec<SweepRow>, ctx: &egui::Context) {
        if self.busy() {
            self.error = Some(format!("{name}: wait for the sweep or fit in progress to end, then drop it again"));
            return;
        }
        if let Some(first) = rows.first()
            && LawSweep::of_preset(&first.sweep) == Some(self.kind)
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
        self.fit_job = Some(SweepJob::fit_law(self.kind, self.rows.clone(), move || ctx.request_repaint()));
    }

    /// Takes what the sweep and the fit report.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let mut finished = false;
        if let Some(job) = &self.job {
            for m in job.drain() {
                match follow(m, &mut self.rows, &mut self.planned, &mut self.current) {
                    #[cfg(target_arch = "wasm32")]
                    Followed::RowAdded => {
                        if let Err(e) = crate::jobs::files::keep_rows_in_page(&self.path, &self.rows) {
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
                    SweepMessage::LawFitted(r) => self.report = Some(r),
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
        let (what, run, hover) = match self.kind {
            LawSweep::Distillation => (
                "Fit on these runs: train teachers, then students with and without them, here; fit both laws on all but the largest student and predict it.",
                "Run distillation sweep",
                "Train the sweep's runs not yet kept (its teachers first), then fit",
            ),
            LawSweep::Forgetting => (
                "Fit on these runs: pretrain each size on the four domains, finetune it on dialogue with 0–20% of pretraining data injected, here; fit the laws on all but the largest size and predict it.",
                "Run forgetting sweep",
                "Train the sweep's runs not yet kept (the pretrained models first), then fit",
            ),
            LawSweep::MoeSparsity => (
                "Fit on these runs: train each size and budget with 2 to 32 experts, top-2 (same active parameters, so the same compute: an IsoFLOP slice over sparsity), here; fit the MoE law on all but the largest size, predict it, and find the optimal sparsity per compute budget.",
                "Run MoE sparsity sweep",
                "Train the sweep's runs not yet kept, then fit",
            ),
        };
        ui.label(what);
        ui.horizontal(|ui| {
            ui.add_enabled_ui(!self.busy(), |ui| {
                let mut preset = self.preset.clone();
                egui::ComboBox::from_id_salt(("law-sweep-preset", self.kind as u8)).selected_text(&preset).show_ui(
                    ui,
                    |ui| {
                        for (name, what) in self.kind.presets() {
                            ui.selectable_value(&mut preset, name.to_string(), name).on_hover_text(what);
                        }
                    },
                );
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
                run,
                hover,
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
            ui.label("fitting the laws…");
        }
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::from_rgb(220, 80, 80), e);
        }
        self.export_ui(ui);
        match &self.report {
            Some(LawReport::Distillation(r)) => crate::ui::distill_lab::report_ui(ui, r),
            Some(LawReport::Forgetting(r)) => crate::ui::forgetting_lab::report_ui(ui, r),
            Some(LawReport::Moe(r)) => crate::ui::moe_sparsity_lab::report_ui(ui, r),
            None => {}
        }
    }

    /// Download runs (JSONL), fit (JSON), the report's table (CSV) and the screen (PNG).
    fn export_ui(&mut self, ui: &mut Ui) {
        let fitted = self.report.is_some();
        ui.horizontal(|ui| {
            let runs = ui
                .add_enabled(!self.rows.is_empty(), egui::Button::new("Download runs"))
                .on_hover_text("The runs as JSON Lines (the `sigmix sweep` format); drop the file onto the lab to fit it again");
            if runs.clicked() {
                self.notice = Some(self.export_rows().unwrap_or_else(|e| e.to_string()));
            }
            let fit = ui
                .add_enabled(fitted, egui::Button::new("Download fit"))
                .on_hover_text("The fitted laws, their held-out predictions and what the sweep found, as JSON (what `sigmix sweep --fit-out` writes)");
            if fit.clicked() {
                self.notice = Some(self.export_fit().unwrap_or_else(|e| e.to_string()));
            }
            let csv = ui
                .add_enabled(fitted, egui::Button::new("Export CSV"))
                .on_hover_text("One row per run: what was measured and what the laws predicted");
            if csv.clicked()
                && let Some(r) = &self.report
            {
                let saved = crate::jobs::files::save(&self.export_dir, &self.preset, "csv", report_csv(r).as_bytes());
                self.notice = Some(saved.unwrap_or_else(|e| e.to_string()));
            }
            let png = ui.add_enabled(fitted, egui::Button::new("Save PNG")).on_hover_text("The lab's window as a picture");
            if png.clicked() {
                crate::jobs::files::save_screen(ui.ctx(), self.export_dir.clone(), "law-sweep");
                self.notice = Some("the window is saved as it is drawn next".into());
            }
        });
        if let Some(n) = &self.notice {
            ui.label(egui::RichText::new(n).small());
        }
    }

    fn export_rows(&self) -> sigmix::Result<String> {
        let text = sigmix::sweep::jsonl(&self.rows, std::path::Path::new(&self.path))?;
        crate::jobs::files::save(&self.export_dir, &self.preset, "jsonl", text.as_bytes())
    }

    fn export_fit(&self) -> sigmix::Result<String> {
        let Some(report) = &self.report else {
            return Err(sigmix::Error::Config("nothing is fitted yet: run the sweep first".into()));
        };
        let json = serde_json::to_string_pretty(report)
            .map_err(|e| sigmix::Error::Config(format!("the fit did not serialise: {e}")))?;
        crate::jobs::files::save(&self.export_dir, &format!("{}-fit", self.preset), "json", json.as_bytes())
    }
}

/// A report as CSV, one row per run: a distillation sweep's held-out predictions and measured
/// gains; a forgetting sweep's finetuning runs with what both forgetting forms predicted for the
/// largest size (empty below it: those were fitted, not predicted); an MoE sparsity sweep's
/// runs with the law's prediction of each.
pub fn report_csv(r: &LawReport) -> String {
    let mut out = String::new();
    match r {
        LawReport::Distillation(r) => {
            out.push_str("run,law,predicted,measured,gain_vs_supervised\n");
            let gain =
                |id: &str| r.measured_gain.iter().find(|(g, _)| g == id).map_or(String::new(), |(_, v)| v.to_string());
            for (law, held) in [("supervised", &r.supervised_held_out), ("distillation", &r.distill_held_out)] {
                for h in held {
                    out.push_str(&format!("{},{law},{},{},{}\n", h.id, h.predicted, h.measured, gain(&h.id)));
                }
            }
        }
        LawReport::Moe(r) => {
            out.push_str("run,size,experts,sparsity,n_total,n_active,tokens,flops,loss,predicted,held_out\n");
            for x in &r.runs {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{}\n",
                    x.id,
                    x.size,
                    x.experts,
                    x.sparsity,
                    x.n_total,
                    x.n_active,
                    x.tokens,
                    x.flops,
                    x.loss,
                    x.predicted,
                    x.held_out
                ));
            }
        }
        LawReport::Forgetting(r) => {
            out.push_str(&format!(
                "run,from,n,d_ft,p,pretrain_before,pretrain_after,rise,progress_lost,{0}_loss,predicted_after_papers_form,predicted_after_tokens_form,predicted_{0}_loss\n",
                r.target
            ));
            let predicted = |held: &[sigmix::sweep::HeldOutRun], id: &str| {
                held.iter().find(|h| h.id == id).map_or(String::new(), |h| h.predicted.to_string())
            };
            for f in &r.finetuned {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    f.id,
                    f.from,
                    f.n,
                    f.d,
                    f.p,
                    f.before,
                    f.after,
                    f.after - f.before,
                    f.relative,
                    f.target_loss,
                    predicted(&r.forgetting.held_out, &f.id),
                    predicted(&r.forgetting_tokens.held_out, &f.id),
                    predicted(&r.target_held_out, &f.id),
                ));
            }
        }
    }
    out
}
