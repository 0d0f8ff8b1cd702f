//! What an MoE sparsity sweep's fit shows in the Laws panel: the IsoFLOP slices (loss against
//! sparsity at fixed compute, measured and by the law), the law's held-out error on the largest
//! size, and the optimal sparsity per compute budget the fitted law gives, with each slice's
//! measured best beside it.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::sweep::MoeReport;

use crate::ui::widgets::colour;

/// The slices at the sweep's largest budget (one per size), to keep the plot readable.
fn largest_budget_slices(r: &MoeReport) -> Vec<&sigmix::sweep::IsoFlopSlice> {
    let steps = |label: &str| label.split(" · ").nth(1).and_then(|s| s.split(' ').next()?.parse::<usize>().ok());
    let top = r.slices.iter().filter_map(|s| steps(&s.label)).max();
    r.slices.iter().filter(|s| steps(&s.label) == top).collect()
}

/// The held-out error, the IsoFLOP slices, the optimal sparsity against compute and its table.
pub fn report_ui(ui: &mut Ui, r: &MoeReport) {
    ui.label(format!(
        "largest size predicted: MoE law {:.2}% MRE ({} runs fitted, {} held out; top-{} routing)",
        100.0 * r.mre,
        r.law.rows,
        r.held_out.len(),
        r.top_k
    ));
    ui.columns(2, |cols| {
        let slices = largest_budget_slices(r);
        Plot::new("moe-isoflop")
            .height(200.0)
            .legend(Legend::default())
            .x_axis_label("sparsity S = (E − K)/E")
            .y_axis_label("loss (points measured, lines the law)")
            .show(&mut cols[0], |p| {
                for (i, s) in slices.iter().enumerate() {
                    let name = if s.held_out { format!("{} (held out)", s.label) } else { s.label.clone() };
                    let measured: Vec<[f64; 2]> = s.points.iter().map(|q| [q[0], q[1]]).collect();
                    let law: Vec<[f64; 2]> = s.points.iter().map(|q| [q[0], q[2]]).collect();
                    p.points(Points::new(name.clone(), measured).radius(4.0).color(colour(i)));
                    p.line(Line::new(name, PlotPoints::from(law)).color(colour(i)));
                }
            });
        Plot::new("moe-optimal")
            .height(200.0)
            .legend(Legend::default())
            .x_axis_label("log10 training FLOPs")
            .y_axis_label("optimal sparsity S*")
            .show(&mut cols[1], |p| {
                let law: Vec<[f64; 2]> = r.optimal.iter().map(|o| [o.flops.log10(), o.sparsity]).collect();
                p.line(Line::new("S* by the law", PlotPoints::from(law)).color(colour(0)));
                let best: Vec<[f64; 2]> = r.slices.iter().map(|s| [s.flops.log10(), s.best_sparsity]).collect();
                p.points(Points::new("measured best of each slice", best).radius(4.0).color(colour(1)));
            });
    });
    ui.label("the law's optimum per compute budget (width continuous; the dense model's loss at the same compute beside it):");
    egui::Grid::new("moe-optimal-table").striped(true).show(ui, |ui| {
        for h in ["FLOPs", "S*", "width", "N total", "N active", "tokens", "loss", "dense N", "dense loss"] {
            ui.strong(h);
        }
        ui.end_row();
        for o in &r.optimal {
            ui.label(format!("{:.2e}", o.flops));
            ui.label(format!("{:.3}", o.sparsity));
            ui.label(format!("{:.0}", o.width));
            ui.label(format!("{:.3e}", o.n_total));
            ui.label(format!("{:.3e}", o.n_active));
            ui.label(format!("{:.3e}", o.tokens));
            ui.label(format!("{:.4}", o.loss));
            ui.label(format!("{:.3e}", o.dense_n));
            ui.label(format!("{:.4}", o.dense_loss));
            ui.end_row();
        }
    });
}
