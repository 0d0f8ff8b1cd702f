//! The Mixture lab: run a sweep of small models, fit the mixture law on all but the largest
//! size, see its prediction of the largest, find the optimal mixture for a target domain, and
//! train that run to see the prediction hold or miss.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::DeviceChoice;
use sigmix::data::TextDomain;
use sigmix::laws::RunTable;
use sigmix::laws::{Law, MixOptions, MixTarget, MixtureAdditive, Observation, OptimalMixture, optimal_mixture};
use sigmix::sweep::{
    Extrapolation, ParamCount, SWEEP_PRESETS, SweepPlan, SweepRow, observation, parse_rows, sweep_targets,
};
use sigmix::train::RunConfig;

use crate::lab::files::Dropped;
use crate::lab::{Followed, Message, SweepJob, SweepMessage, SweepStore, TrainJob, follow};
use crate::ui::widgets::colour;

/// Commentary for each sweep preset.
const COMMENTARY: &[(&str, &str)] = &[
    (
        "classroom",
        "96 runs: 4 widths × 3 token budgets × 8 mixtures, about 6 minutes on a 2-core CPU. The law is fitted on the three smaller widths and predicts the largest. On the public 122M–937M runs the same law extrapolates within ~1%; here the models are far from convergence and the prediction misses by ~5%: larger models gain more per token early in training than a law with separate N and D terms allows.",
    ),
    ("smoke", "27 runs of 1-layer models in seconds: for trying the buttons. Too small for a meaningful fit."),
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
        self.planned = self.plan().and_then(|p| p.runs()).map_or(0, |r| r.len());
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
        self.fit_job = Some(SweepJob::fit(self.rows.clone(), move || ctx.request_repaint()));
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
            self.planned = self.plan().and_then(|p| p.runs()).map_or(0, |r| r.len());
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
        let mut finished = false;
        if let Some(job) = &self.job {
            for m in job.drain() {
                match follow(m, &mut self.rows, &mut self.planned, &mut self.current) {
                    // Natively the runner has appended it to the file already.
                    #[cfg(target_arch = "wasm32")]
                    Followed::RowAdded => {
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
        if finished {
            self.job = None;
            self.current = None;
            if self.rows.len() == self.planned && self.error.is_none() {
                self.fit(ctx);
            }
        }
        if let Some(job) = &self.fit_job {
            for m in job.drain() {
                match m {
                    SweepMessage::Fitted(f) => self.fits = f,
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
                .on_hover_text("Fit the additive mixture law on every size but the largest")
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
        if !self.fits.is_empty() {
            ui.separator();
            ui.label("Law fitted below the largest size:");
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

    /// The optimal mixture for the target at the largest size and budget, and its check.
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
        let law = MixtureAdditive { k: fit.fit.domains.len().max(1) };
        let target = [MixTarget { law: &law, theta: fit.fit.theta(), weight: 1.0 }];
        let opts = MixOptions { floor: 0.02, starts: 2, ..Default::default() };
        let best = optimal_mixture(&target, n as f64, d as f64, &opts).ok()?;
        self.optimum_cache = Some((key, best.clone()));
        Some(best)
    }

    fn optimum_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.separator();
        ui.heading("Optimal mixture");
        let Some(n) = self.rows.iter().map(|r| r.non_embedding_params).max() else { return };
        let Some(d) = self.rows.iter().map(|r| r.n_tokens).max() else { return };
        let Some(best) = self.optimum(n, d) else { return };
        ui.label(format!("for {} at N = {n}, D = {d} (each weight ≥ 0.02):", self.target));
        for (dom, w) in self.domains().iter().zip(&best.weights) {
            ui.add(egui::ProgressBar::new(*w as f32).text(format!("{dom} {w:.2}")));
        }
        ui.label(format!("predicted {:.3} nats (uniform mixture: {:.3})", best.objective, best.uniform_objective));
        let running = self.verify.as_ref().is_some_and(|_| self.verify_result.is_some_and(|(_, m)| m.is_nan()));
        if ui
            .add_enabled(!running && !self.running(), egui::Button::new("Train this run"))
            .on_hover_text(
                "Train the largest model at this mixture and largest budget, and compare with the prediction",
            )
            .clicked()
            && let Ok(plan) = self.plan()
            && let Some(base) = plan.runs().ok().and_then(|r| r.last().map(|l| l.config.clone()))
        {
            let cfg = RunConfig { name: "predicted-optimum".into(), mixture: best.weights.clone(), ..base };
            let ctx = ctx.clone();
            self.verify_result = Some((best.objective, f64::NAN));
            let texts = self.texts.clone();
            self.verify = Some(TrainJob::start(self.device, cfg, texts, true, move || ctx.request_repaint()));
        }
        match self.verify_result {
            Some((p, m)) if m.is_nan() => {
                ui.label(format!("training… (predicted {p:.3})"));
            }
            Some((p, m)) => {
                ui.label(format!(
                    "predicted {p:.3}, measured {m:.3}: {:+.1}% — the prediction {}",
                    100.0 * (p - m) / m,
                    if ((p - m) / m).abs() < 0.03 { "holds" } else { "misses" }
                ));
            }
            None => {}
        }
    }

    fn prediction_plot(&self, ui: &mut Ui, f: &Extrapolation, height: f32) {
        ui.label(format!("predicted against measured, largest size (held out): MRE {:.2}%", 100.0 * f.held_out_mre));
        let pts: Vec<[f64; 2]> = f.held_out.iter().map(|h| [h.measured, h.predicted]).collect();
        let (lo, hi) =
            pts.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
        Plot::new("mixture-pred")
            .height(height)
            .data_aspect(1.0)
            .x_axis_label("measured")
            .y_axis_label("predicted")
            .show(ui, |p| {
                if lo.is_finite() {
                    p.line(Line::new("exact", PlotPoints::from(vec![[lo, lo], [hi, hi]])).color(egui::Color32::GRAY));
                }
                p.points(Points::new("held-out runs", PlotPoints::from(pts)).color(egui::Color32::RED).radius(4.0));
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
            .x_axis_label("log10 N (non-embedding parameters)")
            .y_axis_label("held-out loss")
            .show(ui, |p| {
                for (i, d) in budgets.iter().enumerate() {
                    let c = colour(i);
                    let pts: Vec<[f64; 2]> =
                        obs.iter().filter(|(x, _)| x.d == *d).map(|(x, _)| [x.n.log10(), x.loss]).collect();
                    p.points(Points::new(format!("D = {d:.0}"), PlotPoints::from(pts)).color(c).radius(3.0));
                    if let Some(f) = fit {
                        let law = MixtureAdditive { k };
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
