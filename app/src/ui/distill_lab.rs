//! What a distillation sweep's fit shows in the Laws panel: the laws' held-out errors, their
//! predictions of the largest student against the measurements (the parity plot the other law
//! sweeps' panels use too), the measured gains and where distilling beats supervised training
//! at equal compute.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::sweep::{DistillReport, HeldOutRun};

use crate::ui::widgets::colour;

/// Held-out predictions against measurements, one series per law, with the line where they
/// would be equal: how far each law's extrapolation is off, at a glance.
pub(crate) fn parity_plot(ui: &mut Ui, id: &str, x_label: &str, series: &[(&str, &[HeldOutRun])]) {
    let all = series.iter().flat_map(|(_, held)| held.iter()).flat_map(|h| [h.measured, h.predicted]);
    let (lo, hi) = all.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    Plot::new(id).height(200.0).legend(Legend::default()).x_axis_label(x_label).y_axis_label("predicted").show(
        ui,
        |p| {
            if lo.is_finite() {
                p.line(Line::new("exact", PlotPoints::from(vec![[lo, lo], [hi, hi]])).color(egui::Color32::GRAY));
            }
            for (i, (name, held)) in series.iter().enumerate() {
                let points: Vec<[f64; 2]> = held.iter().map(|h| [h.measured, h.predicted]).collect();
                p.points(Points::new(*name, points).radius(4.0).color(colour(i)));
            }
        },
    );
}

/// The fitted laws' held-out errors, their predictions against the measurements, the
/// measured gains and the compute crossovers.
pub fn report_ui(ui: &mut Ui, r: &DistillReport) {
    let teachers: Vec<String> = r.teachers.iter().map(|t| format!("{} (L_T {:.3})", t.id, t.loss)).collect();
    ui.label(format!("teachers: {}", teachers.join(", ")));
    ui.label(format!(
        "largest student predicted: supervised law {:.2}% MRE ({} runs fitted), distillation law {:.2}% MRE ({} runs fitted)",
        100.0 * r.supervised_mre,
        r.supervised.rows,
        100.0 * r.distill_mre,
        r.distill.rows
    ));
    let helped = r.measured_gain.iter().filter(|(_, g)| *g < 0.0).count();
    ui.label(format!(
        "measured at equal tokens, the teacher lowered the loss in {helped} of {} runs",
        r.measured_gain.len()
    ));
    let series = [("supervised law", r.supervised_held_out.as_slice()), ("distillation law", &r.distill_held_out)];
    parity_plot(ui, "distill-fit", "measured loss (largest student)", &series);
    ui.label("at equal training compute (the teacher's forward pass counted, its training not):");
    for c in &r.crossovers {
        ui.label(format!("  student {} from {}: {}", c.student, c.teacher, c.verdict()));
    }
}
