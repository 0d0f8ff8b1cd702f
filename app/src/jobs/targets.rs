//! Where the lab drew its main buttons in a frame, by name: a script that drives the page like
//! a visitor (the headless browser test) clicks "Restart GPU" and "Play" there instead of
//! guessing coordinates from a layout that may change. Kept in the egui context's frame data,
//! so two labs (or two tests) never see each other's buttons.

use std::collections::BTreeMap;

/// Button name → centre in egui points (CSS pixels from the canvas's corner in the browser).
pub type Targets = BTreeMap<&'static str, [f32; 2]>;

fn id() -> egui::Id {
    egui::Id::unique("sigmix-click-targets")
}

/// Forgets the previous frame's buttons: a frame lists only what it draws.
pub fn begin_frame(ctx: &egui::Context) {
    ctx.data_mut(|d| d.remove::<Targets>(id()));
}

/// Records where `button` (called `name`) was drawn this frame.
pub fn mark(ui: &egui::Ui, name: &'static str, button: &egui::Response) {
    let c = button.rect.center();
    ui.ctx().data_mut(|d| d.get_temp_mut_or_default::<Targets>(id()).insert(name, [c.x, c.y]));
}

/// The buttons drawn since `begin_frame`, with their centres.
pub fn drawn(ctx: &egui::Context) -> Targets {
    ctx.data(|d| d.get_temp::<Targets>(id())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_lists_only_the_buttons_it_drew() {
        let ctx = egui::Context::default();
        let frame = |with_restart: bool| {
            let _ = ctx.run_ui(Default::default(), |ui| {
                begin_frame(ui.ctx());
                let play = ui.button("Play");
                mark(ui, "Play", &play);
                if with_restart {
                    let restart = ui.button("Restart GPU");
                    mark(ui, "Restart GPU", &restart);
                }
            });
            drawn(&ctx)
        };
        let both = frame(true);
        assert_eq!(both.keys().copied().collect::<Vec<_>>(), ["Play", "Restart GPU"]);
        assert!(both["Restart GPU"][1] > both["Play"][1], "laid out top to bottom: {both:?}");
        assert_eq!(frame(false).keys().copied().collect::<Vec<_>>(), ["Play"]);
    }
}
