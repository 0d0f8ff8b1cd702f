//! The Train panel: pick a model and a mixture, press Play, watch the loss fall per domain and
//! read what the model writes.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::DeviceChoice;
use sigmix::data::{DOMAINS, TextDomain};
use sigmix::nn::AttentionKind;
use sigmix::train::{EvalPoint, RunConfig};

use crate::jobs::{Command, Message, TrainJob};
use crate::ui::widgets::{colour, normalised, simplex_sliders};

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Nothing started (or reset).
    Idle,
    /// Training.
    Running,
    /// Paused between steps.
    Paused,
    /// All steps done.
    Finished,
    /// Stopped by an error (shown in the panel).
    Failed,
}

/// The panel's state.
pub struct TrainPanel {
    /// The preset the settings came from.
    pub preset: String,
    /// The settings of the next run.
    pub config: RunConfig,
    /// Where to train.
    pub device: DeviceChoice,
    job: Option<TrainJob>,
    /// Where the current run stands.
    pub status: Status,
    /// Training loss per read-back step.
    pub curve: Vec<[f64; 2]>,
    /// Held-out evaluations.
    pub evals: Vec<EvalPoint>,
    domains: Vec<String>,
    pub(crate) device_label: String,
    pub(crate) params: usize,
    unigram_entropy: f64,
    pub(crate) tokens_per_sec: f64,
    pub(crate) steps_done: usize,
    sample: String,
    /// MoE runs: per layer, each expert's share of the routed slots (last logged steps).
    pub expert_load: Vec<Vec<f64>>,
    /// The model's attention inputs at its last evaluation or pause.
    pub attention: Option<crate::jobs::TrainedAttention>,
    /// The last error, shown until the next run.
    pub error: Option<String>,
    notice: Option<String>,
    /// Folder for exports.
    pub export_dir: std::path::PathBuf,
    /// The user's text domains, trained on after the built-in ones.
    texts: Vec<TextDomain>,
}

/// Presets offered in the panel: (name, commentary shown under it).
pub const TRAIN_PRESETS: &[(&str, &str)] = &[
    (
        "smoke",
        "A 1-layer model for 60 steps: a few seconds anywhere. Watch the loss leave ln 256 ≈ 5.5 (uniform over bytes) and pass the unigram entropy: the model has learnt which bytes are common, then which follow which.",
    ),
    (
        "tiny",
        "≈120K parameters, 300 steps: about 5 s on a laptop CPU. Records and code fall fastest (rigid structure); prose stays highest (a Markov chain over a Zipf vocabulary has real entropy). Move the mixture sliders and rerun: a domain's loss follows its weight.",
    ),
    (
        "small",
        "≈0.8M parameters, 1000 steps: wants a real GPU or a minute of CPU. The generated text starts to look like the domains.",
    ),
];

impl TrainPanel {
    /// A panel with the `tiny` preset loaded.
    pub fn new(device: DeviceChoice) -> TrainPanel {
        TrainPanel {
            preset: "tiny".into(),
            config: RunConfig::preset("tiny").unwrap_or_default(),
            device,
            job: None,
            status: Status::Idle,
            curve: Vec::new(),
            evals: Vec::new(),
            domains: DOMAINS.iter().map(|d| d.name().to_string()).collect(),
            device_label: String::new(),
            params: 0,
            unigram_entropy: f64::NAN,
            tokens_per_sec: 0.0,
            steps_done: 0,
            sample: String::new(),
            expert_load: Vec::new(),
            attention: None,
            error: None,
            notice: None,
            export_dir: crate::jobs::LAB_DIR.into(),
            texts: Vec::new(),
        }
    }

    /// Trains on `texts` too from the next run on: each is a domain after the built-in ones
    /// (weight: the mean of the others, so it gets a fair share).
    pub fn set_texts(&mut self, texts: &[TextDomain]) {
        let builtin = DOMAINS.len().min(self.config.mixture.len());
        let mean = self.config.mixture[..builtin].iter().sum::<f64>() / builtin.max(1) as f64;
        let kept: Vec<(String, f64)> = self
            .config
            .texts
            .iter()
            .map(|t| t.name.clone())
            .zip(self.config.mixture[builtin..].iter().copied())
            .collect();
        self.config.remove_texts();
        for t in texts {
            let w = kept.iter().find(|(n, _)| n == t.name()).map_or(mean, |(_, w)| *w);
            self.config.add_texts(std::slice::from_ref(t), w);
        }
        self.config.mixture = normalised(&self.config.mixture);
        self.texts = texts.to_vec();
        self.domains = self.config.domain_names();
    }

    /// Loads preset `name` (stopping any run).
    pub fn load_preset(&mut self, name: &str) {
        if let Ok(cfg) = RunConfig::preset(name) {
            self.reset();
            self.preset = name.into();
            self.config = cfg;
            let texts = std::mem::take(&mut self.texts);
            self.set_texts(&texts);
        }
    }

    /// Starts or continues the run.
    pub fn play(&mut self, ctx: &egui::Context) {
        match (&self.job, self.status) {
            (Some(job), Status::Paused | Status::Running) => {
                job.send(Command::Play);
                self.status = Status::Running;
            }
            _ => self.start(ctx, true),
        }
    }

    /// Takes one step (starting a paused run if none exists).
    pub fn step(&mut self, ctx: &egui::Context) {
        if self.job.is_none() || matches!(self.status, Status::Finished | Status::Failed | Status::Idle) {
            self.start(ctx, false);
        }
        if let Some(job) = &self.job {
            job.send(Command::Step);
            self.status = Status::Paused;
        }
    }

    /// Pauses after the current step.
    pub fn pause(&mut self) {
        if let Some(job) = &self.job {
            job.send(Command::Pause);
            self.status = Status::Paused;
        }
    }

    /// Stops the run and clears the curves.
    pub fn reset(&mut self) {
        self.job = None;
        self.status = Status::Idle;
        self.curve.clear();
        self.evals.clear();
        self.sample.clear();
        self.expert_load.clear();
        self.attention = None;
        self.steps_done = 0;
        self.tokens_per_sec = 0.0;
        self.error = None;
    }

    fn start(&mut self, ctx: &egui::Context, playing: bool) {
        self.reset();
        self.config.mixture = normalised(&self.config.mixture);
        if let Err(e) = self.config.validate() {
            self.error = Some(e.to_string());
            self.status = Status::Failed;
            return;
        }
        let ctx = ctx.clone();
        let (cfg, texts) = (self.config.clone(), self.texts.clone());
        self.job = Some(TrainJob::start(self.device, cfg, texts, playing, move || ctx.request_repaint()));
        self.status = if playing { Status::Running } else { Status::Paused };
    }

    /// Applies what the worker reported.
    pub fn poll(&mut self) {
        let Some(job) = &self.job else { return };
        for m in job.drain() {
            match m {
                Message::Started { device, params, unigram_entropy, domains } => {
                    self.device_label = device;
                    self.params = params;
                    self.unigram_entropy = unigram_entropy;
                    self.domains = domains;
                }
                Message::Step(s) => {
                    self.steps_done = s.step;
                    self.tokens_per_sec = s.tokens_per_sec;
                    if let Some(l) = s.loss {
                        self.curve.push([s.step as f64, l as f64]);
                    }
                }
                Message::Eval(e) => {
                    if self.evals.last().is_none_or(|l| l.step != e.step) {
                        self.evals.push(e);
                    }
                }
                Message::Sample(s) => self.sample = s,
                Message::ExpertLoad(l) => self.expert_load = l,
                Message::Attention(a) => self.attention = Some(*a),
                Message::Finished(_) => self.status = Status::Finished,
                Message::Failed(e) => {
                    self.error = Some(e);
                    self.status = Status::Failed;
                }
            }
        }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut Ui) {
        self.poll();
        let ctx = ui.ctx().clone();
        egui::Panel::left("train-settings").default_size(300.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.settings(ui, &ctx));
        });
        egui::CentralPanel::default().show(ui, |ui| self.results(ui));
    }

    fn settings(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.heading("Model and data");
        let mut preset = self.preset.clone();
        egui::ComboBox::from_label("preset")
            .selected_text(&preset)
            .show_ui(ui, |ui| {
                for (name, _) in TRAIN_PRESETS {
                    ui.selectable_value(&mut preset, name.to_string(), *name);
                }
            })
            .response
            .on_hover_text("Load a preset: model size, steps, batch and learning rate");
        if preset != self.preset {
            self.load_preset(&preset);
        }
        if let Some((_, what)) = TRAIN_PRESETS.iter().find(|(n, _)| *n == self.preset) {
            ui.label(egui::RichText::new(*what).small());
        }
        ui.separator();
        let idle = self.job.is_none() || matches!(self.status, Status::Idle | Status::Finished | Status::Failed);
        ui.add_enabled_ui(idle, |ui| {
            let m = &mut self.config.model;
            ui.add(egui::Slider::new(&mut m.d_model, 16..=256).step_by(16.0).text("width"))
                .on_hover_text("Model width C (a multiple of 16; heads are C/16 wide or more)");
            m.n_heads = (m.d_model / 16).clamp(1, 8);
            while !m.d_model.is_multiple_of(m.n_heads) {
                m.n_heads -= 1;
            }
            ui.add(egui::Slider::new(&mut m.n_layers, 1..=8).text("layers")).on_hover_text("Transformer blocks");
            ui.add(egui::Slider::new(&mut m.context, 16..=256).step_by(16.0).text("context"))
                .on_hover_text("Tokens (bytes) each sequence sees");
            egui::ComboBox::from_label("attention")
                .selected_text(format!("{:?}", m.attention).to_lowercase())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut m.attention, AttentionKind::Softmax, "softmax")
                        .on_hover_text("Flash softmax attention (FlashAttention-2 algorithm in WGSL)");
                    ui.selectable_value(&mut m.attention, AttentionKind::Sigmoid, "sigmoid")
                        .on_hover_text("Flash sigmoid attention: σ(QK^T/√d − ln n), no row normalisation");
                    ui.selectable_value(&mut m.attention, AttentionKind::Naive, "naive")
                        .on_hover_text("The materialised reference path (slow; for checking)");
                })
                .response
                .on_hover_text("How attention is computed");
            ui.checkbox(&mut m.qk_norm, "QK-norm")
                .on_hover_text("LayerNorm on each head's q and k (stabilises sigmoid attention)");
            ui.horizontal(|ui| {
                ui.label("FFN: dense");
                ui.label(egui::RichText::new("(MoE: see the MoE tab)").weak())
                    .on_hover_text("Mixture-of-experts models train in the MoE tab, with their expert load");
            });
            ui.separator();
            ui.add(egui::Slider::new(&mut self.config.steps, 10..=3000).logarithmic(true).text("steps"))
                .on_hover_text("Optimiser steps");
            ui.add(egui::Slider::new(&mut self.config.batch, 1..=64).text("batch")).on_hover_text("Sequences per step");
            ui.add(
                egui::Slider::new(&mut self.config.schedule.lr, 1e-4..=3e-2).logarithmic(true).text("learning rate"),
            )
            .on_hover_text("Peak learning rate (linear warmup, cosine decay to 10%)");
            ui.add(egui::DragValue::new(&mut self.config.seed).prefix("seed ")).on_hover_text(
                "Data, initialisation and sampling all follow this seed: the same seed gives the same run",
            );
            ui.separator();
            ui.label("Mixture");
            simplex_sliders(ui, &self.domains.clone(), &mut self.config.mixture);
        });
        ui.separator();
        self.run_controls(ui, ctx);
        ui.horizontal(|ui| {
            if ui
                .button("Save curves CSV")
                .on_hover_text("Write the training and evaluation curves to sigmix-lab/")
                .clicked()
            {
                self.notice = Some(self.export_curves().unwrap_or_else(|e| e.to_string()));
            }
            if ui
                .button("Save config JSON")
                .on_hover_text("Write this run's configuration (usable with `sigmix train --config`)")
                .clicked()
            {
                self.notice = Some(self.export_config().unwrap_or_else(|e| e.to_string()));
            }
        });
        if let Some(n) = &self.notice {
            ui.label(egui::RichText::new(n).small());
        }
    }

    /// Play / Pause / Step / Reset for this panel's run (the MoE panel uses them too).
    pub(crate) fn run_controls(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.horizontal(|ui| {
            let running = self.status == Status::Running;
            let play = ui.add_enabled(!running, egui::Button::new("Play")).on_hover_text("Train continuously");
            crate::jobs::targets::mark(ui, "Play", &play);
            if play.clicked() {
                self.play(ctx);
            }
            if ui
                .add_enabled(running, egui::Button::new("Pause"))
                .on_hover_text("Pause after this step, evaluate and sample")
                .clicked()
            {
                self.pause();
            }
            if ui.add_enabled(!running, egui::Button::new("Step")).on_hover_text("Take exactly one step").clicked() {
                self.step(ctx);
            }
            if ui.button("Reset").on_hover_text("Stop and clear the curves (settings stay)").clicked() {
                self.reset();
            }
        });
    }

    fn results(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(format!("{:?}", self.status));
            ui.separator();
            ui.label(format!("step {} / {}", self.steps_done, self.config.steps));
            ui.separator();
            if self.status == Status::Running && self.steps_done == 0 {
                // The first step waits for the device's kernels to compile: seconds on a
                // software adapter, and nothing to show for them yet.
                ui.spinner();
                ui.label("first step: compiling the kernels for this device");
            } else {
                ui.label(format!("{:.0} tokens/s", self.tokens_per_sec))
                    .on_hover_text("Training tokens per second after the first step (which compiles the kernels)");
            }
            ui.separator();
            if self.params > 0 {
                ui.label(format!("{} parameters", self.params));
                ui.separator();
            }
            ui.label(if self.device_label.is_empty() {
                "device: chosen at Play".into()
            } else {
                format!("device: {}", self.device_label)
            });
        });
        if let Some(e) = &self.error {
            ui.colored_label(egui::Color32::RED, e);
        }
        let evals = &self.evals;
        let domains = &self.domains;
        let curve = &self.curve;
        let unigram = self.unigram_entropy;
        let steps = self.config.steps as f64;
        Plot::new("train-loss")
            .legend(Legend::default())
            .height((ui.available_height() - 150.0).max(200.0))
            .x_axis_label("step")
            .y_axis_label("loss (nats/byte)")
            .include_x(0.0)
            .include_x(steps)
            // 0 to ln 256, the loss of a uniform guess over the bytes, where training starts.
            .include_y(0.0)
            .include_y(256f64.ln())
            .show(ui, |p| {
                p.line(Line::new("train", PlotPoints::from(curve.clone())).color(egui::Color32::GRAY));
                for (i, d) in domains.iter().enumerate() {
                    let pts: Vec<[f64; 2]> =
                        evals.iter().filter_map(|e| e.per_domain.get(i).map(|l| [e.step as f64, *l as f64])).collect();
                    let name = format!("{d} (held out)");
                    p.line(Line::new(name.clone(), PlotPoints::from(pts.clone())).color(colour(i)).width(2.0));
                    p.points(Points::new(name, PlotPoints::from(pts)).color(colour(i)).radius(4.0));
                }
                if unigram.is_finite() {
                    p.line(
                        Line::new("unigram entropy", PlotPoints::from(vec![[0.0, unigram], [steps, unigram]]))
                            .color(egui::Color32::DARK_GRAY)
                            .style(egui_plot::LineStyle::dashed_dense()),
                    );
                }
            });
        ui.label("The model writes (temperature 0.8):");
        egui::ScrollArea::vertical().max_height(110.0).show(ui, |ui| {
            ui.monospace(if self.sample.is_empty() {
                "(text appears at each evaluation and on pause)"
            } else {
                &self.sample
            });
        });
    }

    fn export_curves(&self) -> sigmix::Result<String> {
        let mut csv = String::from("kind,step,domain,loss\n");
        for [s, l] in &self.curve {
            csv.push_str(&format!("train,{s},,{l}\n"));
        }
        for e in &self.evals {
            for (d, l) in self.domains.iter().zip(&e.per_domain) {
                csv.push_str(&format!("eval,{},{d},{l}\n", e.step));
            }
        }
        crate::jobs::files::save(&self.export_dir, "curves", "csv", csv.as_bytes())
    }

    fn export_config(&self) -> sigmix::Result<String> {
        let json = serde_json::to_string_pretty(&self.config)
            .map_err(|e| sigmix::Error::Config(format!("the configuration did not serialise: {e}")))?;
        crate::jobs::files::save(&self.export_dir, "config", "json", json.as_bytes())
    }
}
