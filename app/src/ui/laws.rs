//! Law calculators: move a slider, see a law answer. Chinchilla's compute-optimal split, the
//! MoE optimal sparsity, the distillation law, forgetting with injected pretraining data and
//! the EMA scaling rule. Unverified forms and made-up constants are labelled where they show.

use egui::Ui;
use sigmix::DeviceChoice;

use crate::jobs::LawSweep;
use crate::ui::law_sweep::LawSweepLab;
use egui_plot::{Line, Plot, PlotPoints, VLine};
use sigmix::laws::{
    Chinchilla, Distillation, Forgetting, Hyper, Law, MoeSparsity, Observation, Optimizer, golden_min, scale_ema,
    scale_hyper,
};

/// The calculators' inputs.
pub struct LawsPanel {
    chin: [f64; 5],
    log_compute: f64,
    moe_log_n: f64,
    moe_log_d: f64,
    teacher_loss: f64,
    student_log_n: f64,
    student_log_d: f64,
    inject: f64,
    ft_log_n: f64,
    ft_log_d: f64,
    rho: f64,
    kappa: f64,
    adam: bool,
    /// The distillation calculator's "fit on these runs": a sweep trained here and its fit.
    pub distill_fit: LawSweepLab,
    /// The forgetting calculator's "fit on these runs".
    pub forgetting_fit: LawSweepLab,
    /// The MoE calculator's "fit on these runs".
    pub moe_fit: LawSweepLab,
}

impl LawsPanel {
    /// The calculators at their defaults; sweeps run for them train on the device `device` names.
    pub fn new(device: DeviceChoice) -> Self {
        LawsPanel {
            chin: [1.69, 406.4, 0.34, 410.7, 0.28],
            log_compute: 21.0,
            moe_log_n: 9.0,
            moe_log_d: 10.5,
            teacher_loss: 2.4,
            student_log_n: 8.5,
            student_log_d: 10.0,
            inject: 0.01,
            ft_log_n: 8.5,
            ft_log_d: 6.5,
            rho: 0.999,
            kappa: 4.0,
            adam: true,
            distill_fit: LawSweepLab::new(LawSweep::Distillation, device),
            forgetting_fit: LawSweepLab::new(LawSweep::Forgetting, device),
            moe_fit: LawSweepLab::new(LawSweep::MoeSparsity, device),
        }
    }
}

fn obs(n: f64, d: f64, h: Vec<f64>) -> Observation {
    Observation { n, d, h, loss: 0.0 }
}

fn ln(p: &[f64]) -> Vec<f64> {
    p.iter().map(|v| v.ln()).collect()
}

/// The marker every unverified form or made-up constant carries.
fn unverified(ui: &mut Ui, what: &str) {
    ui.label(egui::RichText::new(format!("[I] {what}")).color(egui::Color32::from_rgb(200, 140, 0)))
        .on_hover_text("Unverified: a reconstruction or illustrative numbers, not the paper's fitted values");
}

impl LawsPanel {
    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut Ui) {
        // A sweep started here keeps reporting while its section is folded.
        self.distill_fit.poll(&ui.ctx().clone());
        self.forgetting_fit.poll(&ui.ctx().clone());
        self.moe_fit.poll(&ui.ctx().clone());
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                egui::CollapsingHeader::new("Chinchilla: the compute-optimal split")
                    .default_open(true)
                    .show(ui, |ui| self.chinchilla(ui));
                egui::CollapsingHeader::new("MoE: optimal sparsity").default_open(true).show(ui, |ui| self.moe(ui));
                egui::CollapsingHeader::new("Distillation: student loss against teacher loss")
                    .show(ui, |ui| self.distill(ui));
                egui::CollapsingHeader::new("Forgetting with pretraining-data injection")
                    .show(ui, |ui| self.forgetting(ui));
                egui::CollapsingHeader::new("EMA scaling rule").default_open(true).show(ui, |ui| self.ema(ui));
            });
        });
    }

    fn chinchilla(&mut self, ui: &mut Ui) {
        ui.label(
            "L(N, D) = E + A/N^α + B/D^β; training compute C ≈ 6·N·D. Defaults: Hoffmann et al. (2022), approach 3.",
        );
        ui.horizontal(|ui| {
            for (v, name) in self.chin.iter_mut().zip(["E", "A", "α", "B", "β"]) {
                ui.add(egui::DragValue::new(v).speed(0.01).prefix(format!("{name} ")))
                    .on_hover_text(format!("law parameter {name}"));
            }
        });
        ui.add(egui::Slider::new(&mut self.log_compute, 15.0..=25.0).text("log10 C (FLOPs)"))
            .on_hover_text("Training compute budget");
        let theta = ln(&self.chin);
        let c = 10f64.powf(self.log_compute);
        let loss = |log_n: f64| {
            let n = 10f64.powf(log_n);
            Chinchilla.predict(&theta, &obs(n, c / (6.0 * n), vec![]))
        };
        let (lo, hi) = (self.log_compute / 2.0 - 4.0, self.log_compute / 2.0 + 3.0);
        let best = golden_min(loss, lo, hi);
        let n = 10f64.powf(best);
        let d = c / (6.0 * n);
        ui.label(format!(
            "optimum: N* = {:.3e} parameters, D* = {:.3e} tokens ({:.1} tokens per parameter), L* = {:.3}",
            n,
            d,
            d / n,
            loss(best)
        ));
        let curve: Vec<[f64; 2]> = (0..=100).map(|i| lo + (hi - lo) * i as f64 / 100.0).map(|x| [x, loss(x)]).collect();
        Plot::new("chin").height(180.0).x_axis_label("log10 N at fixed C (IsoFLOP)").y_axis_label("loss").show(
            ui,
            |p| {
                p.line(Line::new("L(N, C/6N)", PlotPoints::from(curve)));
                p.vline(VLine::new("N*", best));
            },
        );
    }

    fn moe(&mut self, ui: &mut Ui) {
        ui.label(
            "L = a/N^α + b/D^β + c·(1 − S)^λ + d/((1 − S)^δ·N^γ) + e, S = (E − K)/E the fraction of inactive experts.",
        );
        ui.label("Reported: λ ≈ 0.17 (as a falling c-term), δ ≈ γ ≈ 0.16.");
        unverified(
            ui,
            "a, b, c, d, e, α, β are illustrative, not the paper's fit; the sources' sign conventions differ",
        );
        ui.add(egui::Slider::new(&mut self.moe_log_n, 7.0..=11.0).text("log10 N (total parameters)"))
            .on_hover_text("Total parameters N, experts included");
        ui.add(egui::Slider::new(&mut self.moe_log_d, 9.0..=12.0).text("log10 D (tokens)"))
            .on_hover_text("Training tokens D");
        let theta = ln(&[400.0, 0.34, 410.0, 0.28, 0.8, 0.1666, 6.0, 0.16, 0.16, 1.7]);
        let (n, d) = (10f64.powf(self.moe_log_n), 10f64.powf(self.moe_log_d));
        let law = MoeSparsity::default();
        let loss = |s: f64| law.predict(&theta, &obs(n, d, vec![s]));
        let s_best = golden_min(loss, 0.0, 0.999);
        ui.label(format!("optimal sparsity S* = {s_best:.3} (loss {:.3}; dense: {:.3})", loss(s_best), loss(0.0)));
        let curve: Vec<[f64; 2]> = (0..=99).map(|i| i as f64 / 100.0).map(|s| [s, loss(s)]).collect();
        Plot::new("moe").height(180.0).x_axis_label("sparsity S").y_axis_label("loss").show(ui, |p| {
            p.line(Line::new("L(S)", PlotPoints::from(curve)));
            p.vline(VLine::new("S*", s_best));
        });
        ui.separator();
        self.moe_fit.ui(ui);
    }

    fn distill(&mut self, ui: &mut Ui) {
        ui.label("L_S = L_T + L_T^(−c0)·(1 + (L_T/(L_sup·d1))^(1/f1))^(−c1·f1)·(A'/N_S^α' + B'/D_S^β')^γ' (Eq. 8); L_sup is the student's supervised loss.");
        unverified(ui, "all constants are illustrative; the paper's fitted values are in its appendix, not here");
        ui.add(egui::Slider::new(&mut self.student_log_n, 7.0..=10.0).text("log10 N_S (student)"))
            .on_hover_text("Student size: non-embedding parameters");
        ui.add(egui::Slider::new(&mut self.student_log_d, 9.0..=12.0).text("log10 D_S (distillation tokens)"))
            .on_hover_text("Tokens the student is distilled on");
        ui.add(egui::Slider::new(&mut self.teacher_loss, 1.6..=4.0).text("teacher loss L_T"))
            .on_hover_text("The teacher matters only through its own loss");
        let law = Distillation { supervised: [1.7, 400.0, 0.34, 410.0, 0.28, 1.0] };
        let theta = ln(&[0.5, 0.6, 1.0, 1.0, 400.0, 0.34, 410.0, 0.28, 1.0]);
        let (n, d) = (10f64.powf(self.student_log_n), 10f64.powf(self.student_log_d));
        let student = |lt: f64| law.predict(&theta, &obs(n, d, vec![lt]));
        let sup = sigmix::laws::SupervisedPower.predict(&ln(&law.supervised), &obs(n, d, vec![]));
        ui.label(format!("student: {:.3} distilled, {sup:.3} trained on the data alone", student(self.teacher_loss)));
        let curve: Vec<[f64; 2]> = (0..=80).map(|i| 1.6 + 2.4 * i as f64 / 80.0).map(|lt| [lt, student(lt)]).collect();
        Plot::new("distill").height(180.0).x_axis_label("teacher loss L_T").y_axis_label("student loss").show(
            ui,
            |p| {
                p.line(Line::new("distilled student", PlotPoints::from(curve)));
                p.line(Line::new("supervised student", PlotPoints::from(vec![[1.6, sup], [4.0, sup]])));
                p.vline(VLine::new("L_T", self.teacher_loss));
            },
        );
        ui.separator();
        self.distill_fit.ui(ui);
    }

    fn forgetting(&mut self, ui: &mut Ui) {
        ui.label("ΔL_pt = A'·D_ft^β' / ((1 + B'·p)·N)^α': the rise of the pretraining loss after finetuning on D_ft tokens with a fraction p of pretraining data mixed in.");
        unverified(
            ui,
            "the form is a structural guess and the constants illustrative; the paper's finding is that ~1% injection prevents forgetting",
        );
        ui.add(egui::Slider::new(&mut self.ft_log_n, 7.0..=9.5).text("log10 N"))
            .on_hover_text("Size of the finetuned model");
        ui.add(egui::Slider::new(&mut self.ft_log_d, 5.0..=8.0).text("log10 D_ft (finetuning tokens)"))
            .on_hover_text("Tokens of the finetuning set");
        ui.add(egui::Slider::new(&mut self.inject, 0.0..=0.05).text("injected fraction p"))
            .on_hover_text("Fraction of each finetuning batch drawn from the pretraining data");
        let theta = ln(&[50.0, 0.3, 400.0, 0.35]);
        let (n, d) = (10f64.powf(self.ft_log_n), 10f64.powf(self.ft_log_d));
        let rise = |p: f64| Forgetting.predict(&theta, &obs(n, d, vec![p]));
        ui.label(format!("forgetting: ΔL = {:.3} nats (without injection: {:.3})", rise(self.inject), rise(0.0)));
        let curve: Vec<[f64; 2]> = (0..=50).map(|i| 0.05 * i as f64 / 50.0).map(|p| [100.0 * p, rise(p)]).collect();
        Plot::new("forget").height(160.0).x_axis_label("injected pretraining data (%)").y_axis_label("ΔL_pt").show(
            ui,
            |p| {
                p.line(Line::new("ΔL_pt(p)", PlotPoints::from(curve)));
            },
        );
        ui.separator();
        self.forgetting_fit.ui(ui);
    }

    fn ema(&mut self, ui: &mut Ui) {
        ui.label("Scale the batch by κ: keep the EMA's horizon in samples with ρ' = ρ^κ.");
        ui.label("The BYOL · EMA rule tab trains it: BYOL at κ = 1, 2, 4, 8 with the rule and with ρ fixed.");
        ui.add(egui::Slider::new(&mut self.rho, 0.9..=0.99999).logarithmic(false).text("EMA decay ρ"))
            .on_hover_text("θ_ema <- ρ·θ_ema + (1 - ρ)·θ once per step, at the reference batch");
        ui.add(egui::Slider::new(&mut self.kappa, 0.125..=64.0).logarithmic(true).text("batch scale κ"))
            .on_hover_text("New batch = κ × reference batch");
        ui.checkbox(&mut self.adam, "Adam (else SGD)")
            .on_hover_text("Which optimiser's learning-rate rule pairs with the EMA rule");
        let h = Hyper { batch: 256.0, lr: 1e-3, ema: self.rho, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
        let s = scale_hyper(&h, self.kappa, if self.adam { Optimizer::Adam } else { Optimizer::Sgd });
        ui.label(format!("ρ' = ρ^κ = {:.6}", scale_ema(self.rho, self.kappa)));
        egui::Grid::new("ema-table").striped(true).show(ui, |ui| {
            for (name, a, b) in [
                ("batch", h.batch, s.batch),
                ("learning rate", h.lr, s.lr),
                ("EMA ρ", h.ema, s.ema),
                ("β1", h.beta1, s.beta1),
                ("β2", h.beta2, s.beta2),
                ("ε", h.eps, s.eps),
            ] {
                ui.label(name);
                ui.label(format!("{a:.6e}"));
                ui.label("->");
                ui.label(format!("{b:.6e}"));
                ui.end_row();
            }
        });
        if self.adam {
            unverified(
                ui,
                "the Adam pairing (η' = √κ·η, 1 − β' = κ(1 − β), ε' = ε/√κ) follows the SDE rules; the paper's runs mostly scale η only",
            );
        }
    }
}
