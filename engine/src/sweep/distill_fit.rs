//! The point of a distillation sweep (Busbridge et al. 2025): fit the supervised law on the
//! students trained on labels and the distillation law on those trained from a teacher, both on
//! every student size but the largest; predict the largest; and answer the paper's question on
//! this data: up to which compute does distilling beat training the same student supervised?

use crate::error::{Error, Result};
use crate::laws::{Distillation, FitOptions, FitResult, Law, Observation, SupervisedPower, fit};
use crate::sweep::{HeldOutRun, SweepRow, held_out_mre};

/// A teacher of the sweep: its run, size and final loss L_T.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TeacherRun {
    /// Its run id.
    pub id: String,
    /// Non-embedding parameters.
    pub n: f64,
    /// All parameters (what its forward pass costs per token, ≈ 2N FLOPs).
    pub params: f64,
    /// Its training tokens.
    pub d: f64,
    /// Its final held-out mean loss.
    pub loss: f64,
}

/// Where distilling from one teacher stops paying for one student size, by the fitted laws.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Crossover {
    /// The student's size label, e.g. `w48l2`.
    pub student: String,
    /// Its non-embedding parameters.
    pub n: f64,
    /// The teacher's run id.
    pub teacher: String,
    /// Training FLOPs below which the distilled student has the lower predicted loss at equal
    /// compute; `None` when the ordering does not change over `range`.
    pub flops: Option<f64>,
    /// Whether distillation wins at the smallest compute of `range`.
    pub distill_wins_small: bool,
    /// The compute range scanned (FLOPs).
    pub range: [f64; 2],
}

impl Crossover {
    /// What the laws say, in words: who wins where.
    pub fn verdict(&self) -> String {
        match (self.flops, self.distill_wins_small) {
            (Some(f), true) => format!("distillation wins below {f:.2e} FLOPs, supervised above"),
            (Some(f), false) => format!("supervised wins below {f:.2e} FLOPs, distillation above"),
            (None, true) => {
                format!("distillation wins over the whole range {:.1e}–{:.1e} FLOPs", self.range[0], self.range[1])
            }
            (None, false) => {
                format!("supervised wins over the whole range {:.1e}–{:.1e} FLOPs", self.range[0], self.range[1])
            }
        }
    }
}

/// Everything a distillation sweep teaches, ready to print or export.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct DistillReport {
    /// The sweep's teachers.
    pub teachers: Vec<TeacherRun>,
    /// The supervised law fitted on the supervised students below the largest size.
    pub supervised: FitResult,
    /// Its predictions of the largest size's supervised runs.
    pub supervised_held_out: Vec<HeldOutRun>,
    /// Their mean relative error.
    pub supervised_mre: f64,
    /// The distillation law (Eq. 8) fitted on the distilled students below the largest size,
    /// the supervised law above held fixed inside it.
    pub distill: FitResult,
    /// Its predictions of the largest size's distilled runs.
    pub distill_held_out: Vec<HeldOutRun>,
    /// Their mean relative error.
    pub distill_mre: f64,
    /// Measured, per distilled run: its loss minus the same student's supervised loss at the
    /// same tokens (negative: the teacher helped), as (run id, difference).
    pub measured_gain: Vec<(String, f64)>,
    /// Per student size and teacher, by the laws.
    pub crossovers: Vec<Crossover>,
}

/// Training FLOPs of a student of `params` parameters over `d` tokens, with the teacher's
/// forward pass on every token when `teacher_params` is given: 3·2N·D + 2N_T·D (the paper's
/// Eq. 9 with F(N) ≈ 2N [I: the paper's corrected F is unknown here], the teacher's own training
/// not counted: it exists already).
pub fn training_flops(params: f64, d: f64, teacher_params: Option<f64>) -> f64 {
    6.0 * params * d + teacher_params.map_or(0.0, |t| 2.0 * t * d)
}

/// A held-out observation and its run id.
type Named = (String, Observation);

fn mean_loss(row: &SweepRow) -> Result<f64> {
    row.columns.get("mean_loss").copied().ok_or_else(|| Error::Fit(format!("run {} has no mean_loss column", row.id)))
}

/// Fits both laws on `rows` (a complete distillation sweep), predicts the largest student size
/// and finds the crossovers.
pub fn fit_distillation(rows: &[SweepRow], opts: &FitOptions) -> Result<DistillReport> {
    let is_teacher =
        |r: &SweepRow| rows.iter().any(|s| s.config.distill.as_ref().is_some_and(|d| d.teacher_run == r.id));
    let mut teachers = Vec::new();
    for r in rows.iter().filter(|r| is_teacher(r)) {
        teachers.push(TeacherRun {
            id: r.id.clone(),
            n: r.non_embedding_params as f64,
            params: r.model_size as f64,
            d: r.n_tokens as f64,
            loss: mean_loss(r)?,
        });
    }
    if teachers.is_empty() {
        return Err(Error::Fit("the sweep holds no distilled runs (no run names a teacher)".into()));
    }
    let students: Vec<&SweepRow> = rows.iter().filter(|r| !is_teacher(r)).collect();
    let sizes: std::collections::BTreeSet<usize> = students.iter().map(|r| r.non_embedding_params).collect();
    if sizes.len() < 3 {
        return Err(Error::Fit(format!(
            "the sweep has {} student size(s); fitting on all but the largest needs at least three",
            sizes.len()
        )));
    }
    let largest = sizes.last().copied().unwrap_or(0);
    let obs = |r: &SweepRow| -> Result<Observation> {
        let h = match &r.config.distill {
            Some(d) => vec![teachers.iter().find(|t| t.id == d.teacher_run).map_or(f64::NAN, |t| t.loss)],
            None => Vec::new(),
        };
        Ok(Observation { n: r.non_embedding_params as f64, d: r.n_tokens as f64, h, loss: mean_loss(r)? })
    };
    let split = |distilled: bool| -> Result<(Vec<Observation>, Vec<Named>)> {
        let (mut fit_rows, mut held) = (Vec::new(), Vec::new());
        for r in students.iter().filter(|r| r.config.distill.is_some() == distilled) {
            if r.non_embedding_params == largest {
                held.push((r.id.clone(), obs(r)?));
            } else {
                fit_rows.push(obs(r)?);
            }
        }
        Ok((fit_rows, held))
    };
    let predict = |law: &dyn Law, f: &FitResult, held: &[Named]| -> Vec<HeldOutRun> {
        let theta = f.theta();
        held.iter()
            .map(|(id, x)| HeldOutRun { id: id.clone(), predicted: law.predict(&theta, x), measured: x.loss })
            .collect()
    };

    let (sup_rows, sup_held) = split(false)?;
    let supervised = fit(&SupervisedPower, &sup_rows, opts)?;
    let supervised_held_out = predict(&SupervisedPower, &supervised, &sup_held);
    let sup_params: [f64; 6] =
        supervised.params.clone().try_into().map_err(|_| Error::Fit("the supervised law has six parameters".into()))?;
    let law = Distillation { supervised: sup_params };
    let (kd_rows, kd_held) = split(true)?;
    let distill = fit(&law, &kd_rows, opts)?;
    let distill_held_out = predict(&law, &distill, &kd_held);

    let mut measured_gain = Vec::new();
    for r in students.iter().filter(|r| r.config.distill.is_some()) {
        let same = students.iter().find(|s| {
            s.config.distill.is_none() && s.non_embedding_params == r.non_embedding_params && s.n_tokens == r.n_tokens
        });
        if let Some(s) = same {
            measured_gain.push((r.id.clone(), mean_loss(r)? - mean_loss(s)?));
        }
    }

    let crossovers = crossovers(&students, &teachers, &supervised, &law, &distill);
    Ok(DistillReport {
        supervised_mre: held_out_mre(&supervised_held_out),
        distill_mre: held_out_mre(&distill_held_out),
        teachers,
        supervised,
        supervised_held_out,
        distill,
        distill_held_out,
        measured_gain,
        crossovers,
    })
}

/// Scans compute over a decade below to a decade above the sweep's students, per size and
/// teacher, for the point where the supervised student catches up with the distilled one.
fn crossovers(
    students: &[&SweepRow],
    teachers: &[TeacherRun],
    supervised: &FitResult,
    law: &Distillation,
    distill: &FitResult,
) -> Vec<Crossover> {
    let mut sizes: Vec<(String, f64, f64)> = students
        .iter()
        .map(|r| {
            let label = r.id.split('-').next().unwrap_or(&r.id).to_string();
            (label, r.non_embedding_params as f64, r.model_size as f64)
        })
        .collect();
    sizes.sort_by(|a, b| a.1.total_cmp(&b.1));
    sizes.dedup_by(|a, b| a.0 == b.0);
    let flops: Vec<f64> =
        students.iter().map(|r| training_flops(r.model_size as f64, r.n_tokens as f64, None)).collect();
    let lo = flops.iter().copied().fold(f64::INFINITY, f64::min) / 10.0;
    let hi = flops.iter().copied().fold(0.0, f64::max) * 10.0;
    let (ts, td) = (supervised.theta(), distill.theta());
    let mut out = Vec::new();
    for (label, n, params) in &sizes {
        for t in teachers {
            let gap = |c: f64| {
                let d_sup = c / training_flops(*params, 1.0, None);
                let d_kd = c / training_flops(*params, 1.0, Some(t.params));
                let sup = SupervisedPower.predict(&ts, &Observation { n: *n, d: d_sup, h: Vec::new(), loss: 0.0 });
                let kd = law.predict(&td, &Observation { n: *n, d: d_kd, h: vec![t.loss], loss: 0.0 });
                kd - sup
            };
            let steps = 200;
            let at = |i: usize| lo * (hi / lo).powf(i as f64 / steps as f64);
            let wins_small = gap(lo) < 0.0;
            let flops = (1..=steps).find(|&i| (gap(at(i)) < 0.0) != wins_small).map(|i| {
                // Bisect the sign change in log compute.
                let (mut a, mut b) = (at(i - 1).ln(), at(i).ln());
                for _ in 0..40 {
                    let m = 0.5 * (a + b);
                    if (gap(m.exp()) < 0.0) == wins_small { a = m } else { b = m }
                }
                (0.5 * (a + b)).exp()
            });
            out.push(Crossover {
                student: label.clone(),
                n: *n,
                teacher: t.id.clone(),
                flops,
                distill_wins_small: wins_small,
                range: [lo, hi],
            });
        }
    }
    out
}
