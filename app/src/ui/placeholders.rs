//! Panels whose engine work has not landed (MoE, contrastive) or whose view is not built yet
//! (attention maps): each says so and points at what already works, instead of showing
//! anything made up.

use egui::Ui;

/// A panel that is not built yet: what it will show, and what to use meanwhile.
pub fn not_built(ui: &mut Ui, title: &str, will_show: &str, meanwhile: &str) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading(title);
        ui.label(egui::RichText::new("Not built yet.").strong());
        ui.label(will_show);
        ui.add_space(8.0);
        ui.label("Meanwhile:");
        ui.monospace(meanwhile);
    });
}
