//! The Attention panel: sigmoid and softmax attention maps of the same queries and keys side
//! by side (random ones, or a head of the model trained in the Train tab on its own text),
//! the sigmoid bias b on a slider with b = −ln n marked, each row's total attention, and the
//! two flash kernels timed on the chosen device.

use std::sync::mpsc::{Receiver, channel};

use egui::{Color32, Sense, Ui, vec2};
use egui_plot::{Legend, Line, Plot, PlotPoints};
use sigmix::clock::Instant;
use sigmix::kernels::attention::{AttnKind, AttnLayout, AttnOpts, attention_forward};
use sigmix::reference::flash::{AttnSpec, forward};
use sigmix::rng::Rng;
use sigmix::{DType, DeviceChoice, Recorder, Tensor};

use crate::jobs::{Task, TrainedAttention};

/// Milliseconds of one flash forward: (sigmoid, softmax), or the error.
type Timing = Result<(f64, f64), String>;

/// Where the queries and keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapSource {
    /// Random queries and keys with a chosen alignment.
    Random,
    /// One head of the model trained in the Train tab, on its own sampled text.
    Trained,
}

/// The panel's state.
pub struct AttentionPanel {
    /// Sequence length.
    pub n: usize,
    /// Head dimension.
    pub d: usize,
    /// Sigmoid logit bias b.
    pub bias: f64,
    /// Mask keys after each query.
    pub causal: bool,
    /// How far queries and keys agree (0 = independent, 1 = identical).
    pub alignment: f64,
    /// Seed of the random queries and keys.
    pub seed: u64,
    /// Where the kernels are timed.
    pub device: DeviceChoice,
    /// Random inputs or the trained model.
    pub source: MapSource,
    /// Layer and head of the trained model shown.
    pub layer: usize,
    /// Head of that layer.
    pub head: usize,
    timing: Option<Receiver<Timing>>,
    last_timing: Option<(usize, usize, Timing)>,
    /// The maps for the inputs they were computed from (recomputed only when an input moves).
    cached: Option<(MapKey, Maps)>,
}

/// The inputs the maps depend on: n, d, b, causal, alignment, seed (floats by their bits), and
/// for a trained model (layer, head, step).
type MapKey = (usize, usize, u64, bool, u64, u64, Option<(usize, usize, usize)>);

/// The (sigmoid, softmax) probability maps, n × n each.
type Maps = (Vec<f64>, Vec<f64>);

impl AttentionPanel {
    /// n = 64, d = 32, b = −ln 64.
    pub fn new(device: DeviceChoice) -> AttentionPanel {
        AttentionPanel {
            n: 64,
            d: 32,
            bias: -(64f64).ln(),
            causal: true,
            alignment: 0.5,
            seed: 1,
            device,
            source: MapSource::Random,
            layer: 0,
            head: 0,
            timing: None,
            last_timing: None,
            cached: None,
        }
    }

    /// The two probability maps (sigmoid, softmax), n × n each, row-major.
    pub fn maps(&self) -> Maps {
        let (n, d) = (self.n, self.d);
        let mut rng = Rng::new(self.seed);
        let k: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        let noise: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        // Queries lean towards their own key by `alignment`, so the maps have structure.
        let q: Vec<f64> =
            k.iter().zip(&noise).map(|(k, e)| 2.0 * self.alignment * k + (1.0 - self.alignment) * e).collect();
        let v = vec![0.0; n * d];
        let spec =
            |sigmoid| AttnSpec { bh: 1, heads: 1, n, d, causal: self.causal, alibi: false, sigmoid, bias: self.bias };
        (forward(&spec(true), &q, &k, &v).1, forward(&spec(false), &q, &k, &v).1)
    }

    /// The maps of head `head` of layer `layer` of a trained model (causal, its own q and k;
    /// the sigmoid map with the panel's b).
    pub fn trained_maps(&self, t: &TrainedAttention) -> Maps {
        let (q, k) = t.queries_keys(self.layer, self.head);
        let (n, d) = (t.context, t.d_model / t.heads.max(1));
        let v = vec![0.0; n * d];
        let spec = |sigmoid| AttnSpec { bh: 1, heads: 1, n, d, causal: true, alibi: false, sigmoid, bias: self.bias };
        (forward(&spec(true), &q, &k, &v).1, forward(&spec(false), &q, &k, &v).1)
    }

    /// Whether a kernel timing has come back (successfully or not).
    pub fn timed(&self) -> bool {
        self.last_timing.is_some()
    }

    /// Draws the panel; `trained` is the Train tab's model, when it has been evaluated.
    pub fn ui(&mut self, ui: &mut Ui, trained: Option<&TrainedAttention>) {
        if let Some(rx) = &self.timing
            && let Ok(t) = rx.try_recv()
        {
            self.last_timing = Some((self.n, timed_d(self.d), t));
            self.timing = None;
        }
        let trained = trained.filter(|t| t.layers() > 0);
        egui::Panel::left("attention-controls").default_size(300.0).show(ui, |ui| self.controls(ui, trained));
        egui::CentralPanel::default().show(ui, |ui| self.view(ui, trained));
    }

    fn controls(&mut self, ui: &mut Ui, trained: Option<&TrainedAttention>) {
        ui.heading("Input");
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.source, MapSource::Random, "random q, k")
                .on_hover_text("Random queries and keys, with the alignment below");
            let r = ui
                .add_enabled(
                    trained.is_some(),
                    egui::RadioButton::new(self.source == MapSource::Trained, "trained model"),
                )
                .on_hover_text("A head of the model trained in the Train tab, on its own sampled text")
                .on_disabled_hover_text(
                    "Train a model in the Train tab first: its maps arrive at each evaluation and pause",
                );
            if r.clicked() {
                self.source = MapSource::Trained;
                if let Some(t) = trained {
                    self.bias = t.bias;
                }
            }
        });
        if self.source == MapSource::Trained {
            let Some(t) = trained else {
                self.source = MapSource::Random;
                return;
            };
            self.layer = self.layer.min(t.layers() - 1);
            self.head = self.head.min(t.heads.max(1) - 1);
            ui.add(egui::Slider::new(&mut self.layer, 0..=t.layers() - 1).text("layer"))
                .on_hover_text("Which block's attention");
            ui.add(egui::Slider::new(&mut self.head, 0..=t.heads.max(1) - 1).text("head"))
                .on_hover_text("Which head of that block");
            ui.label(format!(
                "after {} steps of {} attention, on its own text:",
                t.step,
                if t.sigmoid { "sigmoid" } else { "softmax" }
            ));
            ui.monospace(t.text.escape_debug().to_string());
        } else {
            self.random_controls(ui);
        }
        self.bias_and_kernels(
            ui,
            trained.map_or(self.n, |t| if self.source == MapSource::Trained { t.context } else { self.n }),
        );
    }

    fn random_controls(&mut self, ui: &mut Ui) {
        let old_n = self.n;
        ui.add(egui::Slider::new(&mut self.n, 8..=128).text("sequence length n"))
            .on_hover_text("Queries and keys per head");
        if self.n != old_n && (self.bias + (old_n as f64).ln()).abs() < 1e-9 {
            self.bias = -(self.n as f64).ln();
        }
        ui.add(egui::Slider::new(&mut self.d, 8..=128).step_by(8.0).text("head dim d"))
            .on_hover_text("Width of each query and key");
        ui.add(egui::Slider::new(&mut self.alignment, 0.0..=1.0).text("q-k alignment"))
            .on_hover_text("0: random queries; 1: each query equals its own key (a sharp diagonal)");
        ui.checkbox(&mut self.causal, "causal").on_hover_text("Each query sees only keys at or before it");
        ui.add(egui::DragValue::new(&mut self.seed).prefix("seed "))
            .on_hover_text("Seed of the random queries and keys");
    }

    fn bias_and_kernels(&mut self, ui: &mut Ui, n: usize) {
        ui.separator();
        ui.heading("Sigmoid bias");
        let ln_n = (n as f64).ln();
        ui.add(egui::Slider::new(&mut self.bias, -2.0 * ln_n - 2.0..=2.0).text("b")).on_hover_text(
            "σ(QK^T/√d + b): the paper's default b = −ln n keeps each row's total attention near 1 at initialisation",
        );
        if ui.button(format!("b = −ln n = {:.2}", -ln_n)).on_hover_text("Reset b to the paper's default").clicked() {
            self.bias = -ln_n;
        }
        ui.separator();
        ui.heading("Kernels");
        let busy = self.timing.is_some();
        if ui
            .add_enabled(!busy, egui::Button::new("Time the flash kernels"))
            .on_hover_text("Time one forward pass of the sigmoid and softmax flash kernels on the selected device (4096 query rows at this n and d)")
            .clicked()
        {
            let (tx, rx) = channel();
            let (choice, n, d) = (self.device, self.n, timed_d(self.d));
            let ctx = ui.ctx().clone();
            // Runs to its end by itself (a few seconds at most): nothing waits for it.
            let _ = Task::spawn("sigmix-timing", move || async move {
                let _ = tx.send(time_kernels(choice, n, d).await.map_err(|e| e.to_string()));
                ctx.request_repaint();
            });
            self.timing = Some(rx);
        }
        if busy {
            ui.label("timing…");
        }
        match &self.last_timing {
            Some((n, d, Ok((sig, soft)))) => {
                ui.label(format!("n = {n}, d = {d}: sigmoid {sig:.3} ms, softmax {soft:.3} ms"));
                ui.label(format!("softmax / sigmoid = {:.2}×", soft / sig));
            }
            Some((_, _, Err(e))) => {
                ui.colored_label(Color32::RED, e);
            }
            None => {}
        }
    }

    fn view(&mut self, ui: &mut Ui, trained: Option<&TrainedAttention>) {
        let trained = trained.filter(|_| self.source == MapSource::Trained);
        let model = trained.map(|t| (self.layer, self.head, t.step));
        let key = (self.n, self.d, self.bias.to_bits(), self.causal, self.alignment.to_bits(), self.seed, model);
        if self.cached.as_ref().is_none_or(|(k, _)| *k != key) {
            let maps = match trained {
                Some(t) => self.trained_maps(t),
                None => self.maps(),
            };
            self.cached = Some((key, maps));
        }
        let Some((_, (sig, soft))) = &self.cached else { return };
        let n = trained.map_or(self.n, |t| t.context);
        let side = ((ui.available_width() - 40.0) / 2.0).min(ui.available_height() - 260.0).max(120.0);
        ui.horizontal(|ui| {
            for (title, map) in [("sigmoid σ(QK^T/√d + b)", sig), ("softmax", soft)] {
                ui.vertical(|ui| {
                    ui.label(title);
                    heatmap(ui, map, n, side);
                });
            }
        });
        let row_sum = |m: &[f64]| -> Vec<[f64; 2]> {
            (0..n).map(|i| [i as f64, m[i * n..(i + 1) * n].iter().sum::<f64>()]).collect()
        };
        ui.label("total attention per query row (softmax is 1 by construction; sigmoid follows b)");
        Plot::new("attention-rows")
            .legend(Legend::default())
            .height(180.0)
            .include_y(0.0)
            .x_axis_label("query position")
            .y_axis_label("Σ_j p_ij")
            .show(ui, |p| {
                p.line(Line::new("sigmoid", PlotPoints::from(row_sum(sig))).color(Color32::from_rgb(255, 127, 14)));
                p.line(Line::new("softmax", PlotPoints::from(row_sum(soft))).color(Color32::from_rgb(31, 119, 180)));
            });
    }
}

/// The head dimension the flash kernels run at: d rounded up to a multiple of 4, at least 16.
fn timed_d(d: usize) -> usize {
    d.max(16).div_ceil(4) * 4
}

/// Paints an n × n map of values in [0, 1] (darker = more attention).
fn heatmap(ui: &mut Ui, map: &[f64], n: usize, side: f32) {
    let (rect, _) = ui.allocate_exact_size(vec2(side, side), Sense::hover());
    let painter = ui.painter_at(rect);
    let cell = side / n as f32;
    let max = map.iter().cloned().fold(1e-12, f64::max);
    for i in 0..n {
        for j in 0..n {
            let v = (map[i * n + j] / max).clamp(0.0, 1.0);
            let shade = (255.0 * (1.0 - v)) as u8;
            let r = egui::Rect::from_min_size(
                rect.min + vec2(j as f32 * cell, i as f32 * cell),
                vec2(cell + 0.5, cell + 0.5),
            );
            painter.rect_filled(r, 0.0, Color32::from_rgb(shade, shade, 255));
        }
    }
}

/// Times one forward of each flash kernel: (sigmoid ms, softmax ms).
async fn time_kernels(choice: DeviceChoice, n: usize, d: usize) -> sigmix::Result<(f64, f64)> {
    let device = crate::jobs::device_async(choice).await?;
    let bh = (4096 / n).max(1);
    let l = AttnLayout::packed(1, bh, n, d);
    let one = bh * n * d;
    let mut rng = Rng::new(5);
    let qkv = Tensor::from_f32(&device, "qkv", &[3 * one], &rng.uniform_vec(3 * one, -1.0, 1.0))?;
    let o = Tensor::empty(&device, "o", &[one], DType::F32)?;
    let lse = Tensor::empty(&device, "lse", &[l.stats_len()], DType::F32)?;
    let mut ms = [0.0; 2];
    for (slot, kind) in [AttnKind::Sigmoid, AttnKind::Softmax].into_iter().enumerate() {
        let opts = AttnOpts { kind, causal: true, alibi: false, bias: None, tile: None };
        let run = async |reps: usize| -> sigmix::Result<f64> {
            let t0 = Instant::now();
            for _ in 0..reps {
                let mut rec = Recorder::new(&device);
                attention_forward(&mut rec, &qkv, &o, Some(&lse), &l, &opts)?;
                rec.submit()?;
            }
            // Reading the small row statistics back waits for the last pass (and works in the
            // browser, where nothing may block).
            lse.read_f32().await?;
            Ok(t0.elapsed().as_secs_f64() / reps as f64)
        };
        let first = run(1).await?;
        ms[slot] = 1e3 * run((0.3 / first.max(1e-6)).clamp(1.0, 30.0) as usize).await?;
    }
    Ok((ms[0], ms[1]))
}
