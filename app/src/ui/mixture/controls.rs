//! The Mixture lab's left column: the sweep (preset, file, Run/Stop, load, exports), an
//! external table to fit, the target and law, the fits' table, and the optimal mixture.

use egui::Ui;
use sigmix::laws::MixtureForm;
use sigmix::sweep::{SWEEP_PRESETS, sweep_targets};

use super::{COMMENTARY, MixturePanel};

impl MixturePanel {
    pub(super) fn controls(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.heading("Sweep");
        let busy = self.running();
        ui.add_enabled_ui(!busy, |ui| {
            let mut preset = self.preset.clone();
            egui::ComboBox::from_label("preset")
                .selected_text(&preset)
                .show_ui(ui, |ui| {
                    // Distillation sweeps fit other laws: they run from Laws → Distillation.
                    for (name, what) in SWEEP_PRESETS.iter().filter(|(n, _)| crate::jobs::LawSweep::of_preset(n).is_none()) {
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
                    crate::jobs::files::save_screen(ui.ctx(), self.export_dir.clone(), "mixture-lab");
                    self.notice = Some("downloading the Mixture lab's screen as PNG".into());
                }
                #[cfg(target_arch = "wasm32")]
                {
                    let svg = ui.button("Download figure SVG").on_hover_text(
                        "The sweep's figure (law, extrapolation, prediction, optimal mixture) as an SVG image",
                    );
                    crate::jobs::targets::mark(ui, "Download figure SVG", &svg);
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
}
