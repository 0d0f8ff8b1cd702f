//! What a sweep trains: a grid of model sizes × token budgets × mixtures over the built-in
//! domains (and the text domains its base configuration adds), each cell a full `RunConfig` with a stable id, so a killed sweep can resume and a
//! sharded one can be merged without any run lost or repeated.

use crate::error::{Error, Result};
use crate::kernels::distill::DistillLoss;
use crate::models::{Ffn, GptConfig};
use crate::nn::MoeConfig;
use crate::optim::LrSchedule;
use crate::rng::Rng;
use crate::train::{DistillSpec, RunConfig};

/// One model size of the grid.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSize {
    /// Width C.
    pub d_model: usize,
    /// Blocks.
    pub n_layers: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Peak learning rate of this size (absent: the base schedule's). Smaller models want
    /// larger steps: one rate for every width leaves the small ones undertrained and bends
    /// the law (the classroom preset scales it as 1/width).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
}

/// How the mixtures of a sweep are chosen.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum MixtureDesign {
    /// The uniform mixture, then `count − 1` draws from a symmetric Dirichlet(`alpha`), each
    /// weight floored at `floor` and renormalised (a domain the model never sees gives a loss
    /// no smooth law follows).
    Dirichlet {
        /// Mixtures in all, the uniform one included.
        count: usize,
        /// Concentration: 1 spreads draws evenly over the simplex, < 1 favours corners.
        alpha: f64,
        /// Smallest weight of any domain.
        floor: f64,
        /// Seed of the draws.
        seed: u64,
    },
    /// Every point of the simplex grid with weights in steps of 1/`steps` and each weight ≥
    /// 1/`steps` (no domain left out).
    Grid {
        /// Divisions of the unit interval.
        steps: usize,
    },
}

impl MixtureDesign {
    /// The mixtures over `k` domains, in a fixed order.
    pub fn mixtures(&self, k: usize) -> Result<Vec<Vec<f64>>> {
        match *self {
            MixtureDesign::Dirichlet { count, alpha, floor, seed } => {
                if count == 0 || alpha.is_nan() || alpha <= 0.0 || !(0.0..1.0 / k as f64).contains(&floor) {
                    return Err(Error::Config(format!(
                        "Dirichlet mixtures need count ≥ 1, alpha > 0 and 0 ≤ floor < 1/{k}; got {count}, {alpha}, {floor}"
                    )));
                }
                let mut rng = Rng::new(seed);
                let mut out = vec![vec![1.0 / k as f64; k]];
                while out.len() < count {
                    let h = rng.dirichlet(k, alpha);
                    let lifted: Vec<f64> = h.iter().map(|v| v.max(floor)).collect();
                    let s: f64 = lifted.iter().sum();
                    out.push(lifted.iter().map(|v| round6(v / s)).collect());
                }
                Ok(out)
            }
            MixtureDesign::Grid { steps } => {
                if steps < k {
                    return Err(Error::Config(format!(
                        "a simplex grid over {k} domains needs steps ≥ {k}, got {steps}"
                    )));
                }
                let mut out = Vec::new();
                compositions(steps, k, &mut Vec::new(), &mut out);
                Ok(out.into_iter().map(|c| c.iter().map(|&v| round6(v as f64 / steps as f64)).collect()).collect())
            }
        }
    }
}

/// Rounds to 6 decimals so mixtures print and compare cleanly in the JSONL.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// All ways to write `total` as `parts` positive integers, in lexicographic order.
fn compositions(total: usize, parts: usize, prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if parts == 1 {
        let mut c = prefix.clone();
        c.push(total);
        out.push(c);
        return;
    }
    for first in 1..=total - (parts - 1) {
        prefix.push(first);
        compositions(total - first, parts - 1, prefix, out);
        prefix.pop();
    }
}

/// A sweep: its name, the base run every cell starts from, and the grid.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepPlan {
    /// Name, written into every row.
    pub name: String,
    /// What a cell changes nothing of: context, batch, schedule, optimiser, seed, data size.
    pub base: RunConfig,
    /// Model sizes, smallest first; the largest is held out when the law is fitted.
    pub sizes: Vec<ModelSize>,
    /// Token budgets as optimiser steps (D = steps × batch × context).
    pub steps: Vec<usize>,
    /// How the mixtures are drawn.
    pub mixtures: MixtureDesign,
    /// A fractional design: the first mixture is trained at every budget, the others only at
    /// these (each one of `steps`). The additive law's mixture term does not depend on N or
    /// D, so the mixtures need not be crossed with every budget: the time goes into longer
    /// runs instead (the joint law's mixture-dependent N term is still seen across the sizes,
    /// its mixture-dependent D term is not). Absent: every mixture at every budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixture_steps: Option<Vec<usize>>,
    /// A distillation sweep: teachers trained first, then every student cell trained both
    /// supervised and from each teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distill: Option<DistillGrid>,
    /// A forgetting sweep: every size pretrained on the built-in domains, then finetuned on the
    /// base configuration's last text domain for each of `steps` with each injected fraction
    /// (`mixtures` is not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forgetting: Option<ForgettingGrid>,
    /// An MoE sparsity sweep: every size × budget trained with each expert count at a fixed
    /// top-K, so each (size, budget) is an IsoFLOP slice over sparsity (`mixtures` uses its
    /// first mixture only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moe: Option<MoeGrid>,
}

/// The experts of an MoE sparsity sweep (Abnar et al. 2025): at fixed top-K the active
/// parameters, and so the compute per token, stay those of the size, while the total grows
/// with E: sparsity S = (E − K)/E.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoeGrid {
    /// Expert counts E, each ≥ `top_k` (E = K is the dense point, S = 0: K experts always
    /// on, a dense FFN K times as wide).
    pub experts: Vec<usize>,
    /// Experts per token K.
    pub top_k: usize,
    /// Renormalise the K chosen gates to sum to 1. Off for top-1: its one gate would be 1
    /// whatever the router says, and the router would get no gradient (Switch Transformer's
    /// top-1 keeps the softmax probability as the gate).
    #[serde(default)]
    pub renorm: bool,
}

/// How a forgetting sweep pretrains and finetunes (Bethune et al. 2025).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgettingGrid {
    /// Pretraining steps of every size, on the built-in domains in equal parts.
    pub pretrain_steps: usize,
    /// Fractions p of pretraining data mixed into the finetuning batches (0 ≤ p < 1): each
    /// sequence is drawn from the built-in domains with probability p, from the target with 1 − p.
    pub injections: Vec<f64>,
    /// The finetuning runs' schedule (a fresh warmup from the pretrained weights).
    pub finetune: LrSchedule,
}

/// The teachers of a distillation sweep and the loss its students learn by.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillGrid {
    /// Teachers, each a size and its (supervised) training steps, on the first mixture.
    pub teachers: Vec<TeacherSpec>,
    /// Temperature τ and weight λ of the teacher's term.
    #[serde(default)]
    pub loss: DistillLoss,
}

/// One teacher of a distillation sweep.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TeacherSpec {
    /// Its size.
    pub size: ModelSize,
    /// Its training steps.
    pub steps: usize,
}

impl ModelSize {
    /// The id fragment of this size, e.g. `w48l2`.
    pub fn label(&self) -> String {
        format!("w{}l{}", self.d_model, self.n_layers)
    }

    /// `base` with this width, depth and head count.
    pub fn apply(&self, base: &GptConfig) -> GptConfig {
        GptConfig { d_model: self.d_model, n_layers: self.n_layers, n_heads: self.n_heads, ..base.clone() }
    }

    /// `base` with this size's peak learning rate, when it has one.
    pub fn schedule(&self, base: &LrSchedule) -> LrSchedule {
        LrSchedule { lr: self.lr.unwrap_or(base.lr), ..base.clone() }
    }
}

/// One cell of the grid.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    /// Position in the plan (what `--shard` splits on).
    pub index: usize,
    /// Stable id, e.g. `w48l2-s200-m03`: what resume and merge match rows on.
    pub id: String,
    /// The full configuration.
    pub config: RunConfig,
}

impl SweepPlan {
    /// Reads a plan written as JSON (print one with `sigmix sweep --preset NAME --show-plan`).
    pub fn from_file(path: &std::path::Path) -> Result<SweepPlan> {
        let plan: SweepPlan = crate::train::read_json(path)?;
        plan.runs()?;
        Ok(plan)
    }

    /// Every cell, sizes outermost (smallest first), then budgets, then mixtures.
    pub fn runs(&self) -> Result<Vec<PlannedRun>> {
        if self.sizes.is_empty() || self.steps.is_empty() {
            return Err(Error::Config("a sweep needs at least one size and one token budget".into()));
        }
        let kinds = [self.distill.is_some(), self.forgetting.is_some(), self.moe.is_some()];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(Error::Config(
                "a sweep is one of a distillation, a forgetting or an MoE sparsity sweep, not several".into(),
            ));
        }
        if let Some(f) = &self.forgetting {
            return self.forgetting_runs(f);
        }
        if let Some(m) = &self.moe {
            return self.moe_runs(m);
        }
        // The built-in domains and any text domains the base configuration adds.
        let mixtures = self.mixtures.mixtures(self.base.domain_names().len())?;
        let mixed_at = self.mixture_budgets()?;
        let mut out = Vec::new();
        let mut push = |id: String, size: &ModelSize, steps: usize, mixture: &[f64], distill: Option<DistillSpec>| {
            let config = RunConfig {
                name: format!("{}/{id}", self.name),
                model: size.apply(&self.base.model),
                schedule: size.schedule(&self.base.schedule),
                steps,
                mixture: mixture.to_vec(),
                distill,
                ..self.base.clone()
            };
            push_cell(&mut out, id, config)
        };
        // A distillation sweep trains its teachers first, so each is ready before its students.
        let teachers = self.distill.as_ref().map(|d| d.teachers.as_slice()).unwrap_or_default();
        if self.distill.as_ref().is_some_and(|d| d.teachers.is_empty()) {
            return Err(Error::Config("a distillation sweep needs at least one teacher".into()));
        }
        let teacher_id = |t: &TeacherSpec| format!("teacher-{}-s{}", t.size.label(), t.steps);
        for t in teachers {
            push(teacher_id(t), &t.size, t.steps, &mixtures[0], None)?;
        }
        for s in &self.sizes {
            for &steps in &self.steps {
                for (m, h) in mixtures.iter().enumerate() {
                    if m > 0 && !mixed_at.contains(&steps) {
                        continue;
                    }
                    let id = format!("{}-s{steps}-m{m:02}", s.label());
                    for t in teachers {
                        let spec = DistillSpec {
                            teacher: t.size.apply(&self.base.model),
                            teacher_run: teacher_id(t),
                            loss: self.distill.as_ref().map(|d| d.loss).unwrap_or_default(),
                        };
                        push(format!("{id}-kd-{}-s{}", t.size.label(), t.steps), s, steps, h, Some(spec))?;
                    }
                    push(id, s, steps, h, None)?;
                }
            }
        }
        Ok(out)
    }
}

impl SweepPlan {
    /// A forgetting sweep's cells: each size pretrained, then finetuned for each budget with
    /// each injected fraction.
    fn forgetting_runs(&self, f: &ForgettingGrid) -> Result<Vec<PlannedRun>> {
        let builtin = crate::data::DOMAINS.len();
        let domains = self.base.domain_names();
        let Some(target) = domains.get(builtin..).and_then(|t| t.last()) else {
            return Err(Error::Config(
                "a forgetting sweep finetunes on a text domain: give one (--text FILE), or use the `forgetting` preset's dialogue".into(),
            ));
        };
        if f.pretrain_steps == 0 || f.injections.is_empty() {
            return Err(Error::Config(format!(
                "a forgetting sweep needs pretraining steps ≥ 1 and at least one injected fraction; got {} steps and {} fractions",
                f.pretrain_steps,
                f.injections.len()
            )));
        }
        if let Some(p) = f.injections.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return Err(Error::Config(format!(
                "injected fraction {p} is not in [0, 1): it is the share of finetuning sequences drawn from the pretraining domains"
            )));
        }
        let pretrain_mixture: Vec<f64> =
            (0..domains.len()).map(|i| if i < builtin { 1.0 / builtin as f64 } else { 0.0 }).collect();
        let mut out: Vec<PlannedRun> = Vec::new();
        let mut push = |id: String, config: RunConfig| push_cell(&mut out, id, config);
        let pretrain_id = |s: &ModelSize| format!("pretrain-{}-s{}", s.label(), f.pretrain_steps);
        for s in &self.sizes {
            let id = pretrain_id(s);
            push(
                id.clone(),
                RunConfig {
                    name: format!("{}/{id}", self.name),
                    model: s.apply(&self.base.model),
                    schedule: s.schedule(&self.base.schedule),
                    steps: f.pretrain_steps,
                    mixture: pretrain_mixture.clone(),
                    distill: None,
                    init_from: None,
                    ..self.base.clone()
                },
            )?;
        }
        for s in &self.sizes {
            for &steps in &self.steps {
                for &p in &f.injections {
                    let id = format!("{}-ft{steps}-p{p:.3}", s.label());
                    let mixture = (0..domains.len())
                        .map(|i| match i {
                            i if i < builtin => round6(p / builtin as f64),
                            i if domains[i] == *target => round6(1.0 - p),
                            _ => 0.0,
                        })
                        .collect();
                    push(
                        id.clone(),
                        RunConfig {
                            name: format!("{}/{id}", self.name),
                            model: s.apply(&self.base.model),
                            steps,
                            schedule: f.finetune.clone(),
                            mixture,
                            distill: None,
                            init_from: Some(pretrain_id(s)),
                            ..self.base.clone()
                        },
                    )?;
                }
            }
        }
        Ok(out)
    }

    /// An MoE sparsity sweep's cells: sizes, then budgets, then expert counts (one IsoFLOP
    /// slice after another), on the first mixture.
    fn moe_runs(&self, m: &MoeGrid) -> Result<Vec<PlannedRun>> {
        if m.experts.is_empty() {
            return Err(Error::Config("an MoE sparsity sweep needs at least one expert count".into()));
        }
        if m.top_k == 1 && m.renorm {
            return Err(Error::Config(
                "top_k = 1 with renorm = true: the one chosen gate would be renormalised to 1 whatever the router says, so the router would get no gradient; set renorm to false".into(),
            ));
        }
        if let Some(e) = m.experts.iter().find(|e| **e < m.top_k) {
            return Err(Error::Config(format!(
                "{e} experts cannot route each token to top_k = {} of them: every expert count must be ≥ top_k",
                m.top_k
            )));
        }
        let mixture = self.mixtures.mixtures(self.base.domain_names().len())?.swap_remove(0);
        let mut out: Vec<PlannedRun> = Vec::new();
        for s in &self.sizes {
            for &steps in &self.steps {
                for &experts in &m.experts {
                    let id = format!("{}-s{steps}-e{experts:02}", s.label());
                    let ffn = Ffn::Moe(MoeConfig { experts, top_k: m.top_k, renorm: m.renorm, ..MoeConfig::default() });
                    let config = RunConfig {
                        name: format!("{}/{id}", self.name),
                        model: GptConfig { ffn, ..s.apply(&self.base.model) },
                        schedule: s.schedule(&self.base.schedule),
                        steps,
                        mixture: mixture.clone(),
                        distill: None,
                        init_from: None,
                        ..self.base.clone()
                    };
                    push_cell(&mut out, id, config)?;
                }
            }
        }
        Ok(out)
    }

    /// The budgets every mixture is trained at: `mixture_steps`, each checked to be one of
    /// `steps`, or every budget.
    fn mixture_budgets(&self) -> Result<Vec<usize>> {
        let Some(at) = &self.mixture_steps else { return Ok(self.steps.clone()) };
        if at.is_empty() {
            return Err(Error::Config(
                "mixture_steps is empty: name at least one of the budgets, or leave it out to train every mixture at every budget".into(),
            ));
        }
        if let Some(odd) = at.iter().find(|s| !self.steps.contains(s)) {
            return Err(Error::Config(format!(
                "mixture_steps names {odd} steps, which is not one of the plan's budgets {:?}",
                self.steps
            )));
        }
        Ok(at.clone())
    }

    /// Whether some run of the plan starts from, or learns from, another run's weights (a
    /// teacher, a pretrained model): those weights are then kept beside the sweep's file.
    pub fn hands_on_weights(&self) -> bool {
        self.distill.is_some() || self.forgetting.is_some()
    }
}

/// Appends cell `id` to `out` once its configuration is valid; its index is its position.
fn push_cell(out: &mut Vec<PlannedRun>, id: String, config: RunConfig) -> Result<()> {
    config.validate()?;
    out.push(PlannedRun { index: out.len(), id, config });
    Ok(())
}

/// A `--shard I/N` selection: run the cells whose index is I modulo N (I counts from 0, as
/// SLURM_ARRAY_TASK_ID and Kubernetes' JOB_COMPLETION_INDEX do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0..count.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::ALL
    }
}

impl Shard {
    /// Every cell.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether this shard runs the cell at `index`.
    pub fn has(&self, index: usize) -> bool {
        index % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("`{s}` is not a shard: write I/N with 0 ≤ I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) =
            (i.trim().parse::<usize>().map_err(|_| bad())?, n.trim().parse::<usize>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_shards_partition_the_plan() {
        let runs = SweepPlan::preset("classroom").unwrap().runs().unwrap();
        assert_eq!(runs.len(), 45);
        let ids: std::collections::HashSet<_> = runs.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), runs.len());
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        for r in &runs {
            assert_eq!(shards.iter().filter(|s| s.has(r.index)).count(), 1);
        }
    }

    #[test]
    fn a_fractional_design_trains_the_other_mixtures_at_the_named_budgets_only() {
        let plan = SweepPlan::preset("classroom").unwrap();
        let runs = plan.runs().unwrap();
        assert!(runs.iter().all(|r| r.id.ends_with("-m00") || r.config.steps == 1600));
        assert_eq!(runs.iter().filter(|r| r.id.ends_with("-m00")).count(), 15);
        let lr = |w: usize| runs.iter().find(|r| r.config.model.d_model == w).unwrap().config.schedule.lr;
        assert!((lr(16) / lr(64) - 4.0).abs() < 1e-5, "the rate goes as 1/width");
        let mut bad = plan.clone();
        bad.mixture_steps = Some(vec![1000]);
        let e = bad.runs().unwrap_err().to_string();
        assert!(e.contains("1000") && e.contains("[800, 1600, 3200]"), "{e}");
        bad.mixture_steps = Some(vec![]);
        assert!(bad.runs().unwrap_err().to_string().contains("empty"));
        bad.mixture_steps = None;
        assert_eq!(bad.runs().unwrap().len(), 5 * 3 * 7, "without it every mixture at every budget");
        let smoke = SweepPlan::preset("smoke").unwrap().runs().unwrap();
        assert_eq!(smoke.len(), 28);
    }

    #[test]
    fn mixtures_are_on_the_simplex_above_the_floor() {
        let d = MixtureDesign::Dirichlet { count: 50, alpha: 0.5, floor: 0.03, seed: 1 };
        for h in d.mixtures(4).unwrap() {
            assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{h:?}");
            assert!(h.iter().all(|v| *v >= 0.03 / 1.2), "{h:?}");
        }
        let g = MixtureDesign::Grid { steps: 5 }.mixtures(3).unwrap();
        assert_eq!(g.len(), 6); // C(4, 2) compositions of 5 into 3 positive parts
        assert!(g.iter().all(|h| (h.iter().sum::<f64>() - 1.0).abs() < 1e-9 && h.iter().all(|v| *v > 0.0)));
    }

    #[test]
    fn dirichlet_draws_have_the_right_mean() {
        let mut rng = Rng::new(5);
        let mut mean = [0.0; 3];
        for _ in 0..4000 {
            for (m, v) in mean.iter_mut().zip(rng.dirichlet(3, 0.7)) {
                *m += v / 4000.0;
            }
        }
        assert!(mean.iter().all(|m| (m - 1.0 / 3.0).abs() < 0.02), "{mean:?}");
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1", "a/b", "0/0"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("I/N"), "{bad}");
        }
    }
}
