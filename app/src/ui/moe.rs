//! The MoE panel: choose experts E and top-k K (sparsity S = (E − K)/E), gates, capacity and
//! auxiliary-loss weights, train a small MoE GPT, and watch each layer's expert load.

use egui::Ui;
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints};
use sigmix::DeviceChoice;
use sigmix::kernels::moe::{MAX_EXPERTS, MAX_TOP_K};
use sigmix::models::Ffn;
use sigmix::nn::MoeConfig;

use crate::ui::train::{Status, TrainPanel};
use crate::ui::widgets::colour;

/// The panel's state: its own training run (the Train panel's machinery) and the MoE settings.
pub struct MoePanel {
    /// The run.
    pub train: TrainPanel,
    /// The MoE block of every layer.
    pub moe: MoeConfig,
}

impl MoePanel {
    /// The moe-tiny preset: 8 experts, top-2, dropless.
    pub fn new(device: DeviceChoice) -> MoePanel {
        let mut train = TrainPanel::new(device);
        train.load_preset("moe-tiny");
        MoePanel { train, moe: MoeConfig::default() }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut Ui) {
        self.train.poll();
        let ctx = ui.ctx().clone();
        egui::Panel::left("moe-settings").default_size(300.0).show(ui, |ui| self.settings(ui, &ctx));
        egui::CentralPanel::default().show(ui, |ui| self.results(ui));
    }

    fn settings(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.heading("Experts");
        let idle = matches!(self.train.status, Status::Idle | Status::Finished | Status::Failed);
        ui.add_enabled_ui(idle, |ui| {
            let m = &mut self.moe;
            ui.add(egui::Slider::new(&mut m.experts, 1..=MAX_EXPERTS.min(32)).text("experts E"))
                .on_hover_text("Expert MLPs per layer, each as wide as the dense MLP");
            m.top_k = m.top_k.clamp(1, MAX_TOP_K.min(m.experts));
            ui.add(egui::Slider::new(&mut m.top_k, 1..=MAX_TOP_K.min(m.experts)).text("top-k K"))
                .on_hover_text("Experts each token is sent to");
            ui.checkbox(&mut m.sigmoid_gates, "sigmoid gates")
                .on_hover_text("σ(logit) per expert instead of a softmax over experts");
            ui.checkbox(&mut m.renorm, "renormalise gates").on_hover_text("Scale the K chosen gates to sum to 1");
            ui.add(egui::Slider::new(&mut m.capacity_factor, 0.0..=2.0).text("capacity factor")).on_hover_text(
                "0 = dropless; otherwise each expert keeps at most factor·T·K/E tokens and drops the rest",
            );
            ui.add(egui::Slider::new(&mut m.aux.balance, 0.0..=0.1).text("balance α"))
                .on_hover_text("Load-balancing loss α·E·Σ f_e·P_e: pushes the router to spread tokens");
            ui.add(egui::Slider::new(&mut m.aux.z, 0.0..=0.01).text("z-loss β"))
                .on_hover_text("Router z-loss β·mean(logsumexp²): keeps the router logits small");
            ui.add(egui::Slider::new(&mut self.train.config.steps, 10..=3000).logarithmic(true).text("steps"))
                .on_hover_text("Optimiser steps");
        });
        self.train.config.model.ffn = Ffn::Moe(self.moe.clone());
        let s = (self.moe.experts - self.moe.top_k) as f64 / self.moe.experts as f64;
        ui.label(format!("sparsity S = (E − K)/E = {s:.2}"));
        if self.moe.top_k == 1 && self.moe.renorm && self.moe.experts > 1 {
            ui.colored_label(
                egui::Color32::from_rgb(200, 140, 0),
                "top-1 with renormalised gates: the one gate is always 1, so the loss gives the router no gradient (only the balance and z-losses train it); untick renormalise for Switch-style top-1",
            );
        }
        let model = &self.train.config.model;
        ui.label(format!("{} parameters, {} active per token", model.param_count(), model.active_params()));
        ui.separator();
        self.train.run_controls(ui, ctx);
        if let Some(e) = &self.train.error {
            ui.colored_label(egui::Color32::RED, e);
        }
    }

    fn results(&mut self, ui: &mut Ui) {
        let t = &self.train;
        ui.label(format!(
            "{:?} · step {} / {} · {:.0} tokens/s · {}",
            t.status,
            t.steps_done,
            t.config.steps,
            t.tokens_per_sec,
            if t.device_label.is_empty() { "device chosen at Play".to_string() } else { t.device_label.clone() }
        ));
        let half = (ui.available_height() / 2.0 - 20.0).max(150.0);
        Plot::new("moe-loss").height(half).x_axis_label("step").y_axis_label("training loss").show(ui, |p| {
            p.line(Line::new("train", PlotPoints::from(t.curve.clone())));
        });
        ui.label("expert load per layer: share of the routed slots over the last logged steps (a fair share is 1/E)");
        let load = t.expert_load.clone();
        let e = self.moe.experts.max(1) as f64;
        Plot::new("moe-load")
            .legend(Legend::default())
            .height(half)
            .x_axis_label("expert")
            .y_axis_label("share")
            .include_y(0.0)
            .show(ui, |p| {
                let layers = load.len().max(1) as f64;
                for (l, shares) in load.iter().enumerate() {
                    let width = 0.8 / layers;
                    let bars: Vec<Bar> = shares
                        .iter()
                        .enumerate()
                        .map(|(j, f)| Bar::new(j as f64 - 0.4 + width * (l as f64 + 0.5), *f).width(width))
                        .collect();
                    p.bar_chart(BarChart::new(format!("layer {l}"), bars).color(colour(l)));
                }
                if !load.is_empty() {
                    p.line(Line::new("fair share", PlotPoints::from(vec![[-0.5, 1.0 / e], [e - 0.5, 1.0 / e]])));
                }
            });
    }
}
