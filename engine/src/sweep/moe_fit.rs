//! The point of an MoE sparsity sweep (Abnar et al. 2025): at each model size and token budget
//! the active parameters, and so the training compute, are fixed while the expert count E (the
//! total parameters) grows, so each (size, budget) is an IsoFLOP slice over sparsity
//! S = (E − K)/E. Fit the MoE law on every size but the largest, predict the largest, and ask
//! the law the paper's question: which sparsity, at which size, is optimal for a compute budget?

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::laws::{FitOptions, FitResult, Law, MoeSparsity, Observation, fit, golden_min};
use crate::models::{Ffn, GptConfig};
use crate::sweep::{HeldOutRun, SweepRow, held_out_mre};

/// One run of the sweep.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MoeRun {
    /// Its run id.
    pub id: String,
    /// Its size label (`w48l2`): the slice it belongs to, with its budget.
    pub size: String,
    /// Experts E.
    pub experts: usize,
    /// Sparsity S = (E − K)/E.
    pub sparsity: f64,
    /// Non-embedding parameters, every expert counted: the law's N.
    pub n_total: f64,
    /// Non-embedding parameters a token passes through (router and K experts).
    pub n_active: f64,
    /// Training tokens D.
    pub tokens: f64,
    /// Training FLOPs, 6·N_active·D.
    pub flops: f64,
    /// Final held-out mean loss.
    pub loss: f64,
    /// The fitted law's prediction of it.
    pub predicted: f64,
    /// Whether its size was held out of the fit (the prediction is then an extrapolation).
    pub held_out: bool,
}

/// One IsoFLOP slice: a size and budget, its runs by sparsity.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct IsoFlopSlice {
    /// Size label and budget, e.g. `w48l2 · 300 steps`.
    pub label: String,
    /// Its compute (FLOPs, equal for every run of the slice).
    pub flops: f64,
    /// Whether its size was held out of the fit.
    pub held_out: bool,
    /// (S, measured loss, the law's prediction), by ascending S.
    pub points: Vec<[f64; 3]>,
    /// The measured best sparsity of the slice.
    pub best_sparsity: f64,
}

/// The law's optimum for one compute budget.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OptimalSparsity {
    /// Training FLOPs.
    pub flops: f64,
    /// Optimal sparsity S*.
    pub sparsity: f64,
    /// Width of the optimal model (continuous: the law sees parameter counts, not layers).
    pub width: f64,
    /// Its total non-embedding parameters N*.
    pub n_total: f64,
    /// Its active non-embedding parameters N_a*.
    pub n_active: f64,
    /// Its tokens D* = C / (6·N_a*).
    pub tokens: f64,
    /// The predicted loss there.
    pub loss: f64,
    /// The best dense model's predicted loss at the same compute (S = 0).
    pub dense_loss: f64,
    /// That dense model's (active = total) non-embedding parameters: beside `n_active`, how
    /// much smaller per token the optimal sparse model is.
    pub dense_n: f64,
}

/// Everything an MoE sparsity sweep teaches, ready to print, plot or export.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MoeReport {
    /// Experts per token K of the sweep.
    pub top_k: usize,
    /// Every run.
    pub runs: Vec<MoeRun>,
    /// The MoE law fitted below the largest size.
    pub law: FitResult,
    /// Its predictions of the largest size's runs.
    pub held_out: Vec<HeldOutRun>,
    /// Their mean relative error.
    pub mre: f64,
    /// The IsoFLOP slices, by size and budget.
    pub slices: Vec<IsoFlopSlice>,
    /// The law's optimal sparsity per compute budget, ascending, from a decade below the
    /// sweep's compute to two above.
    pub optimal: Vec<OptimalSparsity>,
}

/// Layers, blocks' shape and K of an MoE model: what the parameter counts of a continuous
/// width depend on.
#[derive(Clone, Copy, Debug)]
struct Family {
    layers: f64,
    mlp_ratio: f64,
    head_dim: f64,
    qk_norm: bool,
    top_k: f64,
}

impl Family {
    /// (total, active) non-embedding parameters at width `c` with `experts` experts (both
    /// real: the law's optimum is looked for between the sizes a sweep can train). Equal to
    /// `GptConfig`'s counts at integer points (tested).
    fn params(&self, c: f64, experts: f64) -> (f64, f64) {
        let h = self.mlp_ratio * c;
        let qk = if self.qk_norm { 4.0 * self.head_dim } else { 0.0 };
        let dense = 4.0 * c + (3.0 * c * c + 3.0 * c) + (c * c + c) + qk + experts * c;
        let expert = c * h + h + h * c + c;
        let total = self.layers * (dense + experts * expert) + 2.0 * c;
        let active = self.layers * (dense + self.top_k * expert) + 2.0 * c;
        (total, active)
    }
}

fn moe_of(cfg: &GptConfig) -> Option<(usize, usize)> {
    match &cfg.ffn {
        Ffn::Moe(m) => Some((m.experts, m.top_k)),
        Ffn::Dense => None,
    }
}

/// Active parameters outside the embeddings (and an untied head).
fn active_non_embedding(cfg: &GptConfig) -> usize {
    let embeddings = (cfg.vocab + cfg.context) * cfg.d_model;
    let head = if cfg.tied_head { 0 } else { cfg.vocab * cfg.d_model };
    cfg.active_params() - embeddings - head
}

/// Fits the MoE law on `rows` (a complete MoE sparsity sweep) below the largest size, predicts
/// the largest, lays out the IsoFLOP slices and finds the law's optimal sparsity per budget.
pub fn fit_moe_sparsity(rows: &[SweepRow], opts: &FitOptions) -> Result<MoeReport> {
    let mut runs = Vec::new();
    let mut family = None;
    for r in rows {
        let Some((experts, top_k)) = moe_of(&r.config.model) else {
            return Err(Error::Fit(format!("run {} has a dense FFN; an MoE sparsity sweep trains experts", r.id)));
        };
        let loss =
            r.columns.get("mean_loss").copied().ok_or_else(|| Error::Fit(format!("run {} has no mean_loss", r.id)))?;
        let m = &r.config.model;
        family.get_or_insert(Family {
            layers: m.n_layers as f64,
            mlp_ratio: m.mlp_ratio as f64,
            head_dim: (m.d_model / m.n_heads.max(1)) as f64,
            qk_norm: m.qk_norm,
            top_k: top_k as f64,
        });
        let n_active = active_non_embedding(m) as f64;
        let tokens = r.n_tokens as f64;
        runs.push(MoeRun {
            id: r.id.clone(),
            size: r.id.split('-').next().unwrap_or(&r.id).to_string(),
            experts,
            sparsity: (experts - top_k) as f64 / experts as f64,
            n_total: r.non_embedding_params as f64,
            n_active,
            tokens,
            flops: 6.0 * n_active * tokens,
            loss,
            predicted: f64::NAN,
            held_out: false,
        });
    }
    let Some(family) = family else {
        return Err(Error::Fit("the sweep file holds no runs".into()));
    };
    let top_k = family.top_k as usize;
    let actives: BTreeSet<u64> = runs.iter().map(|r| r.n_active as u64).collect();
    let sparsities: BTreeSet<u64> = runs.iter().map(|r| (r.sparsity * 1e6).round() as u64).collect();
    if actives.len() < 3 || sparsities.len() < 2 {
        return Err(Error::Fit(format!(
            "the sweep has {} active size(s) and {} sparsity value(s); the fit needs at least three sizes (all but the largest are fitted) and two sparsities",
            actives.len(),
            sparsities.len()
        )));
    }
    // The largest size's runs have more active parameters than any other's (K fixed).
    let largest = runs.iter().map(|r| r.n_active).fold(0.0, f64::max);
    let largest_size = runs.iter().find(|r| r.n_active == largest).map(|r| r.size.clone()).unwrap_or_default();
    let obs = |r: &MoeRun| Observation { n: r.n_total, d: r.tokens, h: vec![r.sparsity], loss: r.loss };
    let train: Vec<Observation> = runs.iter().filter(|r| r.size != largest_size).map(obs).collect();
    let law = MoeSparsity::default();
    let result = fit(&law, &train, opts)?;
    let theta = result.theta();
    let predict = |n: f64, d: f64, s: f64| law.predict(&theta, &Observation { n, d, h: vec![s], loss: 0.0 });
    for r in &mut runs {
        r.predicted = predict(r.n_total, r.tokens, r.sparsity);
        r.held_out = r.size == largest_size;
    }
    let held_out: Vec<HeldOutRun> = runs
        .iter()
        .filter(|r| r.held_out)
        .map(|r| HeldOutRun { id: r.id.clone(), predicted: r.predicted, measured: r.loss })
        .collect();

    let mut slices: Vec<IsoFlopSlice> = Vec::new();
    // One run was made per row, in row order.
    for (r, row) in runs.iter().zip(rows) {
        let steps = row.config.steps;
        let label = format!("{} · {steps} steps", r.size);
        let point = [r.sparsity, r.loss, r.predicted];
        match slices.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(point),
            None => slices.push(IsoFlopSlice {
                label,
                flops: r.flops,
                held_out: r.held_out,
                points: vec![point],
                best_sparsity: 0.0,
            }),
        }
    }
    for s in &mut slices {
        s.points.sort_by(|a, b| a[0].total_cmp(&b[0]));
        s.best_sparsity = s.points.iter().min_by(|a, b| a[1].total_cmp(&b[1])).map_or(0.0, |p| p[0]);
    }

    let flops: Vec<f64> = runs.iter().map(|r| r.flops).collect();
    let (lo, hi) =
        (flops.iter().copied().fold(f64::INFINITY, f64::min) / 10.0, flops.iter().copied().fold(0.0, f64::max) * 100.0);
    let max_experts = crate::kernels::moe::MAX_EXPERTS as f64;
    let optimal = (0..=12)
        .map(|i| lo * (hi / lo).powf(i as f64 / 12.0))
        .map(|c| optimum(&family, c, max_experts, &predict))
        .collect();
    Ok(MoeReport { top_k, mre: held_out_mre(&held_out), runs, law: result, held_out, slices, optimal })
}

/// The law's best (S, width) at compute `c`: for each sparsity on a grid up to the most
/// experts a layer may have, the best width by golden-section search in log width.
fn optimum(family: &Family, c: f64, max_experts: f64, predict: &dyn Fn(f64, f64, f64) -> f64) -> OptimalSparsity {
    let at = |s: f64, ln_w: f64| {
        let w = ln_w.exp();
        let experts = family.top_k / (1.0 - s);
        let (total, active) = family.params(w, experts);
        let tokens = c / (6.0 * active);
        (predict(total, tokens, s), w, total, active, tokens)
    };
    let best_width = |s: f64| golden_min(|x| at(s, x).0, 4f64.ln(), 8192f64.ln());
    let s_max = 1.0 - family.top_k / max_experts;
    let mut best = (f64::INFINITY, 0.0);
    for i in 0..=100 {
        let s = s_max * i as f64 / 100.0;
        let l = at(s, best_width(s)).0;
        if l < best.0 {
            best = (l, s);
        }
    }
    let s = best.1;
    let (loss, width, n_total, n_active, tokens) = at(s, best_width(s));
    let (dense_loss, _, dense_n, _, _) = at(0.0, best_width(0.0));
    OptimalSparsity { flops: c, sparsity: s, width, n_total, n_active, tokens, loss, dense_loss, dense_n }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MoeConfig;

    #[test]
    fn the_continuous_counts_match_the_models_at_integer_points() {
        for (c, heads, e, k, qk) in [(32, 2, 1, 1, false), (48, 3, 8, 1, true), (64, 4, 16, 2, false)] {
            let cfg = GptConfig {
                d_model: c,
                n_heads: heads,
                qk_norm: qk,
                ffn: Ffn::Moe(MoeConfig { experts: e, top_k: k, ..MoeConfig::default() }),
                ..GptConfig::default()
            };
            let f = Family { layers: 2.0, mlp_ratio: 4.0, head_dim: 16.0, qk_norm: qk, top_k: k as f64 };
            let (total, active) = f.params(c as f64, e as f64);
            assert_eq!(total as usize, cfg.non_embedding_params(), "{c} {e} {k}");
            assert_eq!(active as usize, active_non_embedding(&cfg), "{c} {e} {k}");
        }
    }
}
