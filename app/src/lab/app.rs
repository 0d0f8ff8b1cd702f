//! The window: a tab bar, the chosen panel, and the device in use.

use sigmix::DeviceChoice;
use sigmix::data::TextDomain;
use sigmix::sweep::parse_rows;

use crate::jobs::LawSweep;
use crate::jobs::files::DropKind;

use crate::ui::attention::AttentionPanel;
use crate::ui::byol::ByolPanel;
use crate::ui::contrastive::ContrastivePanel;
use crate::ui::laws::LawsPanel;
use crate::ui::mixture::MixturePanel;
use crate::ui::moe::MoePanel;
use crate::ui::train::TrainPanel;
use crate::ui::tta::TtaPanel;

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
    /// Test-time adaptation on corrupted streams.
    Tta,
    /// BYOL and the EMA scaling rule.
    Byol,
    /// Law calculators.
    Laws,
}

impl Tab {
    /// Every tab, in bar order, with its label and tooltip.
    pub const ALL: [(Tab, &'static str, &'static str); 8] = [
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
        (
            Tab::Tta,
            "Test-time adaptation",
            "A classifier meets corrupted images and adapts online: source, Tent, entropy filter, REALM",
        ),
        (
            Tab::Byol,
            "BYOL · EMA rule",
            "BYOL at κ times the batch over the same samples: the EMA scaling rule ρ^κ against ρ fixed",
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
    /// The test-time adaptation streams.
    pub tta: TtaPanel,
    /// The BYOL / EMA scaling rule runs.
    pub byol: ByolPanel,
    inbox: crate::jobs::files::Inbox,
    /// The user's own text domains (dropped files), shared by every panel that trains.
    pub texts: Vec<TextDomain>,
    /// What the last link applied could not use, shown until dismissed.
    pub link_error: Option<String>,
    /// The link text last written to the page's address (browser).
    written_link: String,
    notice: Option<String>,
    /// Start the shown panel's run at the first frame (a link asked for it): the Mixture lab's
    /// sweep, the MoE panel's model, the Contrastive panel's runs, the Test-time adaptation
    /// panel's streams, the BYOL panel's runs, else the Train panel's.
    pub play_on_open: bool,
    /// Where the last frame drew its main buttons (`targets`), for scripts that click them.
    buttons: crate::jobs::targets::Targets,
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
            laws: LawsPanel::new(device),
            attention: AttentionPanel::new(device),
            moe: MoePanel::new(device),
            contrastive: ContrastivePanel::new(device),
            tta: TtaPanel::new(device),
            byol: ByolPanel::new(device),
            inbox: Default::default(),
            texts: Vec::new(),
            link_error: None,
            written_link: String::new(),
            notice: None,
            play_on_open: false,
            buttons: Default::default(),
        }
    }

    /// A lab opened from a link (`crate::lab::link`): what the link could not use is shown.
    pub fn with_link(device: DeviceChoice, link: &str) -> Lab {
        let mut lab = Lab::new(device);
        lab.link_error = crate::lab::link::apply(&mut lab, link).err();
        lab
    }

    /// Where new runs train, in every panel (a running one keeps its device).
    pub fn set_device(&mut self, device: DeviceChoice) {
        self.device = device;
        self.train.device = device;
        self.mixture.device = device;
        self.attention.device = device;
        self.moe.train.device = device;
        self.contrastive.device = device;
        self.tta.device = device;
        self.byol.device = device;
    }

    /// Copies a link to this state: the page address in the browser, a command natively.
    fn copy_link(&mut self, ctx: &egui::Context) {
        let link = crate::lab::link::encode(self);
        #[cfg(target_arch = "wasm32")]
        let text = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .map(|href| format!("{}#{link}", href.split('#').next().unwrap_or_default()))
            .unwrap_or(link);
        #[cfg(not(target_arch = "wasm32"))]
        let text = format!("sigmix --link '{link}'");
        ctx.copy_text(text.clone());
        self.notice = Some(format!("copied {text}"));
    }

    /// Keeps the page's address equal to the lab's state, so the address bar is always a link
    /// to what is on screen (replacing the history entry: Back still leaves the page).
    fn write_link(&mut self) {
        let link = crate::lab::link::encode(self);
        if link == self.written_link {
            return;
        }
        #[cfg(target_arch = "wasm32")]
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("#{link}")));
        }
        self.written_link = link;
    }

    /// Where the lab stands, for scripts and the browser test: the panel and its link, the Train
    /// panel's run (status, steps, first and last training loss, device), the sweep's progress
    /// and domains, the user's text domains, the last notice.
    pub fn status(&self) -> serde_json::Value {
        let t = &self.train;
        serde_json::json!({
            "tab": crate::lab::link::tab_key(self.tab),
            "link": self.written_link,
            "train": {
                "status": format!("{:?}", t.status).to_lowercase(),
                "steps": t.steps_done,
                "first_loss": t.curve.first().map(|p| p[1]),
                "last_loss": t.curve.last().map(|p| p[1]),
                "device": t.device_label,
                "domains": t.config.domain_names(),
                "error": t.error,
            },
            "mixture": {
                "runs": self.mixture.rows.len(),
                "planned": self.mixture.planned(),
                "domains": self.mixture.domains(),
                "fits": self.mixture.fits.len(),
                "running": self.mixture.running(),
                "error": self.mixture.error,
            },
            "texts": self.texts.iter().map(|t| t.name()).collect::<Vec<_>>(),
            "notice": self.notice,
            "gpu_lost": crate::jobs::gpu_lost(),
            "buttons": self.buttons,
        })
    }

    /// The link text last written (what the page's address holds after `#` in the browser).
    pub fn link(&self) -> &str {
        &self.written_link
    }

    /// Routes files dropped onto the window to the Mixture lab (sweeps and tables of runs).
    /// A text file becomes a domain of the Train panel and the Mixture lab.
    fn take_drops(&mut self, ctx: &egui::Context) {
        for file in self.inbox.poll(ctx) {
            match file {
                Ok(f) if f.kind() == DropKind::Text && f.text().is_err() => {
                    self.notice = Some(format!(
                        "{}: not UTF-8 text; drop a text file to add a domain, a .jsonl sweep or a .csv table of runs",
                        f.name
                    ));
                }
                Ok(f) if f.kind() == DropKind::Text => match TextDomain::new(&f.name, f.bytes) {
                    Ok(t) => {
                        self.notice = Some(format!(
                            "{}: the domain `{}` ({} bytes; its last tenth is held out) — in the Train panel's mixture and the Mixture lab's sweeps",
                            f.name,
                            t.name(),
                            t.len()
                        ));
                        self.texts.retain(|x| x.name() != t.name());
                        self.texts.push(t);
                        self.apply_texts();
                    }
                    Err(e) => self.notice = Some(e.to_string()),
                },
                Ok(f) => {
                    // A distillation, forgetting or MoE sparsity sweep goes to its own fit,
                    // everything else to the Mixture lab.
                    let found = f.text().ok().and_then(|t| parse_rows(std::path::Path::new(&f.name), t).ok());
                    match found.and_then(|found| LawSweep::of_rows(&found.rows).map(|kind| (kind, found))) {
                        Some((kind, found)) => {
                            self.tab = Tab::Laws;
                            let fit = match kind {
                                LawSweep::Distillation => &mut self.laws.distill_fit,
                                LawSweep::Forgetting => &mut self.laws.forgetting_fit,
                                LawSweep::MoeSparsity => &mut self.laws.moe_fit,
                            };
                            fit.accept(&f.name, found.rows, ctx);
                        }
                        None => {
                            self.tab = Tab::Mixture;
                            self.mixture.accept(f, ctx);
                        }
                    }
                }
                Err(e) => self.notice = Some(e.to_string()),
            }
        }
    }

    /// Gives every panel that trains on text the current list of text domains.
    fn apply_texts(&mut self) {
        self.train.set_texts(&self.texts);
        self.moe.train.set_texts(&self.texts);
        self.mixture.set_texts(&self.texts);
    }

    /// The user's text domains, with a button to drop each.
    fn texts_bar(&mut self, ui: &mut egui::Ui) {
        if self.texts.is_empty() {
            return;
        }
        let mut remove = None;
        ui.horizontal(|ui| {
            ui.label("Your text domains:").on_hover_text(
                "Dropped text files, trained on after the built-in domains; they never leave this machine",
            );
            for (i, t) in self.texts.iter().enumerate() {
                ui.label(format!("{} ({} KB)", t.name(), t.len().div_ceil(1024)));
                if ui.small_button("remove").on_hover_text("Train without this text").clicked() {
                    remove = Some(i);
                }
            }
        });
        if let Some(i) = remove {
            self.texts.remove(i);
            self.apply_texts();
        }
    }

    /// Draws the whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        crate::jobs::targets::begin_frame(&ctx);
        self.take_drops(&ctx);
        if std::mem::take(&mut self.play_on_open) {
            match self.tab {
                Tab::Mixture => self.mixture.run(&ctx),
                Tab::Moe => self.moe.train.play(&ctx),
                Tab::Contrastive => self.contrastive.start(&ctx),
                Tab::Tta => self.tta.play(&ctx),
                Tab::Byol => self.byol.play(&ctx),
                _ => self.train.play(&ctx),
            }
        }
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
                    self.set_device(device);
                }
                ui.separator();
                if ui
                    .button("Copy link")
                    .on_hover_text("A link that opens the lab on this panel with these settings")
                    .clicked()
                {
                    self.copy_link(&ctx);
                }
            });
            self.banners(ui);
            self.texts_bar(ui);
        });
        match self.tab {
            Tab::Train => self.train.ui(ui),
            Tab::Mixture => self.mixture.ui(ui),
            Tab::Laws => self.laws.ui(ui),
            Tab::Attention => self.attention.ui(ui, self.train.attention.as_ref()),
            Tab::Moe => self.moe.ui(ui),
            Tab::Contrastive => self.contrastive.ui(ui),
            Tab::Tta => self.tta.ui(ui),
            Tab::Byol => self.byol.ui(ui),
        }
        self.buttons = crate::jobs::targets::drawn(&ctx);
        self.write_link();
    }

    /// One-line messages over the panels: a lost GPU, a link that was partly unusable, a copy.
    fn banners(&mut self, ui: &mut egui::Ui) {
        if let Some(why) = crate::jobs::gpu_lost() {
            ui.horizontal(|ui| {
                ui.colored_label(
                    egui::Color32::from_rgb(230, 90, 60),
                    format!("The GPU device was lost ({why}). Finished runs and curves are kept."),
                );
                let restart =
                    ui.button("Restart GPU").on_hover_text("Open a new GPU device; runs started afterwards use it");
                crate::jobs::targets::mark(ui, "Restart GPU", &restart);
                if restart.clicked() {
                    crate::jobs::reset_gpu();
                    // The banner goes: draw the frame without it now, not at the next input.
                    ui.ctx().request_repaint();
                }
            });
        }
        let mut dismiss = false;
        if let Some(e) = &self.link_error {
            ui.horizontal(|ui| {
                ui.colored_label(egui::Color32::from_rgb(200, 140, 0), e);
                dismiss = ui.small_button("OK").clicked();
            });
        }
        if dismiss {
            self.link_error = None;
        }
        if let Some(n) = &self.notice {
            ui.label(egui::RichText::new(n).small());
        }
    }
}

impl eframe::App for Lab {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    /// Lets the page reach the lab between frames (`WebRunner::app_mut`), e.g. for its status.
    #[cfg(target_arch = "wasm32")]
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(&mut *self)
    }
}
