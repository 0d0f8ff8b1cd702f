//! The optimal mixture for the chosen target under its fit, the button that trains it at the
//! largest size, and how that run did against its prediction and the uniform run.

use egui::Ui;
use sigmix::laws::OptimalMixture;
use sigmix::sweep::{OPTIMUM_FLOOR, OptimumCheck, optimal_for, uniform_at_largest};
use sigmix::train::RunConfig;

use crate::jobs::TrainJob;

use super::MixturePanel;

impl MixturePanel {
    /// The optimal mixture for the target at (n, d) under its fit, searched once per
    /// (target, fit, n, d) rather than on every frame.
    pub(super) fn optimum(&mut self, n: usize, d: usize) -> Option<OptimalMixture> {
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
    pub(super) fn optimum_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
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
}
