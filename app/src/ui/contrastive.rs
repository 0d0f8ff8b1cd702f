//! The Contrastive panel: the poly-view experiment live. Pick the views M to compare at a fixed
//! number of encoder passes per step, see what a sample's M views look like, run, and watch
//! each M's loss and its linear-probe accuracy before and after training.

use std::path::PathBuf;

use egui::{ColorImage, TextureHandle, TextureOptions, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::data::SHAPE_CLASSES;
use sigmix::kernels::contrastive::ContrastiveLoss;
use sigmix::selfsup::{PolyviewConfig, PolyviewRecord, ViewPreview, curves_csv, preview_views};
use sigmix::{Device, DeviceChoice};

use crate::jobs::{ContrastiveJob, ContrastiveMessage};
use crate::ui::widgets::{RunButton, colour, start_or_stop};

/// The views the panel can compare.
pub const VIEW_CHOICES: [usize; 3] = [2, 4, 8];

/// One M's progress.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Views per sample.
    pub views: usize,
    /// (encoder passes, loss).
    pub curve: Vec<[f64; 2]>,
    /// (encoder passes, held-out probe accuracy), the untrained encoder first.
    pub probes: Vec<[f64; 2]>,
}

/// The panel's state.
pub struct ContrastivePanel {
    /// Where runs train.
    pub device: DeviceChoice,
    /// The settings every run shares (B and M are set per run from `passes` and the choices).
    pub base: PolyviewConfig,
    /// Which of `VIEW_CHOICES` to run.
    pub compare: [bool; 3],
    /// Encoder passes per step, B·M.
    pub passes: usize,
    /// Objective for M > 2.
    pub loss: ContrastiveLoss,
    /// Progress per M, in run order.
    pub series: Vec<Series>,
    /// Finished runs.
    pub records: Vec<PolyviewRecord>,
    /// The running job.
    pub job: Option<ContrastiveJob>,
    /// Device of the last job.
    pub device_label: String,
    /// The last error or export message.
    pub message: Option<String>,
    /// Folder for exports.
    pub export_dir: PathBuf,
    preview_seed: u64,
    preview: Option<(ViewPreview, Vec<TextureHandle>)>,
}

impl ContrastivePanel {
    /// The preset's settings with a shorter default run (300 steps, probed every 75) for the window.
    pub fn new(device: DeviceChoice) -> ContrastivePanel {
        ContrastivePanel {
            device,
            base: PolyviewConfig { steps: 300, probe_every: 75, ..PolyviewConfig::default() },
            compare: [true; 3],
            passes: 256,
            loss: ContrastiveLoss::Geometric,
            series: Vec::new(),
            records: Vec::new(),
            job: None,
            device_label: String::new(),
            message: None,
            export_dir: crate::jobs::LAB_DIR.into(),
            preview_seed: 1,
            preview: None,
        }
    }

    /// Whether a job is running.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The configurations a Run starts, one per chosen M.
    pub fn configs(&self) -> sigmix::Result<Vec<PolyviewConfig>> {
        let out = VIEW_CHOICES
            .iter()
            .zip(self.compare)
            .filter(|(_, on)| *on)
            .map(|(m, _)| self.base.with_views(self.passes, *m, self.loss))
            .collect::<sigmix::Result<Vec<_>>>()?;
        if out.is_empty() {
            return Err(sigmix::Error::Config("choose at least one number of views to run".into()));
        }
        Ok(out)
    }

    /// Starts the chosen runs (clearing the last results).
    pub fn start(&mut self, ctx: &egui::Context) {
        match self.configs() {
            Ok(configs) => {
                self.series = configs.iter().map(|c| Series { views: c.views, ..Series::default() }).collect();
                self.records.clear();
                self.message = None;
                let ctx = ctx.clone();
                self.job = Some(ContrastiveJob::start(self.device, configs, move || ctx.request_repaint()));
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
                ContrastiveMessage::Started { device, .. } => self.device_label = device,
                ContrastiveMessage::Step { views, step, passes, loss } => {
                    if let (Some(s), Some(l)) = (self.series.iter_mut().find(|s| s.views == views), loss) {
                        s.curve.push([(step * passes) as f64, l as f64]);
                    }
                }
                ContrastiveMessage::Probe { views, passes, accuracy } => {
                    if let Some(s) = self.series.iter_mut().find(|s| s.views == views) {
                        s.probes.push([passes as f64, accuracy]);
                    }
                }
                ContrastiveMessage::Finished(r) => self.records.push(*r),
                ContrastiveMessage::Failed(e) => self.message = Some(e),
                ContrastiveMessage::Done => done = true,
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
        egui::Panel::left("contrastive-settings").default_size(300.0).show(ui, |ui| self.settings(ui, &ctx));
        egui::CentralPanel::default().show(ui, |ui| self.results(ui, &ctx));
    }

    fn settings(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.heading("Poly-view");
        ui.label(
            "At the same number of encoder passes per step, is it better to see fewer samples with \
             more views each? M = 2 is SimCLR's InfoNCE; M > 2 uses the chosen poly-view objective.",
        );
        let idle = !self.running();
        ui.add_enabled_ui(idle, |ui| {
            ui.horizontal(|ui| {
                ui.label("compare M =");
                for (m, on) in VIEW_CHOICES.iter().zip(self.compare.iter_mut()) {
                    ui.checkbox(on, m.to_string()).on_hover_text(format!("Train an encoder with {m} views per sample"));
                }
            });
            ui.add(egui::Slider::new(&mut self.passes, 64..=512).step_by(8.0).text("passes per step B·M"))
                .on_hover_text("Encoder passes per step, the same for every M: B = passes / M samples");
            egui::ComboBox::from_label("objective for M > 2")
                .selected_text(self.loss.name())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.loss, ContrastiveLoss::Geometric, "geometric")
                        .on_hover_text("Mean over the positives of −log p(positive): the poly-view default");
                    ui.selectable_value(&mut self.loss, ContrastiveLoss::Arithmetic, "arithmetic")
                        .on_hover_text("−log of the mean of the positives' probabilities");
                    ui.selectable_value(&mut self.loss, ContrastiveLoss::MultiCrop, "multi-crop")
                        .on_hover_text("Pairwise InfoNCE over view pairs, other views of the anchor as candidates [I]");
                })
                .response
                .on_hover_text("M = 2 always runs InfoNCE, which every objective equals there");
            ui.add(egui::Slider::new(&mut self.base.temperature, 0.05..=1.0).text("temperature τ"))
                .on_hover_text("Similarities are cosines / τ; 0.2 is the labelled default [I]");
            ui.add(egui::Slider::new(&mut self.base.steps, 20..=3000).logarithmic(true).text("steps"))
                .on_hover_text("Optimiser steps per run; every M gets the same number");
            ui.add(egui::Slider::new(&mut self.base.schedule.lr, 1e-4..=1e-2).logarithmic(true).text("learning rate"))
                .on_hover_text("Peak AdamW learning rate (warmup, then cosine decay)");
            ui.add(egui::Slider::new(&mut self.base.probe_every, 0..=1000).text("probe every (steps)"))
                .on_hover_text("Fit the linear probe every this many steps too (0: before and after only)");
            ui.add(egui::Slider::new(&mut self.base.augment.min_crop_area, 0.1..=1.0).text("smallest crop area"))
                .on_hover_text("Random resized crops keep between this fraction and all of the image");
            ui.add(egui::Slider::new(&mut self.base.augment.jitter, 0.0..=0.9).text("colour jitter"))
                .on_hover_text("Brightness, contrast and saturation multipliers drawn from 1 ± this");
            ui.add(egui::DragValue::new(&mut self.base.seed).prefix("seed "))
                .on_hover_text("Seed of the images, the views and the weights: the same seed gives the same runs");
        });
        ui.horizontal(|ui| {
            let tip = "Train one encoder per chosen M, one after another";
            match start_or_stop(ui, idle, "Run", tip, "Stop before the next step; finished runs stay") {
                RunButton::Start => self.start(ctx),
                RunButton::Stop => {
                    if let Some(j) = &self.job {
                        j.stop();
                    }
                }
                RunButton::Nothing => {}
            }
            if ui
                .add_enabled(!self.records.is_empty(), egui::Button::new("Export CSV"))
                .on_hover_text("The finished runs' loss curves")
                .clicked()
            {
                self.message = Some(self.export().unwrap_or_else(|e| e.to_string()));
            }
        });
        if let Some(m) = &self.message {
            ui.label(m);
        }
        ui.separator();
        ui.label(format!(
            "{} training images, {} held-out labelled ones for the probe (half fit it, half score it); \
             5 classes, chance 20%.",
            self.base.train_images, self.base.probe_images
        ));
    }

    fn export(&self) -> sigmix::Result<String> {
        crate::jobs::files::save(&self.export_dir, "polyview", "csv", curves_csv(&self.records).as_bytes())
    }

    fn views_strip(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let views = VIEW_CHOICES.iter().zip(self.compare).filter(|(_, on)| *on).map(|(m, _)| *m).max().unwrap_or(2);
        let stale = self.preview.as_ref().is_none_or(|(p, _)| p.views.len() != views);
        if stale {
            self.preview = make_preview(ctx, &self.base, views, self.preview_seed).ok();
        }
        ui.horizontal(|ui| {
            let Some((p, textures)) = &self.preview else {
                ui.label("(no preview)");
                return;
            };
            ui.vertical(|ui| {
                ui.label(format!("a {}", SHAPE_CLASSES[p.class]));
                if let Some(t) = textures.first() {
                    ui.image((t.id(), egui::vec2(96.0, 96.0)));
                }
            });
            ui.separator();
            ui.vertical(|ui| {
                ui.label(format!("{} views of it, as the encoder sees them", p.views.len()));
                ui.horizontal(|ui| {
                    for t in textures.iter().skip(1) {
                        ui.image((t.id(), egui::vec2(64.0, 64.0)));
                    }
                });
            });
            if ui.button("another sample").on_hover_text("Draw another image and new views of it").clicked() {
                self.preview_seed += 1;
                self.preview = make_preview(ctx, &self.base, views, self.preview_seed).ok();
            }
        });
    }

    fn results(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        self.views_strip(ui, ctx);
        ui.label(format!(
            "{} · {}",
            if self.running() { "running" } else { "idle" },
            if self.device_label.is_empty() { "device chosen at Run".to_string() } else { self.device_label.clone() }
        ));
        let half = (ui.available_height() / 2.0 - 20.0).max(140.0);
        let series = self.series.clone();
        Plot::new("contrastive-loss")
            .legend(Legend::default())
            .height(half)
            .x_axis_label("encoder passes")
            .y_axis_label("contrastive loss")
            .show(ui, |p| {
                for (i, s) in series.iter().enumerate() {
                    p.line(Line::new(format!("M = {}", s.views), PlotPoints::from(s.curve.clone())).color(colour(i)));
                }
            });
        ui.label("linear-probe accuracy on held-out images, from the untrained encoder on");
        let passes = series.iter().flat_map(|s| s.probes.iter().map(|p| p[0])).fold(1.0, f64::max);
        Plot::new("contrastive-probe")
            .legend(Legend::default())
            .height(half)
            .x_axis_label("encoder passes")
            .y_axis_label("probe accuracy")
            .include_y(0.0)
            .include_y(1.0)
            .show(ui, |p| {
                for (i, s) in series.iter().enumerate() {
                    let name = format!("M = {}", s.views);
                    p.line(Line::new(name.clone(), PlotPoints::from(s.probes.clone())).color(colour(i)));
                    p.points(Points::new(name, PlotPoints::from(s.probes.clone())).radius(3.0).color(colour(i)));
                }
                p.line(Line::new("chance (1/5)", PlotPoints::from(vec![[0.0, 0.2], [passes, 0.2]])).color(colour(7)));
            });
    }
}

/// Renders a preview's source and views into textures (CPU backend: a few hundred pixels).
fn make_preview(
    ctx: &egui::Context,
    base: &PolyviewConfig,
    views: usize,
    seed: u64,
) -> sigmix::Result<(ViewPreview, Vec<TextureHandle>)> {
    let device = Device::pick(DeviceChoice::Cpu, None)?;
    let p = preview_views(&device, &base.augment, base.image_size, base.view_size, views, seed)?;
    let image = |name: String, size: usize, px: &[f32]| {
        let bytes: Vec<u8> = px.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        ctx.load_texture(name, ColorImage::from_rgb([size, size], &bytes), TextureOptions::NEAREST)
    };
    let mut textures = vec![image(format!("preview-{seed}"), p.source_size, &p.source)];
    for (i, v) in p.views.iter().enumerate() {
        textures.push(image(format!("preview-{seed}-{i}"), p.view_size, v));
    }
    Ok((p, textures))
}
