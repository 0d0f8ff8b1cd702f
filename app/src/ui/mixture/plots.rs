//! The Mixture lab's plots: runs and fitted curves against model size, and the held-out
//! largest size predicted against measured, coloured by mixture.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use sigmix::laws::{Observation, mixture_law};
use sigmix::sweep::{Extrapolation, ParamCount, observation};

use crate::ui::widgets::colour;

use super::MixturePanel;

impl MixturePanel {
    /// Predicted against measured for the held-out runs, one colour per mixture: within one
    /// size and budget the points spread along the diagonal when the law tells the mixtures
    /// apart, and lie in a flat band when it does not.
    pub(super) fn prediction_plot(&self, ui: &mut Ui, f: &Extrapolation, height: f32) {
        ui.label(format!(
            "predicted against measured, largest size (held out), coloured by mixture: MRE {:.2}%",
            100.0 * f.held_out_mre
        ));
        let (lo, hi) = f
            .held_out
            .iter()
            .flat_map(|h| [h.measured, h.predicted])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
        let mut groups: std::collections::BTreeMap<String, Vec<[f64; 2]>> = Default::default();
        for h in &f.held_out {
            groups.entry(mixture_label(&h.id)).or_default().push([h.measured, h.predicted]);
        }
        Plot::new("mixture-pred")
            .height(height)
            .legend(Legend::default())
            .data_aspect(1.0)
            .x_axis_label("measured")
            .y_axis_label("predicted")
            .show(ui, |p| {
                if lo.is_finite() {
                    p.line(Line::new("exact", PlotPoints::from(vec![[lo, lo], [hi, hi]])).color(egui::Color32::GRAY));
                }
                for (i, (label, pts)) in groups.into_iter().enumerate() {
                    p.points(Points::new(label, PlotPoints::from(pts)).color(colour(i)).radius(4.0));
                }
            });
    }

    pub(super) fn plots(&mut self, ui: &mut Ui) {
        let half = (ui.available_height() / 2.0 - 20.0).max(150.0);
        let largest = self.rows.iter().map(|r| r.model_size).max().unwrap_or(0);
        let obs: Vec<(Observation, bool)> = self
            .rows
            .iter()
            .filter_map(|r| Some((observation(r, &self.target, ParamCount::NonEmbedding)?, r.model_size == largest)))
            .collect();
        let mut budgets: Vec<f64> = obs.iter().map(|(x, _)| x.d).collect();
        budgets.sort_by(f64::total_cmp);
        budgets.dedup();
        let fit = self.fits.iter().find(|f| f.target == self.target);
        let k = fit.map_or(1, |f| f.fit.domains.len().max(1));
        let law = fit.and_then(|f| mixture_law(&f.fit.law, f.fit.params.len()).ok());
        if self.showing_external {
            ui.label(format!("{}: law fitted below the largest N; pick a target on the left", self.external));
            if let Some(f) = fit {
                self.prediction_plot(ui, f, half);
            }
            return;
        }
        ui.label(format!(
            "{} against model size (log scale; rings: fitted sizes, discs: the held-out largest)",
            self.target
        ));
        Plot::new("mixture-runs")
            .legend(Legend::default())
            .height(half)
            .x_axis_label("N, non-embedding parameters (log scale)")
            .x_axis_formatter(|mark, _| count_label(10f64.powf(mark.value)))
            .y_axis_label("held-out loss")
            .show(ui, |p| {
                for (i, d) in budgets.iter().enumerate() {
                    let c = colour(i);
                    let pts: Vec<[f64; 2]> =
                        obs.iter().filter(|(x, _)| x.d == *d).map(|(x, _)| [x.n.log10(), x.loss]).collect();
                    p.points(Points::new(format!("D = {d:.0}"), PlotPoints::from(pts)).color(c).radius(3.0));
                    if let (Some(f), Some(law)) = (fit, &law) {
                        let theta = f.fit.theta();
                        let [lo, hi] = f.fit.n_range;
                        let hi = hi * 8.0;
                        let curve: Vec<[f64; 2]> = (0..=60)
                            .map(|j| {
                                let n = lo * (hi / lo).powf(j as f64 / 60.0);
                                let x = Observation { n, d: *d, h: vec![1.0 / k as f64; k], loss: 0.0 };
                                [n.log10(), law.predict(&theta, &x)]
                            })
                            .collect();
                        p.line(
                            Line::new(format!("law, D = {d:.0}, uniform mixture"), PlotPoints::from(curve)).color(c),
                        );
                    }
                }
            });
        if let Some(f) = fit {
            self.prediction_plot(ui, f, half);
        } else {
            ui.label("Run the sweep (or press Fit once three sizes are in) to fit the law.");
        }
    }
}

/// The size label of a run id (`w48l2` of `w48l2-s1600-m03`).
pub(super) fn size_label(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

/// The mixture of a sweep run id (`mixture 3` of `w48l2-s1600-m03`, the uniform one named as
/// such); ids of other tables as they are.
pub(super) fn mixture_label(id: &str) -> String {
    match id.rsplit('-').next().and_then(|m| m.strip_prefix('m')).and_then(|m| m.parse::<usize>().ok()) {
        Some(0) => "mixture 0 (uniform)".into(),
        Some(m) => format!("mixture {m}"),
        None => "held-out runs".into(),
    }
}

/// A parameter count as people read it on an axis, to two or three figures: 7K, 25K, 1.2M.
pub fn count_label(n: f64) -> String {
    let (v, unit) = match n.abs() {
        a if a >= 1e9 => (n / 1e9, "G"),
        a if a >= 1e6 => (n / 1e6, "M"),
        a if a >= 1e3 => (n / 1e3, "K"),
        _ => (n, ""),
    };
    let digits = if v.abs() >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") };
    format!("{}{unit}", digits.strip_suffix(".0").unwrap_or(&digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_counts_and_run_ids_read_as_people_write_them() {
        assert_eq!(count_label(6592.0), "6.6K");
        assert_eq!(count_label(25119.0), "25K");
        assert_eq!(count_label(1.0e5), "100K");
        assert_eq!(count_label(1.25e6), "1.2M");
        assert_eq!(count_label(3.0), "3");
        assert_eq!(size_label("w48l2-s1600-m03"), "w48l2");
        assert_eq!(mixture_label("w48l2-s1600-m03"), "mixture 3");
        assert_eq!(mixture_label("w48l2-s800-m00"), "mixture 0 (uniform)");
        assert_eq!(mixture_label("row 4"), "held-out runs");
    }
}
