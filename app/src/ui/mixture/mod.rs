//! The Mixture lab: run a sweep of small models, fit the mixture law on all but the largest
//! size, see its prediction of the largest, find the optimal mixture for a target domain, and
//! train that run to see the prediction hold or miss.

use egui::Ui;
use sigmix::DeviceChoice;
use sigmix::data::TextDomain;
use sigmix::laws::RunTable;
use sigmix::laws::{MixtureForm, OptimalMixture};
use sigmix::sweep::{Extrapolation, SWEEP_PRESETS, SweepPlan, SweepRow, parse_rows};

use crate::jobs::files::Dropped;
use crate::jobs::{Followed, Message, SweepJob, SweepMessage, SweepStore, TrainJob, follow};

mod controls;
mod exports;
mod optimum;
mod plots;

pub use plots::count_label;
use plots::size_label;

/// Commentary for each sweep preset.
const COMMENTARY: &[(&str, &str)] = &[
    (
        "classroom",
        "45 runs, about 8 minutes on a 2-core CPU: 5 widths (7K–100K parameters, a learning rate per width), the uniform mixture at 800/1600/3200 steps and 6 more mixtures at 1600. The law is fitted on the four smaller widths as each finishes and predicts the largest. Mixtures move each domain's loss by 0.05–0.24 nats; the joint law, in which a mixture matters less to a larger model, predicts the largest width within 0.6–1.1% on the mean loss and 1–2.4% per domain (3 seeds); the additive law misses the code loss by 2.2–2.6%. Single runs differ by 2–5% between seeds at 800–1600 steps, which bounds what any law can do here.",
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
            export_dir: crate::jobs::LAB_DIR.into(),
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
        format!("{}/{}{suffix}.jsonl", crate::jobs::LAB_DIR, self.preset)
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
        let text = match crate::jobs::files::read_kept(&self.path) {
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
            if let Err(e) = crate::jobs::files::keep_in_page(&self.path, text) {
                self.error = Some(e.to_string());
            }
            self.fits.clear();
            self.showing_external = false;
            self.error = None;
            self.notice = Some(format!("{}: {} runs of the `{}` sweep", file.name, self.rows.len(), self.preset));
            // Natively a drop brings bytes, not a path: Run trains into the panel's own file.
            #[cfg(not(target_arch = "wasm32"))]
            if let Some(n) = self.notice.as_mut() {
                n.push_str(&format!(" (shown, not resumed: Run trains into {})", self.path));
            }
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
                        if let Err(e) = crate::jobs::files::keep_rows_in_page(&self.path, &self.rows) {
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
}
