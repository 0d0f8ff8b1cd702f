//! The point of a forgetting sweep (Bethune et al. 2025): how much of its pretraining a model
//! loses when finetuned on a new domain, how that grows with the finetuning tokens and shrinks
//! with model size and with the fraction p of pretraining data injected into finetuning; the
//! forgetting law and the finetuning law fitted on every size but the largest and checked on
//! it; and the paper's takeaway (1% injection stops most forgetting) measured on this data.

use std::collections::BTreeSet;

use crate::data::DOMAINS;
use crate::error::{Error, Result};
use crate::laws::{
    Chinchilla, FitOptions, FitResult, Forgetting, ForgettingTokens, Law, Observation, fit, relative_forgetting,
};
use crate::sweep::{HeldOutRun, SweepRow, held_out_mre};

/// A pretrained model of the sweep, before any finetuning.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PretrainedRun {
    /// Its run id.
    pub id: String,
    /// Non-embedding parameters N.
    pub n: f64,
    /// Its pretraining tokens.
    pub d: f64,
    /// Mean held-out loss over the built-in (pretraining) domains: L_pt(before).
    pub pretrain_loss: f64,
    /// Its loss on the target domain, never trained on.
    pub target_loss: f64,
}

/// One finetuning run, measured against the model it started from.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FinetunedRun {
    /// Its run id.
    pub id: String,
    /// The pretrained run it started from.
    pub from: String,
    /// Non-embedding parameters N.
    pub n: f64,
    /// Finetuning tokens D_ft (injected ones included).
    pub d: f64,
    /// Injected fraction p.
    pub p: f64,
    /// L_pt(before): the pretrained model's mean loss on the pretraining domains.
    pub before: f64,
    /// L_pt(after).
    pub after: f64,
    /// The fraction of pretraining progress lost [I]: (after − before) / (ln V − before), where
    /// ln V (uniform prediction over the vocabulary) stands for the random initialisation.
    pub relative: f64,
    /// The loss on the target domain after finetuning.
    pub target_loss: f64,
}

/// Means over the runs of one injected fraction.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct InjectionSummary {
    /// The injected fraction p.
    pub p: f64,
    /// Runs averaged.
    pub runs: usize,
    /// Mean rise of the pretraining loss, L_pt(after) − L_pt(before).
    pub rise: f64,
    /// Mean fraction of pretraining progress lost.
    pub relative: f64,
    /// Mean target loss after finetuning.
    pub target_loss: f64,
    /// The share of the forgetting without injection that this fraction prevents, cell by
    /// cell (same size and tokens), averaged: 1 − rise(p) / rise(0). 1 = none left.
    pub prevented: f64,
}

/// One form of the forgetting law fitted on L_pt(after) below the largest size, and how well
/// it predicts the largest.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ForgettingFit {
    /// The fit.
    pub law: FitResult,
    /// Its predictions of L_pt(after) for the largest size.
    pub held_out: Vec<HeldOutRun>,
    /// Their mean relative error.
    pub mre: f64,
    /// That error per injected fraction, as (p, MRE): where the form holds and where not.
    pub mre_by_injection: Vec<(f64, f64)>,
}

/// Everything a forgetting sweep teaches, ready to print, plot or export.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ForgettingReport {
    /// The domain finetuned on.
    pub target: String,
    /// The pretrained models.
    pub pretrained: Vec<PretrainedRun>,
    /// Every finetuning run.
    pub finetuned: Vec<FinetunedRun>,
    /// The forgetting law of docs/papers.md [I] on L_pt(after), fitted below the largest size.
    pub forgetting: ForgettingFit,
    /// The injected-tokens form [I] (`ForgettingTokens`), fitted the same way.
    pub forgetting_tokens: ForgettingFit,
    /// Chinchilla on the target loss with D = (1 − p)·D_ft target tokens [I], fitted below the
    /// largest size.
    pub target_law: FitResult,
    /// Its predictions of the largest size's target loss.
    pub target_held_out: Vec<HeldOutRun>,
    /// Their mean relative error.
    pub target_mre: f64,
    /// Per injected fraction, ascending.
    pub by_injection: Vec<InjectionSummary>,
}

impl ForgettingReport {
    /// The paper's takeaway checked here, in words: how much forgetting 1% injection (or the
    /// smallest fraction above 0 the sweep has) prevents.
    pub fn takeaway(&self) -> String {
        let (Some(none), Some(small)) =
            (self.by_injection.iter().find(|s| s.p == 0.0), self.by_injection.iter().find(|s| s.p > 0.0))
        else {
            return "the sweep needs runs without injection and with some to compare them".into();
        };
        let verdict =
            if small.prevented >= 0.5 { "prevents most forgetting" } else { "does not prevent most forgetting" };
        format!(
            "{:.0}% injection {verdict} here: it removes {:.0}% of the pretraining-loss rise of finetuning without injection (mean over {} cells), target loss {:+.3} nats",
            100.0 * small.p,
            100.0 * small.prevented,
            small.runs,
            small.target_loss - none.target_loss
        )
    }
}

fn column(row: &SweepRow, name: &str) -> Result<f64> {
    row.columns
        .get(&format!("{name}_loss"))
        .copied()
        .ok_or_else(|| Error::Fit(format!("run {} has no {name}_loss column", row.id)))
}

/// Mean loss over the built-in (pretraining) domains.
fn pretrain_loss(row: &SweepRow) -> Result<f64> {
    let mut sum = 0.0;
    for d in DOMAINS {
        sum += column(row, d.name())?;
    }
    Ok(sum / DOMAINS.len() as f64)
}

/// Injected fraction of a finetuning row: its weight on the built-in domains.
fn injected(row: &SweepRow) -> f64 {
    let w = &row.config.mixture;
    let total: f64 = w.iter().sum();
    w.iter().take(DOMAINS.len()).sum::<f64>() / total.max(f64::MIN_POSITIVE)
}

/// Measures every finetuning run of `rows` (a complete forgetting sweep) against its pretrained
/// model, fits both laws on all sizes but the largest and predicts the largest.
pub fn fit_forgetting(rows: &[SweepRow], opts: &FitOptions) -> Result<ForgettingReport> {
    let Some(target) = rows.iter().find_map(|r| r.config.texts.last().map(|t| t.name.clone())) else {
        return Err(Error::Fit(
            "the sweep has no target domain (a forgetting sweep finetunes on a text domain)".into(),
        ));
    };
    let sources: BTreeSet<&str> = rows.iter().filter_map(|r| r.config.init_from.as_deref()).collect();
    if sources.is_empty() {
        return Err(Error::Fit("the sweep holds no finetuning runs (no run starts from another)".into()));
    }
    let ln_vocab = |r: &SweepRow| (r.config.model.vocab as f64).ln();
    let mut pretrained = Vec::new();
    for r in rows.iter().filter(|r| sources.contains(r.id.as_str())) {
        pretrained.push(PretrainedRun {
            id: r.id.clone(),
            n: r.non_embedding_params as f64,
            d: r.n_tokens as f64,
            pretrain_loss: pretrain_loss(r)?,
            target_loss: column(r, &target)?,
        });
    }
    let mut finetuned = Vec::new();
    for r in rows.iter().filter(|r| r.config.init_from.is_some()) {
        let from = r.config.init_from.clone().unwrap_or_default();
        let Some(base) = pretrained.iter().find(|p| p.id == from) else {
            return Err(Error::Fit(format!("run {} starts from `{from}`, which the sweep file does not hold", r.id)));
        };
        let after = pretrain_loss(r)?;
        finetuned.push(FinetunedRun {
            id: r.id.clone(),
            from,
            n: r.non_embedding_params as f64,
            d: r.n_tokens as f64,
            p: injected(r),
            before: base.pretrain_loss,
            after,
            relative: relative_forgetting(base.pretrain_loss, after, ln_vocab(r)),
            target_loss: column(r, &target)?,
        });
    }
    let sizes: BTreeSet<u64> = finetuned.iter().map(|f| f.n as u64).collect();
    if sizes.len() < 3 {
        return Err(Error::Fit(format!(
            "the sweep finetunes {} size(s); fitting on all but the largest needs at least three",
            sizes.len()
        )));
    }
    let largest = sizes.last().copied().unwrap_or(0) as f64;
    let forgetting_obs = |f: &FinetunedRun| Observation { n: f.n, d: f.d, h: vec![f.p, f.before], loss: f.after };
    let target_obs =
        |f: &FinetunedRun| Observation { n: f.n, d: (1.0 - f.p) * f.d, h: Vec::new(), loss: f.target_loss };
    let (small, big): (Vec<&FinetunedRun>, Vec<&FinetunedRun>) = finetuned.iter().partition(|f| f.n < largest);
    let fit_and_hold =
        |law: &dyn Law, obs: &dyn Fn(&FinetunedRun) -> Observation| -> Result<(FitResult, Vec<HeldOutRun>)> {
            let data: Vec<Observation> = small.iter().map(|f| obs(f)).collect();
            let result = fit(law, &data, opts)?;
            let theta = result.theta();
            let held = big
                .iter()
                .map(|f| {
                    let x = obs(f);
                    HeldOutRun { id: f.id.clone(), predicted: law.predict(&theta, &x), measured: x.loss }
                })
                .collect();
            Ok((result, held))
        };
    let by_p = by_injection(&finetuned);
    let forgetting_fit = |law: &dyn Law| -> Result<ForgettingFit> {
        let (law, held_out) = fit_and_hold(law, &forgetting_obs)?;
        let mre_by_injection = by_p
            .iter()
            .map(|s| {
                let at_p: Vec<HeldOutRun> = held_out
                    .iter()
                    .filter(|h| big.iter().any(|f| f.id == h.id && (f.p - s.p).abs() < 1e-9))
                    .cloned()
                    .collect();
                (s.p, held_out_mre(&at_p))
            })
            .collect();
        Ok(ForgettingFit { mre: held_out_mre(&held_out), law, held_out, mre_by_injection })
    };
    let forgetting = forgetting_fit(&Forgetting)?;
    let forgetting_tokens = forgetting_fit(&ForgettingTokens)?;
    let (target_law, target_held_out) = fit_and_hold(&Chinchilla, &target_obs)?;
    Ok(ForgettingReport {
        by_injection: by_p,
        target_mre: held_out_mre(&target_held_out),
        target,
        pretrained,
        finetuned,
        forgetting,
        forgetting_tokens,
        target_law,
        target_held_out,
    })
}

fn by_injection(runs: &[FinetunedRun]) -> Vec<InjectionSummary> {
    let mut ps: Vec<f64> = runs.iter().map(|f| f.p).collect();
    ps.sort_by(f64::total_cmp);
    ps.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let same = |a: f64, b: f64| (a - b).abs() < 1e-9;
    ps.iter()
        .map(|&p| {
            let of: Vec<&FinetunedRun> = runs.iter().filter(|f| same(f.p, p)).collect();
            let mean = |v: &dyn Fn(&FinetunedRun) -> f64| of.iter().map(|f| v(f)).sum::<f64>() / of.len().max(1) as f64;
            // Each cell against the same size and tokens without injection.
            let shares: Vec<f64> = of
                .iter()
                .filter_map(|f| {
                    let none = runs.iter().find(|g| same(g.p, 0.0) && g.n == f.n && g.d == f.d)?;
                    let rise0 = none.after - none.before;
                    (rise0 > 0.0).then(|| 1.0 - (f.after - f.before) / rise0)
                })
                .collect();
            InjectionSummary {
                p,
                runs: of.len(),
                rise: mean(&|f| f.after - f.before),
                relative: mean(&|f| f.relative),
                target_loss: mean(&|f| f.target_loss),
                prevented: shares.iter().sum::<f64>() / shares.len().max(1) as f64,
            }
        })
        .collect()
}
