//! The BYOL · EMA rule panel: BYOL at a base batch and at κ times it over the same samples,
//! with the EMA scaling rule (ρ → ρ^κ) and without it; the loss and both encoders' probe
//! accuracy against samples seen, a colour per κ, the rule solid and ρ fixed dashed, so a
//! user sees the rule's curves fall on the base run's and the others drift.

use std::path::PathBuf;

use egui::Ui;
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoints};
use sigmix::DeviceChoice;
use sigmix::selfsup::ema_rule::{EmaRuleConfig, EmaRuleRecord, EmaRuleRun, Probed, curves_csv, spread};

use crate::jobs::{ByolJob, ByolMessage};
use crate::ui::widgets::{RunButton, colour, start_or_stop};

/// The batch multipliers offered (1, the reference, always runs; Adam's rule 1 − β̂ = κ(1 − β)
/// stops below κ = 10 at β1 = 0.9).
pub const KAPPA_CHOICES: [usize; 3] = [2, 4, 8];

/// One run's curves, against samples seen.
#[derive(Clone, Debug, Default)]
pub struct RunCurves {
    /// (samples seen, mean loss).
    pub loss: Vec<[f64; 2]>,
    /// (samples seen, online probe accuracy).
    pub online: Vec<[f64; 2]>,
    /// (samples seen, target probe accuracy).
    pub target: Vec<[f64; 2]>,
    /// Steps done.
    pub steps: usize,
}

/// The panel's state.
pub struct ByolPanel {
    /// Where runs train.
    pub device: DeviceChoice,
    /// The experiment (its base run and κ values).
    pub config: EmaRuleConfig,
    /// Which of `KAPPA_CHOICES` to run.
    pub kappas: [bool; 3],
    /// The plan of the last Play.
    pub plan: Vec<EmaRuleRun>,
    /// Curves per planned run.
    pub curves: Vec<RunCurves>,
    /// Finished runs.
    pub records: Vec<EmaRuleRecord>,
    /// The running job.
    pub job: Option<ByolJob>,
    /// Device of the last job.
    pub device_label: String,
    /// The last error or export message.
    pub message: Option<String>,
    /// Folder for exports.
    pub export_dir: PathBuf,
}

impl ByolPanel {
    /// The preset's experiment: κ = 1, 2, 4, 8.
    pub fn new(device: DeviceChoice) -> ByolPanel {
        ByolPanel {
            device,
            config: EmaRuleConfig::default(),
            kappas: [true; 3],
            plan: Vec::new(),
            curves: Vec::new(),
            records: Vec::new(),
            job: None,
            device_label: String::new(),
            message: None,
            export_dir: crate::jobs::LAB_DIR.into(),
        }
    }

    /// Whether a job is running.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The experiment a Play starts: the ticked κ values.
    pub fn run_config(&self) -> EmaRuleConfig {
        let mut kappas = vec![1];
        kappas.extend(KAPPA_CHOICES.iter().zip(self.kappas).filter(|(_, on)| *on).map(|(k, _)| *k));
        EmaRuleConfig { kappas, ..self.config.clone() }
    }

    /// Starts the runs (clearing the last results), or says why they cannot start.
    pub fn play(&mut self, ctx: &egui::Context) {
        let cfg = self.run_config();
        match cfg.plan() {
            Ok(plan) => {
                self.curves = vec![RunCurves::default(); plan.len()];
                self.plan = plan;
                self.records.clear();
                self.message = None;
                let ctx = ctx.clone();
                self.job = Some(ByolJob::start(self.device, cfg, move || ctx.request_repaint()));
            }
            Err(e) => self.message = Some(e.to_string()),
        }
    }

    /// Applies the job's messages.
    pub fn poll(&mut self) {
        let Some(job) = &self.job else { return };
        let mut done = false;
        for m in job.drain() {
            match m {
                ByolMessage::Started(d) => self.device_label = d,
                ByolMessage::Step { run, step, loss } => {
                    let batch = self.plan.get(run).map_or(0, |r| r.config.samples);
                    if let Some(c) = self.curves.get_mut(run) {
                        c.steps = step;
                        if let Some(l) = loss {
                            c.loss.push([(step * batch) as f64, l as f64]);
                        }
                    }
                }
                ByolMessage::Probe { run, step, online, target } => {
                    let batch = self.plan.get(run).map_or(0, |r| r.config.samples);
                    if let Some(c) = self.curves.get_mut(run) {
                        let seen = (step * batch) as f64;
                        c.online.push([seen, online]);
                        c.target.push([seen, target]);
                    }
                }
                ByolMessage::Finished(r) => self.records.push(*r),
                ByolMessage::Failed(e) => self.message = Some(e),
                ByolMessage::Done => done = true,
            }
        }
        if done {
            self.job = None;
        }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut Ui) {
        self.poll();
        let ctx = ui.ctx().clone();
        egui::Panel::left("byol-settings").default_size(300.0).show(ui, |ui| self.settings(ui, &ctx));
        egui::CentralPanel::default().show(ui, |ui| self.results(ui));
    }

    fn settings(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.heading("BYOL · the EMA scaling rule");
        ui.label(
            "BYOL learns without negatives: an online encoder and predictor regress onto a target \
             encoder that is the EMA of the online one. Scale the batch by κ over the same samples \
             and the target takes κ times fewer steps: the rule keeps its memory in samples by \
             raising ρ to ρ^κ (learning rate and Adam's betas by the square-root rule [I]).",
        );
        let idle = !self.running();
        let base = &mut self.config.base;
        ui.add_enabled_ui(idle, |ui| {
            ui.add(egui::Slider::new(&mut base.samples, 4..=128).text("base batch B"))
                .on_hover_text("Samples per step at κ = 1 (two views each)");
            ui.add(egui::Slider::new(&mut base.steps, 160..=6400).step_by(160.0).text("base steps")).on_hover_text(
                "Steps at κ = 1 (multiples of 160, so every κ divides them); each run sees base steps × B samples",
            );
            ui.add(egui::Slider::new(&mut base.ema_decay, 0.9..=0.9995).text("target decay ρ"))
                .on_hover_text("At κ = 1; the rule's runs use ρ^κ, the fixed runs keep ρ");
            ui.add(egui::Slider::new(&mut base.schedule.lr, 1e-4..=5e-3).logarithmic(true).text("base lr"))
                .on_hover_text("At κ = 1; κ·B runs take √κ times it");
            ui.horizontal(|ui| {
                ui.label("κ: 1");
                for (k, on) in KAPPA_CHOICES.iter().zip(self.kappas.iter_mut()) {
                    ui.checkbox(on, k.to_string()).on_hover_text(format!("Batch {k}·B for base steps / {k} steps"));
                }
            });
            ui.add(egui::DragValue::new(&mut base.seed).prefix("seed "))
                .on_hover_text("Seed of the images, views and weights (the same for every run)");
        });
        ui.horizontal(|ui| {
            let tip = "Run κ = 1, then each κ with the rule and with ρ fixed";
            match start_or_stop(ui, idle, "Play", tip, "Stop before the next step") {
                RunButton::Start => self.play(ctx),
                RunButton::Stop => {
                    if let Some(j) = &self.job {
                        j.stop();
                    }
                }
                RunButton::Nothing => {}
            }
            if ui
                .add_enabled(!self.records.is_empty(), egui::Button::new("Export CSV"))
                .on_hover_text("Every finished run's loss and probe curves against samples seen")
                .clicked()
            {
                let saved =
                    crate::jobs::files::save(&self.export_dir, "ema-rule", "csv", curves_csv(&self.records).as_bytes());
                self.message = Some(saved.unwrap_or_else(|e| e.to_string()));
            }
        });
        if let Some(m) = &self.message {
            ui.label(m);
        }
        if self.running()
            && let Some((i, run)) = self.plan.iter().enumerate().find(|(i, _)| *i >= self.records.len())
        {
            let done = self.curves.get(i).map_or(0, |c| c.steps);
            let total = run.config.steps.max(1);
            ui.add(egui::ProgressBar::new(done as f32 / total as f32).text(format!(
                "run {}/{}: {}, step {done}/{total}",
                i + 1,
                self.plan.len(),
                run_name(run)
            )));
        }
        if !self.records.is_empty() {
            ui.separator();
            ui.label("final probe accuracy (online / target):");
            for r in &self.records {
                ui.label(format!(
                    "{}: {:.1}% / {:.1}%",
                    run_name(&r.run),
                    100.0 * r.final_accuracy(Probed::Online),
                    100.0 * r.final_accuracy(Probed::Target)
                ));
            }
            let show = |s: Option<f64>| s.map_or("–".to_string(), |v| format!("{:.1} points", 100.0 * v));
            for (which, name) in [(Probed::Online, "online"), (Probed::Target, "target")] {
                ui.label(format!(
                    "spread over κ ({name}): rule {}, ρ fixed {}",
                    show(spread(&self.records, true, which)),
                    show(spread(&self.records, false, which))
                ));
            }
        }
    }

    fn results(&mut self, ui: &mut Ui) {
        let device = if self.device_label.is_empty() { "device chosen at Play" } else { &self.device_label };
        ui.label(format!(
            "{} samples seen by every run · colour: κ · solid: the rule (ρ^κ) · dashed: ρ fixed · {device}",
            self.config.base.samples * self.config.base.steps
        ));
        let third = (ui.available_height() / 3.0 - 16.0).max(120.0);
        let end = (self.config.base.samples * self.config.base.steps) as f64;
        self.plot(ui, "byol-loss", "BYOL loss (log scale)", third, end, |c| &c.loss, false);
        self.plot(ui, "byol-target", "probe accuracy: target (EMA) encoder", third, end, |c| &c.target, true);
        self.plot(ui, "byol-online", "probe accuracy: online encoder", third, end, |c| &c.online, true);
    }

    /// One quantity of every run against samples seen: the loss on a log scale (the arms end
    /// a few times apart), accuracies on a range around the probes' (40–50%).
    #[allow(clippy::too_many_arguments)]
    fn plot(
        &self,
        ui: &mut Ui,
        id: &str,
        y_label: &str,
        height: f32,
        end: f64,
        values: fn(&RunCurves) -> &Vec<[f64; 2]>,
        accuracy: bool,
    ) {
        let mut plot = Plot::new(id)
            .legend(Legend::default())
            .height(height)
            .x_axis_label("samples seen")
            .y_axis_label(y_label)
            .include_x(0.0)
            .include_x(end);
        plot = if accuracy {
            plot.include_y(0.4).include_y(0.5)
        } else {
            plot.y_axis_formatter(|mark, _| format!("{:.3}", 10f64.powf(mark.value)))
        };
        plot.show(ui, |p| {
            for (run, c) in self.plan.iter().zip(&self.curves) {
                let style = if run.rule { LineStyle::Solid } else { LineStyle::dashed_loose() };
                let points: Vec<[f64; 2]> = if accuracy {
                    values(c).clone()
                } else {
                    values(c).iter().map(|[x, y]| [*x, y.max(1e-6).log10()]).collect()
                };
                let line = Line::new(run_name(run), PlotPoints::from(points))
                    .color(colour(run.kappa.trailing_zeros() as usize))
                    .style(style);
                p.line(line);
            }
        });
    }
}

/// "κ=1", "κ=4 rule", "κ=4 ρ fixed".
fn run_name(run: &EmaRuleRun) -> String {
    match (run.kappa, run.rule) {
        (1, _) => "κ=1".to_string(),
        (k, true) => format!("κ={k} rule"),
        (k, false) => format!("κ={k} ρ fixed"),
    }
}
