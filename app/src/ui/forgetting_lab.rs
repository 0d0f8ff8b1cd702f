//! What a forgetting sweep's fit shows in the Laws panel: whether a little injected pretraining
//! data stops the forgetting, both curves against the injected fraction (the pretraining loss's
//! rise and the target loss, one line per size at the largest finetuning budget), and the laws'
//! predictions of the largest size against the measurements.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::sweep::{FinetunedRun, ForgettingReport};

use crate::ui::distill_lab::parity_plot;
use crate::ui::widgets::colour;

/// The injected fractions of the sweep, ascending: the plots' x positions are their indices,
/// so 0, 1%, 5% and 20% stand evenly apart.
fn fractions(r: &ForgettingReport) -> Vec<f64> {
    r.by_injection.iter().map(|s| s.p).collect()
}

/// The largest finetuning budget of the sweep (tokens).
fn largest_budget(r: &ForgettingReport) -> f64 {
    r.finetuned.iter().map(|f| f.d).fold(0.0, f64::max)
}

/// Per size (ascending), the runs at the largest finetuning budget, by injected fraction.
fn curves(r: &ForgettingReport) -> Vec<(f64, Vec<&FinetunedRun>)> {
    let d_max = largest_budget(r);
    let mut sizes: Vec<f64> = r.finetuned.iter().map(|f| f.n).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    sizes
        .into_iter()
        .map(|n| {
            let mut runs: Vec<&FinetunedRun> = r.finetuned.iter().filter(|f| f.n == n && f.d == d_max).collect();
            runs.sort_by(|a, b| a.p.total_cmp(&b.p));
            (n, runs)
        })
        .collect()
}

fn against_p(
    ui: &mut Ui,
    id: &str,
    y_label: &str,
    r: &ForgettingReport,
    value: impl Fn(&FinetunedRun) -> f64,
) -> egui::Response {
    let ps = fractions(r);
    let x = |p: f64| ps.iter().position(|q| (q - p).abs() < 1e-9).unwrap_or(0) as f64;
    let labels = ps.clone();
    Plot::new(id)
        .height(180.0)
        .legend(Legend::default())
        .x_axis_label("injected pretraining data")
        .y_axis_label(y_label)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            match labels.get(i as usize) {
                Some(p) if (mark.value - i).abs() < 1e-6 && i >= 0.0 => format!("{}%", 100.0 * p),
                _ => String::new(),
            }
        })
        .show(ui, |plot| {
            for (i, (n, runs)) in curves(r).iter().enumerate() {
                let line: Vec<[f64; 2]> = runs.iter().map(|f| [x(f.p), value(f)]).collect();
                // The size label of the run ids (`w48l2`), which sorts in the legend as it reads.
                let label = runs.first().and_then(|f| f.id.split('-').next()).unwrap_or("size");
                let name = format!("{label} (N = {n:.0})");
                plot.line(Line::new(name.clone(), PlotPoints::from(line.clone())).color(colour(i)));
                plot.points(Points::new(name, line).radius(3.0).color(colour(i)));
            }
        })
        .response
}

/// The takeaway, both curves against p and the held-out predictions.
pub fn report_ui(ui: &mut Ui, r: &ForgettingReport) {
    ui.label(egui::RichText::new(r.takeaway()).strong());
    ui.label(format!(
        "largest size predicted: forgetting law {:.2}% MRE on the pretraining loss (docs/papers.md's form; the injected-tokens form {:.2}%; {} runs fitted), finetuning law {:.2}% MRE on the {} loss",
        100.0 * r.forgetting.mre,
        100.0 * r.forgetting_tokens.mre,
        r.forgetting.law.rows,
        100.0 * r.target_mre,
        r.target
    ));
    for (form, f) in [("docs/papers.md's form", &r.forgetting), ("injected-tokens form", &r.forgetting_tokens)] {
        let by_p: Vec<String> =
            f.mre_by_injection.iter().map(|(p, e)| format!("{}%: {:.1}%", 100.0 * p, 100.0 * e)).collect();
        ui.label(format!("  {form}, held-out MRE per injected fraction: {}", by_p.join(", ")));
    }
    ui.label(format!("at the largest finetuning budget ({:.0} tokens), one line per size:", largest_budget(r)));
    ui.columns(2, |cols| {
        against_p(&mut cols[0], "forget-rise", "pretraining loss rise (nats)", r, |f| f.after - f.before);
        against_p(&mut cols[1], "forget-target", &format!("{} loss", r.target), r, |f| f.target_loss);
    });
    egui::Grid::new("forget-by-p").striped(true).show(ui, |ui| {
        for h in ["injected", "runs", "L_pt rise", "progress lost [I]", "prevented", "target loss"] {
            ui.strong(h);
        }
        ui.end_row();
        for s in &r.by_injection {
            ui.label(format!("{}%", 100.0 * s.p));
            ui.label(s.runs.to_string());
            ui.label(format!("{:+.4}", s.rise));
            ui.label(format!("{:.1}%", 100.0 * s.relative));
            ui.label(format!("{:.0}%", 100.0 * s.prevented));
            ui.label(format!("{:.4}", s.target_loss));
            ui.end_row();
        }
    });
    let target = format!("{} loss", r.target);
    let series = [
        ("pretraining loss, docs/papers.md's form", r.forgetting.held_out.as_slice()),
        ("pretraining loss, tokens form", &r.forgetting_tokens.held_out),
        (target.as_str(), &r.target_held_out),
    ];
    parity_plot(ui, "forget-fit", "measured loss (largest size)", &series);
}
