//! The Mixture lab: run a sweep of small models, fit the mixture law on all but the largest
//! size, see its prediction of the largest, find the optimal mixture for a target domain, and
//! train that run to see the prediction hold or miss.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::DeviceChoice;
use sigmix::data::TextDomain;
use sigmix::laws::RunTable;
use sigmix::laws::{MixtureForm, Observation, OptimalMixture, mixture_law};
use sigmix::sweep::{
    Extrapolation, OPTIMUM_FLOOR, OptimumCheck, ParamCount, SWEEP_PRESETS, SweepPlan, SweepRow, observation,
    optimal_for, parse_rows, sweep_targets, uniform_at_largest,
};
use sigmix::train::RunConfig;

use crate::lab::files::Dropped;
use crate::lab::{Followed, Message, SweepJob, SweepMessage, SweepStore, TrainJob, follow};
use crate::ui::widgets::colour;

/// Commentary for each sweep preset.
const COMMENTARY: &[(&str, &str)] = &[
    (
        "classroom",
        "45 runs, about 8 minutes on a 2-core CPU: 5 widths (7K–100K parameters, a learning rate per width), the uniform mixture at 800/1600/3200 steps and 6 more mixtures at 1600. The law is fitted on the four smaller widths as each finishes and predicts the largest. Mixtures move each domain's loss by 0.05–0.24 nats; the joint law, in which a mixture matters less to a larger model, predicts the largest width within 0.6–1.4% on the mean loss and 1–3.7% per domain (3 seeds); the additive law misses the code loss by 2.5–3.3%. Single runs differ by 2–5% between seeds at 800–1600 steps, which bounds what any law can do here.",
    ),
    ("smoke", "28 runs of 1-layer models in seconds: for trying the buttons. Too small for a meaningful fit."),
];

/// The panel's state.
pub struct MixturePanel {
    /// The sweep preset.
    pub preset: String,
    /// The JSONL file the sweep appends to.
    pub path: String,
    /// Where to train.
    pub device: DeviceChoice,
    /// Finished runs, in plan order.
    pub rows: Vec<SweepRow>,
    planned: usize,
    current: Option<String>,
    job: Option<SweepJob>,
    fit_job: Option<SweepJob>,
    /// The fits (one per target), once made.
    pub fits: Vec<Extrapolation>,
    /// The loss shown and optimised.
    pub target: String,
    verify: Option<TrainJob>,
    verify_result: Option<(f64, f64)>,
    /// The last error.
    pub error: Option<String>,
    notice: Option<String>,
    /// Folder for exports.
    pub export_dir: std::path::PathBuf,
    /// Path of an external table of runs to fit (e.g. the public data-mixture CSV).
    pub external: String,
    /// Whether the fits shown are of the external table (not of the sweep).
    pub showing_external: bool,
    optimum_cache: Option<(OptimumKey, OptimalMixture)>,
    /// The user's text domains, swept after the built-in ones.
    texts: Vec<TextDomain>,
    /// Runs planned per size (the size label of the ids, e.g. `w48l2`), smallest first: what
    /// tells that a size is finished while the sweep runs.
    planned_sizes: Vec<(String, usize)>,
    /// Finished sizes the shown fit was made on while the sweep ran (0: none yet).
    live_sizes: usize,
    /// The mixture law fitted: the joint one unless the user picks the additive one.
    pub form: MixtureForm,
}

/// What an optimal mixture was searched for: target, fitted parameters, N and D.
type OptimumKey = (String, Vec<f64>, usize, usize);

impl MixturePanel {
    /// A panel on the classroom preset; offers to resume when its file holds an unfinished sweep.
    pub fn new(device: DeviceChoice) -> MixturePanel {
        let mut p = MixturePanel {
            preset: "classroom".into(),
            path: "sigmix-lab/classroom.jsonl".into(),
            device,
            rows: Vec::new(),
            planned: 0,
            current: None,
            job: None,
            fit_job: None,
            fits: Vec::new(),
            target: "mean_loss".into(),
            verify: None,
            verify_result: None,
            error: None,
            notice: None,
            export_dir: crate::lab::LAB_DIR.into(),
            external: String::new(),
            showing_external: false,
            optimum_cache: None,
            texts: Vec::new(),
            planned_sizes: Vec::new(),
            live_sizes: 0,
            form: MixtureForm::default(),
        };
        p.load();
        p
    }

    /// The sweep: the preset's grid over the built-in domains and the user's texts.
    fn plan(&self) -> sigmix::Result<SweepPlan> {
        let mut plan = SweepPlan::preset(&self.preset)?;
        plan.base.add_texts(&self.texts, 1.0);
        Ok(plan)
    }

    /// Sweeps `texts` too from now on (the grid, its runs and the file change with them).
    pub fn set_texts(&mut self, texts: &[TextDomain]) {
        self.texts = texts.to_vec();
        self.path = self.default_path();
        self.load();
    }

    /// The sweep's file: the preset's name, and the texts' names when there are any.
    fn default_path(&self) -> String {
        let names: Vec<&str> = self.texts.iter().map(|t| t.name()).collect();
        let suffix = if names.is_empty() { String::new() } else { format!("+{}", names.join("+")) };
        format!("{}/{}{suffix}.jsonl", crate::lab::LAB_DIR, self.preset)
    }

    /// The domains of the runs shown (those of a loaded sweep, else the plan's), in mixture
    /// order.
    pub fn domains(&self) -> Vec<String> {
        match self.rows.first() {
            Some(r) => r.config.domain_names(),
            None => self.plan().map(|p| p.base.domain_names()).unwrap_or_default(),
        }
    }

    /// Reads the runs already kept: in the file natively, in the page's storage in the browser.
    pub fn load(&mut self) {
        self.rows.clear();
        self.fits.clear();
        self.count_planned();
        let text = match crate::lab::files::read_kept(&self.path) {
            Ok(Some(text)) => text,
            Ok(None) => {
                self.notice = None;
                return;
            }
            Err(e) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        match parse_rows(std::path::Path::new(&self.path), &text) {
            Ok(r) => {
                self.rows = r.rows;
                self.notice = (self.rows.len() < self.planned && !self.rows.is_empty()).then(|| {
                    format!(
                        "{} holds {} of {} runs of an unfinished sweep: press Run to resume it",
                        self.path,
                        self.rows.len(),
                        self.planned
                    )
                });
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Counts the plan's runs, in all and per size.
    fn count_planned(&mut self) {
        let runs = self.plan().and_then(|p| p.runs()).unwrap_or_default();
        self.planned = runs.len();
        self.planned_sizes.clear();
        for r in &runs {
            let label = size_label(&r.id);
            match self.planned_sizes.iter_mut().find(|(l, _)| l == label) {
                Some((_, n)) => *n += 1,
                None => self.planned_sizes.push((label.to_string(), 1)),
            }
        }
        self.live_sizes = 0;
    }

    /// The runs of every size whose planned runs are all in, and how many sizes that is.
    pub fn finished_sizes(&self) -> (usize, Vec<SweepRow>) {
        let done: Vec<&str> = self
            .planned_sizes
            .iter()
            .filter(|(l, n)| self.rows.iter().filter(|r| size_label(&r.id) == l).count() >= *n)
            .map(|(l, _)| l.as_str())
            .collect();
        let rows = self.rows.iter().filter(|r| done.contains(&size_label(&r.id))).cloned().collect();
        (done.len(), rows)
    }

    /// Refits while the sweep runs, each time one more size is finished (from three on: the
    /// law fitted on the smaller ones predicts the largest finished so far).
    fn refit_live(&mut self, ctx: &egui::Context) {
        let (sizes, rows) = self.finished_sizes();
        if sizes >= 3 && sizes > self.live_sizes && self.fit_job.is_none() {
            self.live_sizes = sizes;
            self.showing_external = false;
            let ctx = ctx.clone();
            self.fit_job = Some(SweepJob::fit(rows, self.form, move || ctx.request_repaint()));
        }
    }

    /// Whether a fit is being made.
    pub fn fitting(&self) -> bool {
        self.fit_job.is_some()
    }

    /// Whether the sweep and its last fit are done and the fits are in (or something failed).
    pub fn settled(&self) -> bool {
        self.error.is_some() || (!self.running() && !self.fitting() && !self.fits.is_empty())
    }

    /// Runs in the current sweep plan.
    pub fn planned(&self) -> usize {
        self.planned
    }

    /// Whether a sweep is running.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// Starts (or resumes) the sweep.
    pub fn run(&mut self, ctx: &egui::Context) {
        match self.plan() {
            Ok(plan) => {
                self.error = None;
                self.notice = None;
                let ctx = ctx.clone();
                #[cfg(not(target_arch = "wasm32"))]
                let store = SweepStore::File(std::path::PathBuf::from(&self.path));
                #[cfg(target_arch = "wasm32")]
                let store = SweepStore::Page(self.rows.clone());
                let texts = self.texts.clone();
                self.job = Some(SweepJob::sweep(self.device, plan, texts, store, move || ctx.request_repaint()));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Fits the law in the background.
    pub fn fit(&mut self, ctx: &egui::Context) {
        self.showing_external = false;
        let ctx = ctx.clone();
        self.fit_job = Some(SweepJob::fit(self.rows.clone(), self.form, move || ctx.request_repaint()));
    }

    /// Fits the additive law to the external table at `self.external` in the background.
    pub fn fit_external(&mut self, ctx: &egui::Context) {
        match RunTable::read(std::path::Path::new(&self.external)) {
            Ok(table) => self.fit_table(table, ctx),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn fit_table(&mut self, table: RunTable, ctx: &egui::Context) {
        self.error = None;
        self.fits.clear();
        self.showing_external = true;
        let ctx = ctx.clone();
        self.fit_job = Some(SweepJob::fit_table(table, move || ctx.request_repaint()));
    }

    /// Takes a file dropped onto the lab: a sweep (JSONL rows, as `sigmix sweep` or the
    /// Download button writes them) becomes the panel's runs; a table of runs is fitted.
    pub fn accept(&mut self, file: Dropped, ctx: &egui::Context) {
        if self.running() || self.fit_job.is_some() {
            self.error =
                Some(format!("{}: wait for the sweep or fit in progress to end, then drop it again", file.name));
            return;
        }
        let name = std::path::Path::new(&file.name);
        let text = match file.text() {
            Ok(t) => t,
            Err(e) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        if let Ok(found) = parse_rows(name, text)
            && let Some(first) = found.rows.first()
        {
            if SWEEP_PRESETS.iter().any(|(p, _)| *p == first.sweep) {
                self.preset = first.sweep.clone();
            }
            self.count_planned();
            // In the page the dropped runs are kept under the preset's name, where Run resumes.
            #[cfg(target_arch = "wasm32")]
            {
                self.path = self.default_path();
            }
            self.rows = found.rows;
            self.rows.sort_by_key(|r| r.index);
            #[cfg(target_arch = "wasm32")]
            if let Err(e) = crate::lab::files::keep_in_page(&self.path, text) {
                self.error = Some(e.to_string());
            }
            self.fits.clear();
            self.showing_external = false;
            self.error = None;
            self.notice = Some(format!("{}: {} runs of the `{}` sweep", file.name, self.rows.len(), self.preset));
            self.fit(ctx);
            return;
        }
        match RunTable::parse(name, text) {
            Ok(table) => {
                self.external = file.name.clone();
                self.fit_table(table, ctx);
            }
            Err(e) => {
                self.error = Some(format!(
                    "{e}; drop a sweep (.jsonl, as the Download button writes it) or a table of runs (.csv or .jsonl with model_size, n_tokens, weight_* and *_loss columns)"
                ))
            }
        }
    }

    /// Applies what the workers reported.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let (mut finished, mut added) = (false, false);
        if let Some(job) = &self.job {
            for m in job.drain() {
                match follow(m, &mut self.rows, &mut self.planned, &mut self.current) {
                    Followed::RowAdded => {
                        added = true;
                        // Natively the runner has appended it to the file already.
                        #[cfg(target_arch = "wasm32")]
                        if let Err(e) = crate::lab::files::keep_rows_in_page(&self.path, &self.rows) {
                            self.notice = Some(e.to_string());
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
        if added && !finished {
            self.refit_live(ctx);
        }
        if finished {
            self.job = None;
            self.current = None;
            if self.rows.len() == self.planned && self.error.is_none() {
                self.live_sizes = 0;
                self.fit(ctx);
            }
        }
        if let Some(job) = &self.fit_job {
            for m in job.drain() {
                match m {
                    SweepMessage::Fitted(f) => self.fits = f,
                    // A fit made while the sweep runs may fail on too few runs; the final one counts.
                    SweepMessage::Failed(e) if self.job.is_some() => self.notice = Some(format!("live fit: {e}")),
                    SweepMessage::Failed(e) => self.error = Some(e),
                    _ => {}
                }
            }
            if job.ended() {
                self.fit_job = None;
            }
        }
        if let Some(v) = &self.verify {
            for m in v.drain() {
                match m {
                    Message::Finished(record) => {
                        if let (Some(e), Some((pred, _))) = (record.final_eval(), self.verify_result) {
                            let measured = match record.domains.iter().position(|d| format!("{d}_loss") == self.target)
                            {
                                Some(i) => e.per_domain[i] as f64,
                                None => e.mean() as f64,
                            };
                            self.verify_result = Some((pred, measured));
                        }
                    }
                    Message::Failed(e) => self.error = Some(e),
                    _ => {}
                }
            }
        }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        egui::Panel::left("mixture-controls").default_size(320.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.controls(ui, &ctx));
        });
        egui::CentralPanel::default().show(ui, |ui| self.plots(ui));
    }

    fn controls(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.heading("Sweep");
        let busy = self.running();
        ui.add_enabled_ui(!busy, |ui| {
            let mut preset = self.preset.clone();
            egui::ComboBox::from_label("preset")
                .selected_text(&preset)
                .show_ui(ui, |ui| {
                    // Distillation sweeps fit other laws: they run from Laws → Distillation.
                    for (name, what) in SWEEP_PRESETS.iter().filter(|(n, _)| crate::lab::LawSweep::of_preset(n).is_none()) {
                        ui.selectable_value(&mut preset, name.to_string(), *name).on_hover_text(*what);
                    }
                })
                .response
                .on_hover_text("The grid of model sizes × token budgets × mixtures to train");
            if preset != self.preset {
                self.preset = preset;
                self.path = self.default_path();
                self.load();
            }
            #[cfg(not(target_arch = "wasm32"))]
            ui.horizontal(|ui| {
                ui.label("file");
                ui.text_edit_singleline(&mut self.path)
                    .on_hover_text("JSON Lines file the runs are appended to (the same format as `sigmix sweep`)");
            });
            #[cfg(target_arch = "wasm32")]
            ui.label(
                egui::RichText::new(
                    "Runs are kept in this browser's storage for this page (a reload finds them); Download saves them as a file, and dropping that file onto the page brings them back.",
                )
                .small(),
            );
        });
        if let Some((_, what)) = COMMENTARY.iter().find(|(n, _)| *n == self.preset) {
            ui.label(egui::RichText::new(*what).small());
        }
        ui.horizontal(|ui| {
            let label = if self.rows.is_empty() || self.rows.len() >= self.planned { "Run" } else { "Resume" };
            if ui
                .add_enabled(!busy, egui::Button::new(label))
                .on_hover_text("Train every run the file does not hold yet; each is saved as it finishes")
                .clicked()
            {
                self.run(ctx);
            }
            if ui
                .add_enabled(busy, egui::Button::new("Stop"))
                .on_hover_text("Stop after the run in progress (finished runs stay in the file)")
                .clicked()
                && let Some(j) = &self.job
            {
                j.stop();
            }
            #[cfg(not(target_arch = "wasm32"))]
            if ui.add_enabled(!busy, egui::Button::new("Load")).on_hover_text("Read the runs in the file").clicked() {
                self.load();
            }
            if ui
                .add_enabled(!self.rows.is_empty(), egui::Button::new("Download"))
                .on_hover_text(
                    "The runs as JSON Lines (the `sigmix sweep` format); drop the file onto the lab to load it again",
                )
                .clicked()
            {
                self.notice = Some(self.export_rows().unwrap_or_else(|e| e.to_string()));
            }
            if ui
                .add_enabled(!busy && self.fit_job.is_none() && !self.rows.is_empty(), egui::Button::new("Fit"))
                .on_hover_text("Fit the mixture law (below: joint or additive) on every size but the largest")
                .clicked()
            {
                self.fit(ctx);
            }
        });
        let frac = if self.planned > 0 { self.rows.len() as f32 / self.planned as f32 } else { 0.0 };
        ui.add(egui::ProgressBar::new(frac).text(format!("{} / {} runs", self.rows.len(), self.planned)));
        if let Some(id) = &self.current {
            ui.label(format!("training {id}…"));
        }
        if self.fit_job.is_some() {
            ui.label("fitting…");
        }
        if let Some(n) = &self.notice {
            ui.label(egui::RichText::new(n).color(egui::Color32::from_rgb(200, 140, 0)));
        }
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::RED, e);
        }
        ui.separator();
        ui.heading("External runs");
        #[cfg(target_arch = "wasm32")]
        ui.label(
            "Drop a CSV or JSONL of runs (model_size, n_tokens, weight_* and *_loss columns, e.g. the public data-mixture table) onto the page to fit the law to it.",
        );
        #[cfg(not(target_arch = "wasm32"))]
        ui.horizontal(|ui| {
            ui.text_edit_singleline(&mut self.external).on_hover_text(
                "A CSV or JSONL of runs with model_size, n_tokens, weight_* and *_loss columns, e.g. the public data-mixture table",
            );
            if ui
                .add_enabled(!busy && self.fit_job.is_none() && !self.external.is_empty(), egui::Button::new("Fit table"))
                .on_hover_text("Fit the additive law to every *_loss column on the rows below the largest N and predict the largest")
                .clicked()
            {
                self.fit_external(ctx);
            }
        });
        ui.separator();
        ui.heading("Target");
        let mut targets = sweep_targets(&self.domains());
        if self.showing_external {
            targets = self.fits.iter().map(|f| f.target.clone()).collect();
        }
        egui::ComboBox::from_label("loss")
            .selected_text(&self.target)
            .show_ui(ui, |ui| {
                for t in targets {
                    ui.selectable_value(&mut self.target, t.clone(), t);
                }
            })
            .response
            .on_hover_text("The held-out loss plotted, and the one the optimal mixture minimises");
        if !self.showing_external {
            let before = self.form;
            egui::ComboBox::from_label("law")
                .selected_text(self.form.name())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.form, MixtureForm::Joint, "mixture-joint").on_hover_text(
                        "A_h and B_h depend on the mixture: a mixture's effect may shrink as models grow",
                    );
                    ui.selectable_value(&mut self.form, MixtureForm::Additive, "mixture-additive").on_hover_text(
                        "Only the bias term depends on the mixture: the same effect at every size and budget",
                    );
                })
                .response
                .on_hover_text(
                    "The data-mixture law fitted (Shukor et al. 2025): compare how well each predicts the largest size",
                );
            if self.form != before && !self.rows.is_empty() && !self.running() && self.fit_job.is_none() {
                self.fit(ctx);
            }
            if let Some(f) = self.fits.first()
                && f.fit.law != self.form.name()
            {
                ui.label(
                    egui::RichText::new(format!(
                        "fitted {}: the runs below the largest size are fewer than {}'s parameters",
                        f.fit.law,
                        self.form.name()
                    ))
                    .small(),
                );
            }
        }
        if !self.fits.is_empty() {
            ui.separator();
            if self.running() && self.live_sizes > 0 {
                ui.label(format!(
                    "Live fit on the {} sizes finished so far, below the largest of them (refitted as each size finishes):",
                    self.live_sizes
                ));
            } else {
                ui.label("Law fitted below the largest size:");
            }
            egui::Grid::new("fit-table").striped(true).show(ui, |ui| {
                ui.label("target");
                ui.label("train MRE");
                ui.label("largest: MRE");
                ui.end_row();
                for f in &self.fits {
                    ui.label(&f.target);
                    ui.label(format!("{:.2}%", 100.0 * f.fit.train_mre));
                    ui.label(format!("{:.2}%", 100.0 * f.held_out_mre));
                    ui.end_row();
                }
            });
            ui.horizontal(|ui| {
                #[cfg(not(target_arch = "wasm32"))]
                if ui
                    .button("Save plot PNG")
                    .on_hover_text(
                        "Write the sweep's figure (law, extrapolation, prediction, optimal mixture) to sigmix-lab/",
                    )
                    .clicked()
                {
                    self.notice = Some(self.export_plot().unwrap_or_else(|e| e.to_string()));
                }
                // In the page plotters cannot draw text into a bitmap: the screen as drawn instead.
                #[cfg(target_arch = "wasm32")]
                if ui.button("Download PNG").on_hover_text("The Mixture lab as shown, as a PNG image").clicked() {
                    crate::lab::files::save_screen(ui.ctx(), self.export_dir.clone(), "mixture-lab");
                    self.notice = Some("downloading the Mixture lab's screen as PNG".into());
                }
                #[cfg(target_arch = "wasm32")]
                {
                    let svg = ui.button("Download figure SVG").on_hover_text(
                        "The sweep's figure (law, extrapolation, prediction, optimal mixture) as an SVG image",
                    );
                    crate::lab::targets::mark(ui, "Download figure SVG", &svg);
                    if svg.clicked() {
                        self.notice = Some(self.export_plot().unwrap_or_else(|e| e.to_string()));
                    }
                }
                if ui
                    .button("Download fits")
                    .on_hover_text("The fitted laws and their held-out errors as JSON")
                    .clicked()
                {
                    self.notice = Some(self.export_fits().unwrap_or_else(|e| e.to_string()));
                }
            });
            if !self.showing_external {
                self.optimum_ui(ui, ctx);
            }
        }
    }

    /// The optimal mixture for the target at (n, d) under its fit, searched once per
    /// (target, fit, n, d) rather than on every frame.
    fn optimum(&mut self, n: usize, d: usize) -> Option<OptimalMixture> {
        let fit = self.fits.iter().find(|f| f.target == self.target)?;
        let key = (self.target.clone(), fit.fit.params.clone(), n, d);
        if let Some((k, best)) = &self.optimum_cache
            && *k == key
        {
            return Some(best.clone());
        }
        let best = optimal_for(&self.fits, &self.target, n as f64, d as f64).ok()?;
        self.optimum_cache = Some((key, best.clone()));
        Some(best)
    }

    /// The optimal mixture for the target at the largest size and budget, the button that
    /// trains it, and how it did against the uniform run there.
    fn optimum_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.separator();
        ui.heading("Optimal mixture");
        let Some(uniform) = uniform_at_largest(&self.rows).cloned() else {
            ui.label("(the sweep has no uniform run at its largest size and budget to compare with)");
            return;
        };
        let (n, d) = (uniform.non_embedding_params, uniform.n_tokens);
        let Some(best) = self.optimum(n, d) else { return };
        ui.label(format!("for {} at N = {n}, D = {d} (each weight ≥ {OPTIMUM_FLOOR}):", self.target)).on_hover_text(
            "Pick another target loss above: the best mixture for one domain is not the best for the mean",
        );
        for (dom, w) in self.domains().iter().zip(&best.weights) {
            ui.add(egui::ProgressBar::new(*w as f32).text(format!("{dom} {w:.2}")));
        }
        ui.label(format!(
            "predicted {:.3} nats, uniform mixture {:.3}: a gain of {:.3}",
            best.objective,
            best.uniform_objective,
            best.uniform_objective - best.objective
        ));
        let running = self.verify.as_ref().is_some_and(|_| self.verify_result.is_some_and(|(_, m)| m.is_nan()));
        if ui
            .add_enabled(!running && !self.running(), egui::Button::new("Train this run"))
            .on_hover_text(
                "Train the largest model at this mixture and largest budget, and compare with the prediction and with the uniform run",
            )
            .clicked()
        {
            let cfg = RunConfig { name: "predicted-optimum".into(), mixture: best.weights.clone(), ..uniform.config.clone() };
            let ctx = ctx.clone();
            self.verify_result = Some((best.objective, f64::NAN));
            let texts = self.texts.clone();
            self.verify = Some(TrainJob::start(self.device, cfg, texts, true, move || ctx.request_repaint()));
        }
        match self.verify_result {
            Some((p, m)) if m.is_nan() => {
                ui.label(format!("training… (predicted {p:.3})"));
            }
            Some((p, m)) => match uniform.columns.get(&self.target) {
                Some(&u) => {
                    let check = OptimumCheck {
                        target: self.target.clone(),
                        weights: best.weights.clone(),
                        predicted: p,
                        predicted_uniform: best.uniform_objective,
                        measured: m,
                        measured_uniform: u,
                    };
                    let colour = if check.confirmed() {
                        egui::Color32::from_rgb(0, 150, 60)
                    } else {
                        egui::Color32::from_rgb(200, 140, 0)
                    };
                    ui.colored_label(
                        colour,
                        format!(
                            "trained {m:.3} (predicted {p:.3}, {:+.1}%); the uniform run {}: {u:.3}. Gain {:+.3} nats, the law promised {:+.3}: {}",
                            100.0 * (p - m) / m,
                            uniform.id,
                            check.measured_gain(),
                            check.predicted_gain(),
                            if check.confirmed() { "the advice holds" } else { "the advice does not hold" }
                        ),
                    );
                }
                None => {
                    ui.label(format!("predicted {p:.3}, measured {m:.3}: {:+.1}%", 100.0 * (p - m) / m));
                }
            },
            None => {}
        }
    }

    /// Predicted against measured for the held-out runs, one colour per mixture: within one
    /// size and budget the points spread along the diagonal when the law tells the mixtures
    /// apart, and lie in a flat band when it does not.
    fn prediction_plot(&self, ui: &mut Ui, f: &Extrapolation, height: f32) {
        ui.label(format!(
            "predicted against measured, largest size (held out), coloured by mixture: MRE {:.2}%",
            100.0 * f.held_out_mre
        ));
        let (lo, hi) = f
            .held_out
            .iter()
            .flat_map(|h| [h.measured, h.predicted])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
        let mut groups: std::collections::BTreeMap<String, Vec<[f64; 2]>> = Default::default();
        for h in &f.held_out {
            groups.entry(mixture_label(&h.id)).or_default().push([h.measured, h.predicted]);
        }
        Plot::new("mixture-pred")
            .height(height)
            .legend(Legend::default())
            .data_aspect(1.0)
            .x_axis_label("measured")
            .y_axis_label("predicted")
            .show(ui, |p| {
                if lo.is_finite() {
                    p.line(Line::new("exact", PlotPoints::from(vec![[lo, lo], [hi, hi]])).color(egui::Color32::GRAY));
                }
                for (i, (label, pts)) in groups.into_iter().enumerate() {
                    p.points(Points::new(label, PlotPoints::from(pts)).color(colour(i)).radius(4.0));
                }
            });
    }

    /// The runs as JSON Lines, the `sigmix sweep` format.
    fn rows_jsonl(&self) -> sigmix::Result<String> {
        sigmix::sweep::jsonl(&self.rows, std::path::Path::new(&self.path))
    }

    fn export_rows(&self) -> sigmix::Result<String> {
        crate::lab::files::save(&self.export_dir, &self.preset, "jsonl", self.rows_jsonl()?.as_bytes())
    }

    fn export_fits(&self) -> sigmix::Result<String> {
        let json = serde_json::to_string_pretty(&self.fits)
            .map_err(|e| sigmix::Error::Config(format!("the fits did not serialise: {e}")))?;
        crate::lab::files::save(&self.export_dir, "fits", "json", json.as_bytes())
    }

    /// The sweep's figure: a PNG file natively, an SVG download in the page.
    fn export_plot(&self) -> sigmix::Result<String> {
        let title = format!("{} — {} runs, law fitted below the largest size", self.path, self.rows.len());
        let figure = crate::figure::Figure::from_fitted_runs(&self.rows, &self.fits, title, &self.target)?;
        #[cfg(not(target_arch = "wasm32"))]
        {
            let path = crate::lab::export_path(&self.export_dir, "sweep", "png")?;
            figure.write(&path, (1400, 1000))?;
            Ok(format!("saved {}", path.display()))
        }
        #[cfg(target_arch = "wasm32")]
        {
            let svg = figure
                .svg((1400, 1000))
                .map_err(|e| sigmix::Error::Config(format!("the sweep's figure could not be drawn: {e}")))?;
            crate::lab::files::save(&self.export_dir, "sweep", "svg", svg.as_bytes())
        }
    }

    fn plots(&mut self, ui: &mut Ui) {
        let half = (ui.available_height() / 2.0 - 20.0).max(150.0);
        let largest = self.rows.iter().map(|r| r.model_size).max().unwrap_or(0);
        let obs: Vec<(Observation, bool)> = self
            .rows
            .iter()
            .filter_map(|r| Some((observation(r, &self.target, ParamCount::NonEmbedding)?, r.model_size == largest)))
            .collect();
        let mut budgets: Vec<f64> = obs.iter().map(|(x, _)| x.d).collect();
        budgets.sort_by(f64::total_cmp);
        budgets.dedup();
        let fit = self.fits.iter().find(|f| f.target == self.target);
        let k = fit.map_or(1, |f| f.fit.domains.len().max(1));
        let law = fit.and_then(|f| mixture_law(&f.fit.law, f.fit.params.len()).ok());
        if self.showing_external {
            ui.label(format!("{}: law fitted below the largest N; pick a target on the left", self.external));
            if let Some(f) = fit {
                self.prediction_plot(ui, f, half);
            }
            return;
        }
        ui.label(format!(
            "{} against model size (log scale; rings: fitted sizes, discs: the held-out largest)",
            self.target
        ));
        Plot::new("mixture-runs")
            .legend(Legend::default())
            .height(half)
            .x_axis_label("N, non-embedding parameters (log scale)")
            .x_axis_formatter(|mark, _| count_label(10f64.powf(mark.value)))
            .y_axis_label("held-out loss")
            .show(ui, |p| {
                for (i, d) in budgets.iter().enumerate() {
                    let c = colour(i);
                    let pts: Vec<[f64; 2]> =
                        obs.iter().filter(|(x, _)| x.d == *d).map(|(x, _)| [x.n.log10(), x.loss]).collect();
                    p.points(Points::new(format!("D = {d:.0}"), PlotPoints::from(pts)).color(c).radius(3.0));
                    if let (Some(f), Some(law)) = (fit, &law) {
                        let theta = f.fit.theta();
                        let [lo, hi] = f.fit.n_range;
                        let hi = hi * 8.0;
                        let curve: Vec<[f64; 2]> = (0..=60)
                            .map(|j| {
                                let n = lo * (hi / lo).powf(j as f64 / 60.0);
                                let x = Observation { n, d: *d, h: vec![1.0 / k as f64; k], loss: 0.0 };
                                [n.log10(), law.predict(&theta, &x)]
                            })
                            .collect();
                        p.line(
                            Line::new(format!("law, D = {d:.0}, uniform mixture"), PlotPoints::from(curve)).color(c),
                        );
                    }
                }
            });
        if let Some(f) = fit {
            self.prediction_plot(ui, f, half);
        } else {
            ui.label("Run the sweep (or press Fit once three sizes are in) to fit the law.");
        }
    }
}

/// The size label of a run id (`w48l2` of `w48l2-s1600-m03`).
fn size_label(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

/// The mixture of a sweep run id (`mixture 3` of `w48l2-s1600-m03`, the uniform one named as
/// such); ids of other tables as they are.
fn mixture_label(id: &str) -> String {
    match id.rsplit('-').next().and_then(|m| m.strip_prefix('m')).and_then(|m| m.parse::<usize>().ok()) {
        Some(0) => "mixture 0 (uniform)".into(),
        Some(m) => format!("mixture {m}"),
        None => "held-out runs".into(),
    }
}

/// A parameter count as people read it on an axis, to two or three figures: 7K, 25K, 1.2M.
pub fn count_label(n: f64) -> String {
    let (v, unit) = match n.abs() {
        a if a >= 1e9 => (n / 1e9, "G"),
        a if a >= 1e6 => (n / 1e6, "M"),
        a if a >= 1e3 => (n / 1e3, "K"),
        _ => (n, ""),
    };
    let digits = if v.abs() >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") };
    format!("{}{unit}", digits.strip_suffix(".0").unwrap_or(&digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_counts_and_run_ids_read_as_people_write_them() {
        assert_eq!(count_label(6592.0), "6.6K");
        assert_eq!(count_label(25119.0), "25K");
        assert_eq!(count_label(1.0e5), "100K");
        assert_eq!(count_label(1.25e6), "1.2M");
        assert_eq!(count_label(3.0), "3");
        assert_eq!(size_label("w48l2-s1600-m03"), "w48l2");
        assert_eq!(mixture_label("w48l2-s1600-m03"), "mixture 3");
        assert_eq!(mixture_label("w48l2-s800-m00"), "mixture 0 (uniform)");
        assert_eq!(mixture_label("row 4"), "held-out runs");
    }
}
