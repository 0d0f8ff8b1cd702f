//! The Test-time adaptation panel: train a classifier on clean shapes, then stream corrupted
//! ones through it and watch each method's accuracy along the stream as it adapts (Tent
//! collapsing one sample at a time, REALM holding), with severity, batch and corruption
//! controls and a few corrupted samples shown.

use std::path::PathBuf;

use egui::{ColorImage, TextureHandle, TextureOptions, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};
use sigmix::DeviceChoice;
use sigmix::data::{Corruption, MAX_SEVERITY, SHAPE_CLASSES, ShapeImages, corrupt};
use sigmix::tta::{TtaConfig, TtaEvent, TtaMethod, TtaRecord, curves_csv};

use crate::jobs::{TtaJob, TtaMessage};
use crate::ui::widgets::{RunButton, colour, start_or_stop};

/// The test batch sizes offered.
pub const BATCH_CHOICES: [usize; 3] = [1, 8, 64];

/// One method's curve along the stream.
#[derive(Clone, Debug)]
pub struct Series {
    /// The method.
    pub method: TtaMethod,
    /// (samples seen, accuracy over the last window).
    pub accuracy: Vec<[f64; 2]>,
    /// (samples seen, share of the window's predictions on its most predicted class).
    pub top_share: Vec<[f64; 2]>,
}

/// The panel's state.
pub struct TtaPanel {
    /// Where runs train.
    pub device: DeviceChoice,
    /// The experiment's settings (one severity and one batch size per run here).
    pub config: TtaConfig,
    /// The severity streamed.
    pub severity: usize,
    /// The test batch size.
    pub batch: usize,
    /// Which of `TtaMethod::ALL` to run.
    pub compare: [bool; 4],
    /// Source training progress (steps done).
    pub source_steps: usize,
    /// The source model's clean accuracy, once trained.
    pub clean_accuracy: Option<f64>,
    /// Curves per method, in run order.
    pub series: Vec<Series>,
    /// The finished experiment.
    pub record: Option<TtaRecord>,
    /// The running job.
    pub job: Option<TtaJob>,
    /// Device of the last job.
    pub device_label: String,
    /// The last error or export message.
    pub message: Option<String>,
    /// Folder for exports.
    pub export_dir: PathBuf,
    samples: Option<((Corruption, usize), Vec<TextureHandle>)>,
}

impl TtaPanel {
    /// The preset's settings, streaming the strongest corruption one sample at a time.
    pub fn new(device: DeviceChoice) -> TtaPanel {
        TtaPanel {
            device,
            config: TtaConfig::default(),
            severity: MAX_SEVERITY,
            batch: 1,
            compare: [true; 4],
            source_steps: 0,
            clean_accuracy: None,
            series: Vec::new(),
            record: None,
            job: None,
            device_label: String::new(),
            message: None,
            export_dir: crate::jobs::LAB_DIR.into(),
            samples: None,
        }
    }

    /// Whether a job is running.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The configuration a Play starts: the chosen severity, batch and methods.
    pub fn run_config(&self) -> sigmix::Result<TtaConfig> {
        let methods: Vec<TtaMethod> =
            TtaMethod::ALL.into_iter().zip(self.compare).filter(|(_, on)| *on).map(|(m, _)| m).collect();
        let cfg =
            TtaConfig { severities: vec![self.severity], batches: vec![self.batch], methods, ..self.config.clone() };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Starts a run (clearing the last results).
    pub fn play(&mut self, ctx: &egui::Context) {
        match self.run_config() {
            Ok(cfg) => {
                self.series.clear();
                self.record = None;
                self.clean_accuracy = None;
                self.source_steps = 0;
                self.message = None;
                let ctx = ctx.clone();
                self.job = Some(TtaJob::start(self.device, cfg, move || ctx.request_repaint()));
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
                TtaMessage::Started(d) => self.device_label = d,
                TtaMessage::Event(TtaEvent::SourceStep { step, .. }) => self.source_steps = step,
                TtaMessage::Event(TtaEvent::SourceDone { clean_accuracy }) => {
                    self.clean_accuracy = Some(clean_accuracy)
                }
                TtaMessage::Event(TtaEvent::StreamStarted { method, .. }) => {
                    self.series.push(Series { method, accuracy: Vec::new(), top_share: Vec::new() })
                }
                TtaMessage::Event(TtaEvent::StreamPoint { method, point, .. }) => {
                    if let Some(s) = self.series.iter_mut().rev().find(|s| s.method == method) {
                        s.accuracy.push([point.seen as f64, point.window_accuracy]);
                        s.top_share.push([point.seen as f64, point.top_share]);
                    }
                }
                TtaMessage::Event(TtaEvent::StreamDone(_)) => {}
                TtaMessage::Finished(r) => self.record = Some(*r),
                TtaMessage::Failed(e) => self.message = Some(e),
                TtaMessage::Done => done = true,
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
        egui::Panel::left("tta-settings").default_size(300.0).show(ui, |ui| self.settings(ui, &ctx));
        egui::CentralPanel::default().show(ui, |ui| self.results(ui, &ctx));
    }

    fn settings(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.heading("Test-time adaptation");
        ui.label(
            "A classifier trained on clean shapes meets a stream of corrupted ones and adapts its \
             LayerNorms online from its own predictions. Tent minimises their entropy and can \
             collapse one sample at a time; REALM weights each sample by a robust loss of its \
             entropy [I].",
        );
        let idle = !self.running();
        ui.add_enabled_ui(idle, |ui| {
            egui::ComboBox::from_label("corruption")
                .selected_text(self.config.corruption.name())
                .show_ui(ui, |ui| {
                    for c in Corruption::ALL {
                        ui.selectable_value(&mut self.config.corruption, c, c.name());
                    }
                })
                .response
                .on_hover_text("Mixed: each image gets one of the four at random");
            ui.add(egui::Slider::new(&mut self.severity, 0..=MAX_SEVERITY).text("severity"))
                .on_hover_text("0 is the clean stream; 5 the strongest corruption");
            ui.horizontal(|ui| {
                ui.label("test batch");
                for b in BATCH_CHOICES {
                    ui.selectable_value(&mut self.batch, b, b.to_string())
                        .on_hover_text(format!("Predict and adapt {b} sample(s) at a time"));
                }
            });
            ui.horizontal(|ui| {
                ui.label("methods");
                for (m, on) in TtaMethod::ALL.iter().zip(self.compare.iter_mut()) {
                    ui.checkbox(on, m.name());
                }
            });
            ui.add(
                egui::Slider::new(&mut self.config.adapt_lr, 1e-4..=1e-2).logarithmic(true).text("Adam lr at batch 64"),
            )
            .on_hover_text("Other batches take lr·√(b/64), Adam's square-root rule");
            ui.add(egui::Slider::new(&mut self.config.realm_alpha, -8.0..=2.0).text("REALM α [I]"))
                .on_hover_text("Barron's shape: 2 quadratic, 0 Cauchy, lower tempers high-entropy samples more");
            ui.add(
                egui::Slider::new(&mut self.config.source_steps, 50..=10_000).logarithmic(true).text("source steps"),
            )
            .on_hover_text("Supervised training steps of the source model on clean images");
            ui.add(egui::DragValue::new(&mut self.config.seed).prefix("seed "))
                .on_hover_text("Seed of the images, corruptions and weights");
        });
        ui.horizontal(|ui| {
            let tip = "Train the source model, then stream through each method";
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
                .add_enabled(self.record.is_some(), egui::Button::new("Export CSV"))
                .on_hover_text("Every stream's curve")
                .clicked()
                && let Some(r) = &self.record
            {
                let saved = crate::jobs::files::save(&self.export_dir, "tta", "csv", curves_csv(r).as_bytes());
                self.message = Some(saved.unwrap_or_else(|e| e.to_string()));
            }
        });
        if let Some(m) = &self.message {
            ui.label(m);
        }
        ui.separator();
        ui.label(format!(
            "{} samples per stream, 5 classes (chance 20%); the window is the last {} samples.",
            self.config.stream_len, self.config.window
        ));
        if let Some(r) = &self.record {
            ui.separator();
            for s in &r.streams {
                ui.label(format!("{}: {:.1}% over the stream", s.method.name(), 100.0 * s.accuracy));
            }
        }
    }

    fn samples_strip(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let key = (self.config.corruption, self.severity);
        if self.samples.as_ref().is_none_or(|(k, _)| *k != key) {
            let size = self.config.image_size;
            let mut images = ShapeImages::generate(6, size, self.config.seed ^ 0x5a);
            let textures = corrupt(&mut images.pixels, size, key.0, key.1, self.config.seed).ok().map(|_| {
                images
                    .pixels
                    .chunks(images.image_len())
                    .enumerate()
                    .map(|(i, px)| {
                        let bytes: Vec<u8> = px.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
                        ctx.load_texture(
                            format!("tta-{i}"),
                            ColorImage::from_rgb([size, size], &bytes),
                            TextureOptions::NEAREST,
                        )
                    })
                    .collect()
            });
            self.samples = Some((key, textures.unwrap_or_default()));
        }
        ui.horizontal(|ui| {
            ui.label(format!("the stream at {} severity {}:", key.0.name(), key.1));
            if let Some((_, textures)) = &self.samples {
                for (i, t) in textures.iter().enumerate() {
                    ui.image((t.id(), egui::vec2(48.0, 48.0)))
                        .on_hover_text(format!("a {}", SHAPE_CLASSES[i % SHAPE_CLASSES.len()]));
                }
            }
        });
    }

    fn results(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        self.samples_strip(ui, ctx);
        let state = match (self.running(), self.clean_accuracy) {
            (true, None) => {
                format!("training the source model: step {}/{}", self.source_steps, self.config.source_steps)
            }
            (_, Some(a)) => format!("source model: {:.1}% on clean images", 100.0 * a),
            (false, None) => "idle".to_string(),
        };
        let device = if self.device_label.is_empty() { "device chosen at Play" } else { &self.device_label };
        ui.label(format!("{state} · {device}"));
        let half = (ui.available_height() / 2.0 - 20.0).max(140.0);
        let end = self.config.stream_len as f64;
        let window = self.config.window;
        let chance = Some(("chance (1/5)", 0.2));
        stream_plot(
            ui,
            "tta-accuracy",
            &format!("accuracy, last {window} samples"),
            (half, end),
            &self.series,
            |s| &s.accuracy,
            chance,
        );
        ui.label("collapse: the share of the window's predictions that go to one class (20% when balanced)");
        stream_plot(
            ui,
            "tta-collapse",
            "most predicted class's share",
            (half, end),
            &self.series,
            |s| &s.top_share,
            None,
        );
    }
}

/// One plot of a quantity in [0, 1] along the stream, a line per method, with an optional
/// labelled level.
fn stream_plot(
    ui: &mut Ui,
    id: &str,
    y_label: &str,
    (height, end): (f32, f64),
    series: &[Series],
    values: fn(&Series) -> &Vec<[f64; 2]>,
    level: Option<(&str, f64)>,
) {
    Plot::new(id)
        .legend(Legend::default())
        .height(height)
        .x_axis_label("test samples seen")
        .y_axis_label(y_label)
        .include_x(0.0)
        .include_x(end)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            for s in series {
                p.line(Line::new(s.method.name(), PlotPoints::from(values(s).clone())).color(method_colour(s.method)));
            }
            if let Some((name, y)) = level {
                p.line(Line::new(name, PlotPoints::from(vec![[0.0, y], [end, y]])).color(colour(7)));
            }
        });
}

/// One colour per method, the same in both plots and across runs.
fn method_colour(method: TtaMethod) -> egui::Color32 {
    colour(TtaMethod::ALL.iter().position(|m| *m == method).unwrap_or(6))
}
