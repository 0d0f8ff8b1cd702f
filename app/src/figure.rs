//! The picture of a sweep or a fit, as PNG or SVG: loss against N and D with the fitted law
//! extrapolated past the measured sizes, predicted against measured, and the optimal-mixture
//! trajectory. Used by `sigmix plot` and the lab's export buttons (in the browser as SVG: the
//! page measures the text, and plotters draws text into bitmaps only natively).

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use sigmix::data::DOMAINS;
use sigmix::laws::{
    FitResult, MixOptions, MixTarget, MixtureForm, MixtureLaw, Observation, mixture_law, optimal_mixture, read_fits,
};
use sigmix::sweep::{Extrapolation, ParamCount, SweepRow, fit_sweep, observation, read_rows};

/// What the four panels show.
pub struct Figure {
    title: String,
    target: String,
    /// The target's fit.
    fit: FitResult,
    /// Every fit of the file (for the mixture trajectory).
    fits: Vec<(String, FitResult)>,
    /// Measured runs: (observation, held out?).
    runs: Vec<(Observation, bool)>,
}

#[cfg(not(target_arch = "wasm32"))]
fn plot_error(path: &Path, e: impl std::fmt::Display) -> sigmix::Error {
    sigmix::Error::Parse { path: path.into(), message: format!("could not draw the plot: {e}") }
}

impl Figure {
    /// The figure of `rows` (a sweep), fitting the law on all but the largest size.
    pub fn from_runs(rows: &[SweepRow], title: String, target: &str) -> sigmix::Result<Figure> {
        let fits = fit_sweep(rows, MixtureForm::default())?;
        Figure::from_fitted_runs(rows, &fits, title, target)
    }

    /// The figure of `rows` with the fits `fit_and_predict` made of them.
    pub fn from_fitted_runs(
        rows: &[SweepRow],
        fits: &[Extrapolation],
        title: String,
        target: &str,
    ) -> sigmix::Result<Figure> {
        let Some(main) = fits.iter().find(|f| f.target == target) else {
            let have: Vec<&str> = fits.iter().map(|f| f.target.as_str()).collect();
            return Err(sigmix::Error::Config(format!(
                "no loss `{target}` in the runs; choose one of {}",
                have.join(", ")
            )));
        };
        let largest = rows.iter().map(|r| r.model_size).max().unwrap_or(0);
        let runs = rows
            .iter()
            .filter_map(|r| Some((observation(r, target, ParamCount::NonEmbedding)?, r.model_size == largest)))
            .collect();
        Ok(Figure {
            title,
            target: target.into(),
            fit: main.fit.clone(),
            fits: fits.iter().map(|f| (f.target.clone(), f.fit.clone())).collect(),
            runs,
        })
    }

    /// Reads runs (.jsonl) or fits (.json) from `input`.
    pub fn load(input: &Path, target: &str) -> sigmix::Result<Figure> {
        let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "jsonl" {
            let rows: Vec<SweepRow> = read_rows(input)?.rows;
            let title = format!("{} — {} runs, law fitted below the largest size", input.display(), rows.len());
            Figure::from_runs(&rows, title, target)
        } else {
            let entries = read_fits(input).map_err(|e| match e {
                sigmix::Error::Parse { path, message } => {
                    sigmix::Error::Parse { path, message: format!("{message}; or give runs (.jsonl)") }
                }
                other => other,
            })?;
            let Some(main) = entries.iter().find(|e| e.target == target).or(entries.first()) else {
                return Err(sigmix::Error::Config(format!("{} holds no fits", input.display())));
            };
            Ok(Figure {
                title: format!("{} — fitted law", input.display()),
                target: main.target.clone(),
                fit: main.fit.clone(),
                fits: entries.iter().map(|e| (e.target.clone(), e.fit.clone())).collect(),
                runs: Vec::new(),
            })
        }
    }

    /// Draws the figure into `out` (.png or .svg) at `size` pixels, atomically.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn write(&self, out: &Path, size: (u32, u32)) -> sigmix::Result<()> {
        let (w, h) = size;
        let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "svg" {
            let svg = self.svg(size).map_err(|e| plot_error(out, e))?;
            return sigmix::files::write_bytes_atomic(out, svg.as_bytes());
        }
        if ext != "png" {
            return Err(sigmix::Error::Config(format!("{}: write .png or .svg", out.display())));
        }
        register_bundled_font().map_err(|e| plot_error(out, e))?;
        let tmp = {
            let mut t = out.as_os_str().to_owned();
            t.push(".partial.png");
            std::path::PathBuf::from(t)
        };
        let root = BitMapBackend::new(&tmp, (w, h)).into_drawing_area();
        draw(&root, self).map_err(|e| plot_error(out, e))?;
        root.present().map_err(|e| plot_error(out, e))?;
        std::fs::rename(&tmp, out).map_err(|source| sigmix::Error::Io { path: out.into(), source })
    }

    /// The figure as an SVG document of `size` pixels (text as text: sharp at any zoom).
    pub fn svg(&self, size: (u32, u32)) -> Result<String, String> {
        register_bundled_font()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            draw(&root, self).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }
}

/// Natively plotters lays text out with the font bundled in the binary (no system fonts
/// needed); in the page it measures text with the browser's own fonts.
fn register_bundled_font() -> Result<(), String> {
    #[cfg(not(target_arch = "wasm32"))]
    plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|_| "the bundled font did not load".to_string())?;
    Ok(())
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// What every panel reads: the target's law at the uniform mixture and the axes' ranges.
struct View<'a> {
    f: &'a Figure,
    law: Box<dyn MixtureLaw>,
    theta: Vec<f64>,
    k: usize,
    n_lo: f64,
    n_hi: f64,
    n_max: f64,
    d_lo: f64,
    d_hi: f64,
    /// The budgets and sizes measured (or three spread over the fitted range).
    d_values: Vec<f64>,
    n_values: Vec<f64>,
    /// Every measured loss, so the curves' panels show all points.
    measured: Vec<f64>,
}

impl View<'_> {
    fn of(f: &Figure) -> sigmix::Result<View<'_>> {
        let law = mixture_law(&f.fit.law, f.fit.params.len())?;
        let k = law.domains();
        let [n_lo, n_hi] = f.fit.n_range;
        let [d_lo, d_hi] = f.fit.d_range;
        let (n_lo, n_hi) = if n_lo > 0.0 && n_hi.is_finite() { (n_lo, n_hi) } else { (1e5, 1e9) };
        let (d_lo, d_hi) = if d_lo > 0.0 && d_hi.is_finite() { (d_lo, d_hi) } else { (1e8, 1e11) };
        Ok(View {
            f,
            theta: f.fit.theta(),
            law,
            k,
            n_lo,
            n_hi,
            n_max: f.runs.iter().map(|(x, _)| x.n).fold(n_hi, f64::max) * 4.0,
            d_lo,
            d_hi,
            d_values: distinct(f.runs.iter().map(|(x, _)| x.d)).unwrap_or_else(|| geometric(d_lo, d_hi, 3)),
            n_values: distinct(f.runs.iter().map(|(x, _)| x.n)).unwrap_or_else(|| geometric(n_lo, n_hi, 3)),
            measured: f.runs.iter().map(|(x, _)| x.loss).collect(),
        })
    }

    /// The law's loss at (n, d) for the uniform mixture.
    fn predict(&self, n: f64, d: f64) -> f64 {
        self.law.predict(&self.theta, &Observation { n, d, h: vec![1.0 / self.k as f64; self.k], loss: 0.0 })
    }

    fn on_uniform(&self, x: &Observation) -> bool {
        x.h.iter().all(|w| (w - 1.0 / self.k as f64).abs() < 1e-3)
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, f: &Figure) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(&f.title, ("sans-serif", 22))?;
    let panels = root.split_evenly((2, 2));
    let v = View::of(f)?;
    loss_against_n(&panels[0], &v)?;
    loss_against_d(&panels[1], &v)?;
    predicted_against_measured(&panels[2], &v)?;
    optimal_mixture_trajectory(&panels[3], &v)
}

/// Loss against N, one curve per D; past the fitted sizes the curve is a prediction.
fn loss_against_n<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, v: &View<'_>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (f, n_lo, n_hi, n_max) = (v.f, v.n_lo, v.n_hi, v.n_max);
    let ys: Vec<f64> = v.d_values.iter().flat_map(|d| [v.predict(n_lo / 2.0, *d), v.predict(n_max, *d)]).collect();
    let (y_lo, y_hi) = bounds(ys.iter().chain(&v.measured).copied());
    let mut c = ChartBuilder::on(area)
        .caption(format!("{} vs N (uniform mixture; dashed: extrapolation)", f.target), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((n_lo / 2.0..n_max).log_scale(), y_lo..y_hi)?;
    mesh(&mut c, "N (parameters)", "loss (nats)")?;
    for (i, d) in v.d_values.iter().enumerate() {
        let colour = colour_of(i);
        let fitted = geometric(n_lo / 2.0, n_hi, 40);
        let beyond = geometric(n_hi, n_max, 20);
        c.draw_series(LineSeries::new(fitted.iter().map(|n| (*n, v.predict(*n, *d))), colour.stroke_width(2)))?
            .label(format!("D = {}", si(*d)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
        c.draw_series(DashedLineSeries::new(
            beyond.iter().map(|n| (*n, v.predict(*n, *d))),
            6,
            4,
            colour.stroke_width(2),
        ))?;
        let pts = f.runs.iter().filter(|(x, _)| x.d == *d && v.on_uniform(x));
        c.draw_series(pts.map(|(x, held)| {
            let style = if *held { colour.filled() } else { colour.stroke_width(2) };
            Circle::new((x.n, x.loss), 5, style)
        }))?;
    }
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    Ok(())
}

/// Loss against D, one curve per N.
fn loss_against_d<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, v: &View<'_>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (f, d_lo) = (v.f, v.d_lo);
    let d_max = v.d_hi * 4.0;
    let ys: Vec<f64> = v.n_values.iter().flat_map(|n| [v.predict(*n, d_lo / 2.0), v.predict(*n, d_max)]).collect();
    let (y_lo, y_hi) = bounds(ys.iter().chain(&v.measured).copied());
    let mut c = ChartBuilder::on(area)
        .caption(format!("{} vs D (uniform mixture)", f.target), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((d_lo / 2.0..d_max).log_scale(), y_lo..y_hi)?;
    mesh(&mut c, "D (tokens)", "loss (nats)")?;
    for (i, n) in v.n_values.iter().enumerate() {
        let colour = colour_of(i);
        let ds = geometric(d_lo / 2.0, d_max, 40);
        c.draw_series(LineSeries::new(ds.iter().map(|d| (*d, v.predict(*n, *d))), colour.stroke_width(2)))?
            .label(format!("N = {}", si(*n)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
        let pts = f.runs.iter().filter(|(x, _)| x.n == *n && v.on_uniform(x));
        c.draw_series(pts.map(|(x, _)| Circle::new((x.d, x.loss), 5, colour.filled())))?;
    }
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    Ok(())
}

/// Predicted against measured, every mixture: the held-out largest size in red.
fn predicted_against_measured<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, v: &View<'_>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let f = v.f;
    if f.runs.is_empty() {
        area.draw(&Text::new("(predicted vs measured needs runs: plot a .jsonl)", (30, 30), ("sans-serif", 16)))?;
        return Ok(());
    }
    let pairs: Vec<(f64, f64, bool)> =
        f.runs.iter().map(|(x, held)| (x.loss, v.law.predict(&v.theta, x), *held)).collect();
    let (lo, hi) = bounds(pairs.iter().flat_map(|(m, p, _)| [*m, *p]));
    let mre_held = mean(pairs.iter().filter(|p| p.2).map(|(m, p, _)| (p - m).abs() / m));
    let mut c = ChartBuilder::on(area)
        .caption(
            format!("predicted vs measured (held-out MRE {:.2}%)", 100.0 * mre_held.unwrap_or(f64::NAN)),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(lo..hi, lo..hi)?;
    c.configure_mesh()
        .x_desc("measured loss")
        .y_desc("predicted loss")
        .light_line_style(RGBColor(238, 238, 238))
        .draw()?;
    c.draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.4)))?;
    c.draw_series(pairs.iter().filter(|p| !p.2).map(|(m, p, _)| Circle::new((*m, *p), 4, BLUE.mix(0.6).filled())))?
        .label("fitted sizes")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, BLUE.filled()));
    c.draw_series(pairs.iter().filter(|p| p.2).map(|(m, p, _)| Circle::new((*m, *p), 5, RED.filled())))?
        .label("largest size (held out)")
        .legend(|(x, y)| Circle::new((x + 8, y), 5, RED.filled()));
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    Ok(())
}

/// Optimal mixture for the mean of the domain targets, as N grows at the largest D.
fn optimal_mixture_trajectory<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, v: &View<'_>) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (f, k, n_lo, n_max, d_hi) = (v.f, v.k, v.n_lo, v.n_max, v.d_hi);
    let domain_fits: Vec<&(String, FitResult)> = f.fits.iter().filter(|(t, _)| t != "mean_loss").collect();
    let laws = domain_fits
        .iter()
        .map(|(_, fit)| mixture_law(&fit.law, fit.params.len()))
        .collect::<sigmix::Result<Vec<_>>>()?;
    let targets: Vec<MixTarget<'_>> = domain_fits
        .iter()
        .zip(&laws)
        .map(|((_, fit), law)| MixTarget { law: law.as_ref(), theta: fit.theta(), weight: 1.0 / laws.len() as f64 })
        .collect();
    let ns = geometric(n_lo, n_max, 12);
    let opts = MixOptions { starts: 2, ..Default::default() };
    let traj = ns.iter().map(|n| optimal_mixture(&targets, *n, d_hi, &opts)).collect::<sigmix::Result<Vec<_>>>()?;
    let names: Vec<String> = match &f.fit.domains {
        d if d.len() == k => d.clone(),
        _ if k == DOMAINS.len() => DOMAINS.iter().map(|d| d.name().to_string()).collect(),
        _ => (0..k).map(|i| format!("h{i}")).collect(),
    };
    let mut c = ChartBuilder::on(area)
        .caption(format!("optimal mixture for the mean domain loss, D = {}", si(d_hi)), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((n_lo..n_max).log_scale(), 0.0..1.0)?;
    mesh(&mut c, "N (parameters)", "weight")?;
    for (i, name) in names.iter().enumerate() {
        let colour = colour_of(i);
        c.draw_series(LineSeries::new(ns.iter().zip(&traj).map(|(n, o)| (*n, o.weights[i])), colour.stroke_width(3)))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(3)));
    }
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    Ok(())
}

/// The colour of series `i` (the lab's palette).
fn colour_of(i: usize) -> RGBAColor {
    let (r, g, b) = crate::ui::widgets::PALETTE[i % crate::ui::widgets::PALETTE.len()];
    RGBColor(r, g, b).to_rgba()
}

/// Axes with a log-scale x labelled in k/M/G and a light grid.
fn mesh<DB: DrawingBackend, Y>(
    c: &mut ChartContext<'_, DB, Cartesian2d<LogCoord<f64>, Y>>,
    x: &str,
    y: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    c.configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .x_labels(8)
        .x_label_formatter(&|v| si(*v))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()?;
    Ok(())
}

/// The sorted distinct values of `v`, or `None` when there are none.
fn distinct(v: impl Iterator<Item = f64>) -> Option<Vec<f64>> {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    (!v.is_empty()).then_some(v)
}

/// `count` points spaced evenly in log between `lo` and `hi`.
fn geometric(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let (a, b) = (lo.ln(), hi.ln());
    (0..count).map(|i| (a + (b - a) * i as f64 / (count.max(2) - 1) as f64).exp()).collect()
}

/// A padded [min, max] of the finite values.
fn bounds(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        v.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = 0.05 * (hi - lo).max(1e-3);
    (lo - pad, hi + pad)
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// 1.2e5 → "120k".
fn si(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.3}G", v / 1e9),
        v if v >= 1e6 => format!("{:.3}M", v / 1e6),
        v if v >= 1e3 => format!("{:.0}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}
