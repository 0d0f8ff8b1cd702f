//! Linear probe: multinomial logistic regression on frozen features, fitted by L-BFGS
//! (argmin) on one labelled set and scored on a held-out one. The standard read-out of a
//! self-supervised representation.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::error::{Error, Result};

/// L2 penalty on the weights (features are standardised first).
const RIDGE: f64 = 1e-3;

/// Features (rows × dim, row-major) with one label each.
pub struct Labelled<'a> {
    /// Row-major features.
    pub features: &'a [f32],
    /// Class of each row.
    pub labels: &'a [u32],
}

struct Problem<'a> {
    x: Vec<f64>,
    y: &'a [u32],
    dim: usize,
    classes: usize,
}

impl Problem<'_> {
    fn cost_grad(&self, w: &[f64], want_grad: bool) -> (f64, Vec<f64>) {
        let (d, k) = (self.dim, self.classes);
        let n = self.y.len() as f64;
        let mut grad = if want_grad { vec![0.0; w.len()] } else { Vec::new() };
        let mut loss = 0.0;
        let mut logits = vec![0.0; k];
        for (row, &y) in self.x.chunks(d).zip(self.y) {
            for (c, l) in logits.iter_mut().enumerate() {
                let wc = &w[c * (d + 1)..(c + 1) * (d + 1)];
                *l = wc[d] + row.iter().zip(wc).map(|(a, b)| a * b).sum::<f64>();
            }
            let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|l| (l - m).exp()).sum();
            loss += m + z.ln() - logits[y as usize];
            if want_grad {
                for c in 0..k {
                    let g = ((logits[c] - m).exp() / z - if c == y as usize { 1.0 } else { 0.0 }) / n;
                    let gc = &mut grad[c * (d + 1)..(c + 1) * (d + 1)];
                    for (gi, xi) in gc.iter_mut().zip(row) {
                        *gi += g * xi;
                    }
                    gc[d] += g;
                }
            }
        }
        let mut cost = loss / n;
        for c in 0..k {
            for j in 0..d {
                let v = w[c * (d + 1) + j];
                cost += 0.5 * RIDGE * v * v;
                if want_grad {
                    grad[c * (d + 1) + j] += RIDGE * v;
                }
            }
        }
        (cost, grad)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, w: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.cost_grad(w, false).0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, w: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.cost_grad(w, true).1)
    }
}

/// Per-feature mean and 1/std of `x` (rows × dim).
fn standardiser(x: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / dim).max(1) as f64;
    let mut mean = vec![0.0; dim];
    for row in x.chunks(dim) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += *v as f64 / n;
        }
    }
    let mut var = vec![0.0; dim];
    for row in x.chunks(dim) {
        for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (*v as f64 - m).powi(2) / n;
        }
    }
    (mean, var.iter().map(|v| 1.0 / v.sqrt().max(1e-6)).collect())
}

fn standardise(x: &[f32], dim: usize, (mean, inv): &(Vec<f64>, Vec<f64>)) -> Vec<f64> {
    x.chunks(dim).flat_map(|row| row.iter().zip(mean).zip(inv).map(|((v, m), s)| (*v as f64 - m) * s)).collect()
}

/// Fits the probe on `train` and returns (train accuracy, test accuracy).
pub fn linear_probe(train: &Labelled<'_>, test: &Labelled<'_>, dim: usize, classes: usize) -> Result<(f64, f64)> {
    let bad = |l: &Labelled<'_>| {
        l.labels.is_empty()
            || l.features.len() != l.labels.len() * dim
            || l.labels.iter().any(|y| *y as usize >= classes)
    };
    if dim == 0 || classes < 2 || bad(train) || bad(test) {
        return Err(Error::Config(format!(
            "linear probe: need non-empty sets of {dim}-wide features with labels below {classes}"
        )));
    }
    let st = standardiser(train.features, dim);
    let problem = Problem { x: standardise(train.features, dim, &st), y: train.labels, dim, classes };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-7)
        .and_then(|s| s.with_tolerance_cost(1e-9))
        .map_err(|e| Error::Config(format!("linear probe: {e}")))?;
    let start = vec![0.0; classes * (dim + 1)];
    let res = Executor::new(problem, solver)
        .configure(|s| s.param(start).max_iters(300))
        .run()
        .map_err(|e| Error::Config(format!("linear probe: the fit failed: {e}")))?;
    let w = res.state().get_best_param().cloned().unwrap_or_default();
    let accuracy = |set: &Labelled<'_>| {
        let x = standardise(set.features, dim, &st);
        let hits = x
            .chunks(dim)
            .zip(set.labels)
            .filter(|(row, y)| {
                let score = |c: usize| {
                    let wc = &w[c * (dim + 1)..(c + 1) * (dim + 1)];
                    wc[dim] + row.iter().zip(wc).map(|(a, b)| a * b).sum::<f64>()
                };
                let best = (0..classes).max_by(|a, b| score(*a).total_cmp(&score(*b))).unwrap_or(0);
                best == **y as usize
            })
            .count();
        hits as f64 / set.labels.len() as f64
    };
    Ok((accuracy(train), accuracy(test)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn the_probe_separates_separable_classes_and_not_noise() {
        let mut rng = Rng::new(1);
        let (n, dim, classes) = (300, 6, 3);
        let make = |rng: &mut Rng, informative: bool| {
            let labels: Vec<u32> = (0..n).map(|i| (i % classes) as u32).collect();
            let features: Vec<f32> = labels
                .iter()
                .flat_map(|y| {
                    let y = *y as usize;
                    (0..dim)
                        .map(|j| {
                            let signal = if informative && j == y { 3.0 } else { 0.0 };
                            (signal + rng.normal()) as f32
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            (features, labels)
        };
        let (xa, ya) = make(&mut rng, true);
        let (xb, yb) = make(&mut rng, true);
        let (_, test) = linear_probe(
            &Labelled { features: &xa, labels: &ya },
            &Labelled { features: &xb, labels: &yb },
            dim,
            classes,
        )
        .expect("fits");
        assert!(test > 0.9, "separable classes: test accuracy {test}");
        let (xc, yc) = make(&mut rng, false);
        let (xd, yd) = make(&mut rng, false);
        let (_, chance) = linear_probe(
            &Labelled { features: &xc, labels: &yc },
            &Labelled { features: &xd, labels: &yd },
            dim,
            classes,
        )
        .expect("fits");
        assert!(chance < 0.5, "pure noise: test accuracy {chance} should be near 1/3");
    }
}
