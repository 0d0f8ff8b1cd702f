//! The EMA scaling rule as an experiment (docs/papers.md §10, Busbridge et al. 2023): BYOL at a
//! base batch B and at κ·B over the same number of samples, once with the rule (target decay
//! ρ → ρ^κ) and once without it (ρ unchanged); both arms scale Adam by its square-root rule
//! (`laws::scale_hyper` [I]: √κ·η, 1 − β by κ, ε/√κ), so the only difference is the target's
//! decay. With the rule, curves against samples seen should lie on each other; without it
//! the larger batches' targets move too slowly for their fewer steps.

use std::sync::atomic::AtomicBool;

use crate::error::{Error, Result};
use crate::laws::{Hyper, Optimizer, scale_hyper};
use crate::optim::AdamWConfig;
use crate::selfsup::SelfsupEvent;
use crate::selfsup::byol::{ByolConfig, ByolRecord, train_byol_async};
use crate::tensor::Device;

/// The experiment: the base run and the batch multipliers κ.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmaRuleConfig {
    /// The κ = 1 run: batch B, steps, ρ, learning rate and warm-up.
    pub base: ByolConfig,
    /// Batch multipliers; each must divide the base steps (1 is always run, as the reference).
    pub kappas: Vec<usize>,
    /// Probes along each run, at equal numbers of samples seen (the last at the end).
    pub probes: usize,
}

impl Default for EmaRuleConfig {
    fn default() -> Self {
        let mut base = ByolConfig {
            samples: 32,
            steps: 1600,
            ema_decay: 0.999,
            log_every: 16,
            probe_images: 8000,
            ..ByolConfig::default()
        };
        base.schedule.lr = 5e-4;
        base.optim.weight_decay = 0.0;
        base.optim.grad_clip = 0.0;
        EmaRuleConfig { base, kappas: vec![1, 2, 4, 8], probes: 4 }
    }
}

/// One run of the experiment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmaRuleRun {
    /// Batch multiplier.
    pub kappa: usize,
    /// Whether ρ was scaled to ρ^κ (at κ = 1 both arms are this one run).
    pub rule: bool,
    /// The run's own settings.
    pub config: ByolConfig,
}

impl EmaRuleRun {
    /// The run's arm: "base" (κ = 1, shared by both), "rule" (ρ^κ) or "fixed" (ρ unchanged).
    pub fn arm(&self) -> &'static str {
        match (self.kappa, self.rule) {
            (1, _) => "base",
            (_, true) => "rule",
            (_, false) => "fixed",
        }
    }
}

/// A finished run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EmaRuleRecord {
    /// What was run.
    pub run: EmaRuleRun,
    /// What it measured.
    pub record: ByolRecord,
}

impl EmaRuleRecord {
    /// The final probe test accuracy of `which` encoder.
    pub fn final_accuracy(&self, which: Probed) -> f64 {
        match which {
            Probed::Online => self.record.probe_after.1,
            Probed::Target => self.record.target_after.1,
        }
    }
}

impl EmaRuleConfig {
    /// `base` at κ·B: steps / κ, Adam by its square-root rule (√κ·η, 1 − β by κ, ε/√κ [I]),
    /// warm-up / κ (the same samples), reads and probes at the same samples seen; ρ^κ with the
    /// rule, ρ without.
    pub fn scaled(&self, kappa: usize, rule: bool) -> Result<ByolConfig> {
        let b = &self.base;
        if kappa == 0 || !b.steps.is_multiple_of(kappa) {
            return Err(Error::Config(format!(
                "EMA rule: κ = {kappa} does not divide the {} base steps into whole steps of {}·{} samples; \
                 use a κ that divides {} (the runs must see the same samples)",
                b.steps, kappa, b.samples, b.steps
            )));
        }
        let steps = b.steps / kappa;
        let probe_every = steps.checked_div(self.probes).unwrap_or(0);
        let o = &b.optim;
        let base = Hyper {
            batch: b.samples as f64,
            lr: b.schedule.lr as f64,
            ema: b.ema_decay,
            beta1: o.beta1 as f64,
            beta2: o.beta2 as f64,
            eps: o.eps as f64,
        };
        let h = scale_hyper(&base, kappa as f64, Optimizer::Adam);
        if h.beta1 <= 0.0 || h.beta2 <= 0.0 {
            return Err(Error::Config(format!(
                "EMA rule: Adam's rule 1 − β̂ = κ(1 − β) takes β1 = {}, β2 = {} to {:.3}, {:.3} at κ = {kappa}; \
                 use a smaller κ or base betas closer to 1",
                o.beta1, o.beta2, h.beta1, h.beta2
            )));
        }
        let optim = AdamWConfig { beta1: h.beta1 as f32, beta2: h.beta2 as f32, eps: h.eps as f32, ..o.clone() };
        let mut schedule = b.schedule.clone();
        schedule.lr = h.lr as f32;
        schedule.warmup = (schedule.warmup as f64 / kappa as f64).round() as usize;
        let cfg = ByolConfig {
            samples: b.samples * kappa,
            optim,
            steps,
            ema_decay: if rule { h.ema } else { b.ema_decay },
            schedule,
            log_every: (b.log_every / kappa).max(1),
            probe_every,
            ..b.clone()
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Every run in order: κ = 1 once, then each larger κ with and without the rule.
    pub fn plan(&self) -> Result<Vec<EmaRuleRun>> {
        if self.kappas.is_empty() || self.kappas.contains(&0) {
            return Err(Error::Config(format!("EMA rule: κ values must be positive, got {:?}", self.kappas)));
        }
        let most = self.kappas.iter().copied().max().unwrap_or(1);
        if self.probes == 0 {
            return Err(Error::Config("EMA rule: probe each run at least once (probes ≥ 1)".into()));
        }
        if self.base.steps < self.probes * most {
            return Err(Error::Config(format!(
                "EMA rule: {} probes per run need at least {} base steps at κ up to {most}, got {}",
                self.probes,
                self.probes * most,
                self.base.steps
            )));
        }
        let mut kappas = self.kappas.clone();
        kappas.push(1);
        kappas.sort_unstable();
        kappas.dedup();
        let mut runs = Vec::new();
        for kappa in kappas {
            let arms: &[bool] = if kappa == 1 { &[true] } else { &[true, false] };
            for &rule in arms {
                runs.push(EmaRuleRun { kappa, rule, config: self.scaled(kappa, rule)? });
            }
        }
        Ok(runs)
    }
}

/// Which encoder a probe reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probed {
    /// The online encoder (what BYOL keeps).
    Online,
    /// The target encoder (the EMA the rule is about).
    Target,
}

/// Final probe accuracy spread (max − min) of `which` encoder over the runs of one arm, κ = 1
/// counted in both.
pub fn spread(records: &[EmaRuleRecord], rule: bool, which: Probed) -> Option<f64> {
    let acc: Vec<f64> =
        records.iter().filter(|r| r.run.rule == rule || r.run.kappa == 1).map(|r| r.final_accuracy(which)).collect();
    if acc.len() < 2 {
        return None;
    }
    let max = acc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = acc.iter().copied().fold(f64::INFINITY, f64::min);
    Some(max - min)
}

/// Per κ > 1 with both arms finished: the rule's final probe accuracy minus ρ fixed's, of
/// `which` encoder (positive where the rule helped).
pub fn rule_gains(records: &[EmaRuleRecord], which: Probed) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for with in records.iter().filter(|r| r.run.rule && r.run.kappa > 1) {
        if let Some(without) = records.iter().find(|r| !r.run.rule && r.run.kappa == with.run.kappa) {
            out.push((with.run.kappa, with.final_accuracy(which) - without.final_accuracy(which)));
        }
    }
    out
}

/// The curves as CSV against samples seen: kappa, arm (base, rule, fixed), ρ, what (loss,
/// probe of the online encoder, target_probe), samples seen, value.
pub fn curves_csv(records: &[EmaRuleRecord]) -> String {
    let mut text = String::from("kappa,arm,ema_decay,what,samples_seen,value\n");
    for r in records {
        let arm = r.run.arm();
        let rho = r.run.config.ema_decay;
        for (step, loss) in &r.record.curve {
            text.push_str(&format!("{},{arm},{rho:.6},loss,{},{loss:.6}\n", r.run.kappa, r.record.samples_seen(*step)));
        }
        for (what, probes) in [("probe", &r.record.probes), ("target_probe", &r.record.target_probes)] {
            for (step, acc) in probes {
                let seen = r.record.samples_seen(*step);
                text.push_str(&format!("{},{arm},{rho:.6},{what},{seen},{acc:.6}\n", r.run.kappa));
            }
        }
    }
    text
}

/// Runs the plan in order, handing each finished run to `on_record` (to be written out
/// before the next starts) and every run's progress to `on_event` with its index. Returns
/// `None` once `stop` is set.
pub async fn run_ema_rule_async(
    device: &Device,
    cfg: &EmaRuleConfig,
    stop: &AtomicBool,
    on_record: &mut dyn FnMut(&EmaRuleRecord) -> Result<()>,
    on_event: &mut dyn FnMut(usize, &SelfsupEvent),
) -> Result<Option<Vec<EmaRuleRecord>>> {
    let runs = cfg.plan()?;
    let mut out = Vec::with_capacity(runs.len());
    for (i, run) in runs.into_iter().enumerate() {
        let Some(record) = train_byol_async(device, &run.config, stop, &mut |e| on_event(i, e)).await? else {
            return Ok(None);
        };
        let done = EmaRuleRecord { run, record };
        on_record(&done)?;
        out.push(done);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_keeps_samples_seen_and_scales_rho_only_with_the_rule() {
        let cfg = EmaRuleConfig::default();
        let runs = cfg.plan().expect("plans");
        assert_eq!(runs.len(), 7);
        let base = &cfg.base;
        for r in &runs {
            let c = &r.config;
            assert_eq!(c.samples * c.steps, base.samples * base.steps, "κ = {}", r.kappa);
            let want = if r.rule { base.ema_decay.powi(r.kappa as i32) } else { base.ema_decay };
            assert!((c.ema_decay - want).abs() < 1e-12);
            assert!((c.schedule.lr - base.schedule.lr * (r.kappa as f32).sqrt()).abs() < 1e-9);
            assert_eq!(c.probe_every * cfg.probes, c.steps);
        }
        let err = cfg.scaled(3, true).unwrap_err().to_string();
        assert!(err.contains("κ = 3") && err.contains("1600"), "{err}");
        // Adam's rule needs κ(1 − β1) < 1: β1 = 0.9 allows κ up to 9.
        let err = cfg.scaled(16, true).unwrap_err().to_string();
        assert!(err.contains("κ = 16") && err.contains("β1 = 0.9"), "{err}");
        let err = EmaRuleConfig { kappas: vec![1, 0], ..cfg.clone() }.plan().unwrap_err().to_string();
        assert!(err.contains("[1, 0]"), "{err}");
    }
}
