//! The point of a sweep: fit a mixture law (the joint one, or the additive one) on every size
//! but the largest, predict the largest, and compare with what it measured.

use crate::error::{Error, Result};
use crate::laws::{FitOptions, FitResult, MixtureForm, Observation, fit_mixture};
use crate::sweep::SweepRow;

/// Which parameter count a fit uses as N.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ParamCount {
    /// All parameters (`model_size`).
    Total,
    /// Parameters outside the embeddings (`non_embedding_params`).
    NonEmbedding,
}

impl ParamCount {
    fn of(self, row: &SweepRow) -> f64 {
        match self {
            ParamCount::Total => row.model_size as f64,
            ParamCount::NonEmbedding => row.non_embedding_params as f64,
        }
    }
}

/// One held-out run: predicted and measured loss.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct HeldOutRun {
    /// The run's id.
    pub id: String,
    /// The law's prediction.
    pub predicted: f64,
    /// The run's final held-out loss.
    pub measured: f64,
}

/// Mean relative error of held-out predictions: what every sweep's fit reports for its
/// largest size (0 for none).
pub fn held_out_mre(held: &[HeldOutRun]) -> f64 {
    held.iter().map(|h| (h.predicted - h.measured).abs() / h.measured).sum::<f64>() / held.len().max(1) as f64
}

/// One target's fit on the smaller sizes and its predictions for the largest.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Extrapolation {
    /// The loss column, e.g. `code_loss` or `mean_loss`.
    pub target: String,
    /// The fit on every size but the largest.
    pub fit: FitResult,
    /// The largest size's runs.
    pub held_out: Vec<HeldOutRun>,
    /// Mean relative error over them.
    pub held_out_mre: f64,
}

/// The loss columns a sweep over `domains` writes: one per domain, then the mean.
pub fn sweep_targets(domains: &[String]) -> Vec<String> {
    domains.iter().map(|d| format!("{d}_loss")).chain(std::iter::once("mean_loss".to_string())).collect()
}

/// The observation of `target` in `row`, N counted as `n` (`None` when the row lacks it); the
/// mixture is over the domains of the row's configuration, in its order.
pub fn observation(row: &SweepRow, target: &str, n: ParamCount) -> Option<Observation> {
    let names = row.config.domain_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let loss = *row.columns.get(target)?;
    Some(Observation { n: n.of(row), d: row.n_tokens as f64, h: row.weights(&names), loss })
}

/// `wanted`, unless the runs below the largest size are fewer than its parameters (the joint
/// law's 4k + 5 need more runs than a small sweep has): then the additive law. Fits name the
/// law they are of, so what was fitted is never hidden.
pub fn mixture_form_for(rows: &[SweepRow], wanted: MixtureForm) -> MixtureForm {
    let largest = rows.iter().map(|r| r.model_size).max().unwrap_or(0);
    let below = rows.iter().filter(|r| r.model_size < largest).count();
    let k = rows.first().map_or(1, |r| r.config.domain_names().len());
    if below < wanted.law(k).n_params() { MixtureForm::Additive } else { wanted }
}

/// A sweep's fits as the lab and its figures show them: the law of `wanted` (the additive one
/// where the runs are too few for it, see `mixture_form_for`), N counted outside the
/// embeddings, the thorough fitter.
pub fn fit_sweep(rows: &[SweepRow], wanted: MixtureForm) -> Result<Vec<Extrapolation>> {
    fit_and_predict(rows, ParamCount::NonEmbedding, mixture_form_for(rows, wanted), &FitOptions::thorough())
}

/// Fits the mixture law of `form` to each target on the rows below the largest size and
/// predicts the rows at the largest size.
pub fn fit_and_predict(
    rows: &[SweepRow],
    n: ParamCount,
    form: MixtureForm,
    opts: &FitOptions,
) -> Result<Vec<Extrapolation>> {
    let largest = rows.iter().map(|r| r.model_size).max().unwrap_or(0);
    let sizes: std::collections::BTreeSet<usize> = rows.iter().map(|r| r.model_size).collect();
    if sizes.len() < 3 {
        return Err(Error::Fit(format!(
            "the sweep has {} model size(s); fitting on all but the largest needs at least three",
            sizes.len()
        )));
    }
    let domains = rows.first().map(|r| r.config.domain_names()).unwrap_or_default();
    if let Some(odd) = rows.iter().find(|r| r.config.domain_names() != domains) {
        return Err(Error::Fit(format!(
            "run {} trains on {}, the others on {}: one law needs one set of domains",
            odd.id,
            odd.config.domain_names().join(", "),
            domains.join(", ")
        )));
    }
    let (train_rows, held_rows): (Vec<SweepRow>, Vec<SweepRow>) =
        rows.iter().cloned().partition(|r| r.model_size < largest);
    sweep_targets(&domains)
        .into_iter()
        .map(|target| {
            let train: Vec<Observation> = train_rows.iter().filter_map(|r| observation(r, &target, n)).collect();
            let held = held_rows.iter().filter_map(|r| Some((r.id.clone(), observation(r, &target, n)?)));
            extrapolate(form, target.clone(), &train, held, domains.clone(), opts)
        })
        .collect()
}

/// Fits the law of `form` to `train` and predicts each named held-out run.
fn extrapolate(
    form: MixtureForm,
    target: String,
    train: &[Observation],
    held: impl Iterator<Item = (String, Observation)>,
    domains: Vec<String>,
    opts: &FitOptions,
) -> Result<Extrapolation> {
    let law = form.law(domains.len());
    let mut f = fit_mixture(form, domains.len(), train, opts)?;
    f.domains = domains;
    let theta = f.theta();
    let held_out: Vec<HeldOutRun> =
        held.map(|(id, x)| HeldOutRun { id, predicted: law.predict(&theta, &x), measured: x.loss }).collect();
    Ok(Extrapolation { target, fit: f, held_out_mre: held_out_mre(&held_out), held_out })
}

/// The same extrapolation for an external table of runs (e.g. the public data-mixture CSV):
/// the law of `form` over the `weight_prefix` columns, fitted to every `*_loss` column on the
/// rows below the largest N and predicting the rows at it. Held-out runs are named by row.
pub fn fit_and_predict_table(
    table: &crate::laws::RunTable,
    n_col: &str,
    d_col: &str,
    weight_prefix: &str,
    form: MixtureForm,
    opts: &FitOptions,
) -> Result<Vec<Extrapolation>> {
    let h_cols = table.weight_columns(weight_prefix);
    if h_cols.is_empty() {
        return Err(Error::Fit(format!("the table has no `{weight_prefix}*` mixture-weight columns")));
    }
    let targets: Vec<String> = table.columns().iter().filter(|c| c.ends_with("_loss")).cloned().collect();
    if targets.is_empty() {
        return Err(Error::Fit("the table has no `*_loss` columns to fit".into()));
    }
    let domains: Vec<String> = h_cols.iter().map(|c| c.trim_start_matches(weight_prefix).to_string()).collect();
    targets
        .into_iter()
        .map(|target| {
            let (runs, _) = table.observations(&target, n_col, crate::laws::TokensFrom::Column(d_col), &h_cols)?;
            let largest = runs.iter().map(|x| x.n).fold(0.0, f64::max);
            let (train, held): (Vec<Observation>, Vec<Observation>) = runs.into_iter().partition(|x| x.n < largest);
            let held = held.into_iter().enumerate().map(|(i, x)| (format!("row {i}"), x));
            extrapolate(form, target.clone(), &train, held, domains.clone(), opts)
        })
        .collect()
}
