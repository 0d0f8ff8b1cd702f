//! The window: a tab bar, the chosen panel, and the device in use.

use sigmix::DeviceChoice;

use crate::ui::attention::AttentionPanel;
use crate::ui::contrastive::ContrastivePanel;
use crate::ui::laws::LawsPanel;
use crate::ui::mixture::MixturePanel;
use crate::ui::moe::MoePanel;
use crate::ui::train::TrainPanel;

/// The panels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Train one model.
    Train,
    /// Sweeps, the mixture law, the optimal mixture.
    Mixture,
    /// Sigmoid vs softmax attention maps.
    Attention,
    /// Mixture of experts.
    Moe,
    /// Poly-view contrastive learning.
    Contrastive,
    /// Law calculators.
    Laws,
}

impl Tab {
    /// Every tab, in bar order, with its label and tooltip.
    pub const ALL: [(Tab, &'static str, &'static str); 6] = [
        (Tab::Train, "Train", "Train a small GPT on the procedural domains and watch each domain's loss"),
        (
            Tab::Mixture,
            "Mixture lab",
            "Sweep small models, fit the data-mixture law, predict a bigger run and check it",
        ),
        (Tab::Attention, "Attention", "Sigmoid vs softmax attention maps, the bias b, the flash kernels timed"),
        (Tab::Moe, "MoE", "Train a mixture-of-experts GPT: experts, top-k, gates, capacity; live expert load"),
        (
            Tab::Contrastive,
            "Contrastive",
            "Poly-view contrastive learning: M views per sample at a fixed compute budget, linear-probe accuracy",
        ),
        (Tab::Laws, "Law calculators", "Chinchilla, MoE sparsity, distillation, forgetting, EMA rule"),
    ];
}

/// The lab's state.
pub struct Lab {
    /// The panel shown.
    pub tab: Tab,
    /// Where new runs train.
    pub device: DeviceChoice,
    /// The Train panel.
    pub train: TrainPanel,
    /// The Mixture lab.
    pub mixture: MixturePanel,
    /// The law calculators.
    pub laws: LawsPanel,
    /// The attention maps.
    pub attention: AttentionPanel,
    /// The MoE run.
    pub moe: MoePanel,
    /// The poly-view runs.
    pub contrastive: ContrastivePanel,
}

impl Lab {
    /// A lab that trains on the device `choice` names.
    pub fn new(device: DeviceChoice) -> Lab {
        // An unfinished sweep on disk opens the Mixture lab, where it offers to resume.
        let mixture = MixturePanel::new(device);
        Lab {
            tab: if mixture.rows.is_empty() { Tab::Train } else { Tab::Mixture },
            device,
            train: TrainPanel::new(device),
            mixture,
            laws: LawsPanel::default(),
            attention: AttentionPanel::new(device),
            moe: MoePanel::new(device),
            contrastive: ContrastivePanel::new(device),
        }
    }

    /// Draws the whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("sigmix lab");
                ui.separator();
                for (tab, label, tip) in Tab::ALL {
                    ui.selectable_value(&mut self.tab, tab, label).on_hover_text(tip);
                }
                ui.separator();
                let mut device = self.device;
                egui::ComboBox::from_id_salt("device")
                    .selected_text(format!("device: {device:?}").to_lowercase())
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut device, DeviceChoice::Auto, "auto")
                            .on_hover_text("A hardware GPU when there is one, else the native CPU backend");
                        ui.selectable_value(&mut device, DeviceChoice::Cpu, "cpu")
                            .on_hover_text("The native CPU backend");
                        ui.selectable_value(&mut device, DeviceChoice::Gpu, "gpu")
                            .on_hover_text("Any wgpu adapter, software ones (lavapipe) included");
                    })
                    .response
                    .on_hover_text("Where new runs train (a running one keeps its device)");
                if device != self.device {
                    self.device = device;
                    self.train.device = device;
                    self.mixture.device = device;
                    self.attention.device = device;
                    self.moe.train.device = device;
                    self.contrastive.device = device;
                }
            });
        });
        match self.tab {
            Tab::Train => self.train.ui(ui),
            Tab::Mixture => self.mixture.ui(ui),
            Tab::Laws => self.laws.ui(ui),
            Tab::Attention => self.attention.ui(ui, self.train.attention.as_ref()),
            Tab::Moe => self.moe.ui(ui),
            Tab::Contrastive => self.contrastive.ui(ui),
        }
    }
}

impl eframe::App for Lab {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
