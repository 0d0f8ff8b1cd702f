//! Small widgets the panels share: mixture sliders kept on the simplex, and plot helpers.

use egui::Ui;

/// One slider per domain; moving one rescales the others so the weights always sum to 1.
/// Returns whether anything changed.
pub fn simplex_sliders(ui: &mut Ui, names: &[String], weights: &mut [f64]) -> bool {
    // Weights from a link or a file may be given unnormalised (1,1,1,1): shown as proportions.
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > 1e-9 {
        let shares = normalised(weights);
        weights.copy_from_slice(&shares);
    }
    let mut changed = None;
    for (i, (name, w)) in names.iter().zip(weights.iter_mut()).enumerate() {
        let mut v = *w;
        let r = ui.add(egui::Slider::new(&mut v, 0.0..=1.0).text(name).fixed_decimals(2)).on_hover_text(format!(
            "Share of training sequences drawn from {name}; the others rescale so the mixture sums to 1"
        ));
        if r.changed() {
            changed = Some((i, v));
        }
    }
    let Some((i, v)) = changed else { return false };
    set_on_simplex(weights, i, v);
    true
}

/// Sets `weights[i] = v` and rescales the rest to sum to 1 − v (evenly when they were all 0).
pub fn set_on_simplex(weights: &mut [f64], i: usize, v: f64) {
    let v = v.clamp(0.0, 1.0);
    let rest: f64 = weights.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, w)| *w).sum();
    let others = weights.len().saturating_sub(1).max(1) as f64;
    for (j, w) in weights.iter_mut().enumerate() {
        *w = if j == i {
            v
        } else if rest > 1e-12 {
            *w / rest * (1.0 - v)
        } else {
            (1.0 - v) / others
        };
    }
}

/// Normalises weights to sum to 1 (uniform when they sum to 0).
pub fn normalised(weights: &[f64]) -> Vec<f64> {
    let s: f64 = weights.iter().sum();
    if s > 0.0 { weights.iter().map(|w| w / s).collect() } else { vec![1.0 / weights.len() as f64; weights.len()] }
}

/// What a panel's start / stop button asked for this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunButton {
    /// Start the panel's job.
    Start,
    /// Stop the running job before its next step.
    Stop,
    /// Nothing was clicked.
    Nothing,
}

/// The start button `label` while idle (marked under its label for scripts that click it),
/// "Stop" while the panel's job runs.
pub fn start_or_stop(ui: &mut Ui, idle: bool, label: &'static str, start_tip: &str, stop_tip: &str) -> RunButton {
    if idle {
        let start = ui.button(label).on_hover_text(start_tip);
        crate::jobs::targets::mark(ui, label, &start);
        if start.clicked() { RunButton::Start } else { RunButton::Nothing }
    } else if ui.button("Stop").on_hover_text(stop_tip).clicked() {
        RunButton::Stop
    } else {
        RunButton::Nothing
    }
}

/// Series colours that stay apart on dark and light backgrounds (the category10 palette),
/// shared by the panels and the exported figures.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (23, 190, 207),
];

/// The colour of series `i`.
pub fn colour(i: usize) -> egui::Color32 {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    egui::Color32::from_rgb(r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_stay_on_the_simplex() {
        let mut w = vec![0.25; 4];
        set_on_simplex(&mut w, 1, 0.7);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12 && (w[1] - 0.7).abs() < 1e-12, "{w:?}");
        assert!((w[0] - 0.1).abs() < 1e-12);
        let mut w = vec![1.0, 0.0, 0.0];
        set_on_simplex(&mut w, 0, 0.4);
        assert_eq!(w, vec![0.4, 0.3, 0.3]);
    }
}
