//! Scaling-law fitting: analytic gradients, the synthetic recovery case, and the public
//! data-mixture table.

use sigmix::laws::{Chinchilla, FitOptions, Law, MixtureAdditive, MixtureJoint, Observation, RunTable, fit, mre};
use sigmix::rng::Rng;

/// The synthetic additive-law truth (E, A, α, B, β, C_1..3, γ_1..3).
const TRUTH: [f64; 11] = [1.8, 400.0, 0.34, 410.0, 0.28, 1.2, 0.8, 2.0, 0.6, 0.4, 0.5];

fn theta(p: &[f64]) -> Vec<f64> {
    p.iter().map(|v| v.ln()).collect()
}

fn obs(n: f64, d: f64, h: &[f64]) -> Observation {
    Observation { n, d, h: h.to_vec(), loss: 1.0 }
}

fn dirichlet(rng: &mut Rng, k: usize) -> Vec<f64> {
    let e: Vec<f64> = (0..k).map(|_| -(rng.uniform().max(1e-300)).ln()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[test]
fn the_synthetic_law_gives_the_reference_spot_values() {
    let law = MixtureAdditive { k: 3 };
    let u = [1.0 / 3.0; 3];
    let t = theta(&TRUTH);
    assert!((law.predict(&t, &obs(1e8, 1e9, &u)) - 4.2369).abs() < 1e-3);
    assert!((law.predict(&t, &obs(1e7, 1e8, &u)) - 6.2633).abs() < 1e-3);
}

#[test]
fn analytic_gradients_match_finite_differences() {
    let mut rng = Rng::new(4);
    let laws: Vec<Box<dyn Law>> =
        vec![Box::new(Chinchilla), Box::new(MixtureAdditive { k: 4 }), Box::new(MixtureJoint { k: 4 })];
    for law in &laws {
        let t = law.random_start(&mut rng);
        let x = obs(3e7, 2e9, &dirichlet(&mut rng, 4));
        let mut g = vec![0.0; law.n_params()];
        law.eval(&t, &x, &mut g);
        for i in 0..t.len() {
            let h = 1e-6;
            let (mut up, mut down) = (t.clone(), t.clone());
            up[i] += h;
            down[i] -= h;
            let num = (law.predict(&up, &x) - law.predict(&down, &x)) / (2.0 * h);
            assert!(
                (num - g[i]).abs() <= 1e-6 * (1.0 + num.abs()),
                "{} θ[{i}] ({}): analytic {} vs numeric {num}",
                law.name(),
                law.param_names()[i],
                g[i]
            );
        }
    }
}

/// The synthetic recovery case (known additive-law parameters): N ∈ {1e7, 3e7, 1e8} × D ∈ `ds` × 10 Dirichlet(1) mixtures
/// (fixed seed), multiplicative Gaussian noise of relative size `noise`; plus held-out N = 3e8.
fn synthetic(noise: f64, ds: &[f64]) -> (Vec<Observation>, Vec<Observation>) {
    let law = MixtureAdditive { k: 3 };
    let truth = theta(&TRUTH);
    let mut rng = Rng::new(7);
    let mixtures: Vec<Vec<f64>> = (0..10).map(|_| dirichlet(&mut rng, 3)).collect();
    let mut make = |ns: &[f64]| -> Vec<Observation> {
        let mut v = Vec::new();
        for &n in ns {
            for &d in ds {
                for h in &mixtures {
                    let clean = law.predict(&truth, &obs(n, d, h));
                    v.push(Observation { n, d, h: h.clone(), loss: clean * (1.0 + noise * rng.normal()) });
                }
            }
        }
        v
    };
    (make(&[1e7, 3e7, 1e8]), make(&[3e8]))
}

fn huber_objective(law: &dyn Law, t: &[f64], runs: &[Observation]) -> f64 {
    let h = |r: f64| if r.abs() <= 1e-3 { 0.5 * r * r } else { 1e-3 * (r.abs() - 5e-4) };
    runs.iter().map(|x| h((law.predict(t, x) / x.loss).ln())).sum::<f64>() / runs.len() as f64 / 1e-3
}

const TWO_BUDGETS: [f64; 2] = [1e8, 1e9];

#[test]
fn noise_free_synthetic_runs_give_back_every_parameter() {
    // A third token budget makes (E, B, β) identifiable: see the next test.
    let law = MixtureAdditive { k: 3 };
    let (train, held_out) = synthetic(0.0, &[1e8, 1e9, 1e10]);
    let r = fit(&law, &train, &FitOptions { seed: 1, hops: 64, max_iters: 5000, ..Default::default() }).expect("fits");
    for (name, (got, want)) in r.names.iter().zip(r.params.iter().zip(TRUTH)) {
        assert!(
            (got - want).abs() / want < 0.03,
            "{name}: fitted {got}, truth {want}; objective {}, {:?}",
            r.objective,
            r.params
        );
    }
    assert!(mre(&law, &r.theta(), &held_out) < 1e-4);
}

#[test]
fn with_two_token_budgets_only_e_b_beta_are_not_identifiable() {
    // For each D the N-dependence pins E + B/D^β; two budgets give two equations for three
    // unknowns, so the papers' 2-budget design recovers everything except (E, B, β).
    let law = MixtureAdditive { k: 3 };
    let (train, held_out) = synthetic(0.0, &TWO_BUDGETS);
    let r = fit(&law, &train, &FitOptions { seed: 1, ..Default::default() }).expect("fits");
    for (name, (got, want)) in r.names.iter().zip(r.params.iter().zip(TRUTH)) {
        if !["E", "B", "beta"].contains(&name.as_str()) {
            assert!((got - want).abs() / want < 0.03, "{name}: fitted {got}, truth {want}");
        }
    }
    for d in TWO_BUDGETS {
        let at = |p: &[f64]| p[0] + p[3] * d.powf(-p[4]);
        assert!((at(&r.params) - at(&TRUTH)).abs() < 1e-3, "E + B/D^β at D = {d}");
    }
    assert!(mre(&law, &r.theta(), &held_out) < 1e-4);
}

#[test]
fn noisy_synthetic_runs_predict_the_held_out_size() {
    // With 0.3% noise and only two token budgets, (B, β) and (A, α) trade off: the fit finds
    // parameters that explain the runs at least as well as the truth does, and predicts the
    // 3× larger model within the noise.
    let law = MixtureAdditive { k: 3 };
    let (train, held_out) = synthetic(0.003, &TWO_BUDGETS);
    let r = fit(&law, &train, &FitOptions { seed: 1, ..Default::default() }).expect("fits");
    let held = mre(&law, &r.theta(), &held_out);
    assert!(held < 0.005, "held-out MRE {held} at N = 3e8");
    let truth_obj = huber_objective(&law, &theta(&TRUTH), &train);
    assert!(
        r.objective <= truth_obj * (1.0 + 1e-6),
        "fit objective {} is worse than the truth's {truth_obj}",
        r.objective
    );
}

#[test]
fn too_few_runs_are_refused() {
    let runs = vec![obs(1e7, 1e8, &[]); 3];
    let err = fit(&Chinchilla, &runs, &FitOptions::default()).expect_err("must fail").to_string();
    assert!(err.contains("5 parameters") && err.contains("3 runs"), "{err}");
}

fn dmsl() -> RunTable {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/dmsl_llm_slimpajama_small.csv");
    RunTable::read(&path).expect("the shared data-mixture table is readable")
}

#[test]
fn the_public_table_parses_with_the_documented_check_row() {
    let t = dmsl();
    let (runs, skipped) = t.observations("c4_loss", "model_size", "n_tokens", "weight_").expect("columns exist");
    assert_eq!(skipped, 0);
    assert_eq!(runs.len(), 2188);
    let row =
        runs.iter().find(|r| r.n == 122e6 && r.d == 9.998e9 && (r.h[2] - 0.4169).abs() < 1e-4).expect("the check row");
    assert!((row.loss - 3.3114).abs() < 1e-4, "{row:?}");
}

#[test]
fn the_additive_law_extrapolates_to_the_held_out_937m_models() {
    // Fit on 122M–680M, predict 937M (the paper reports ~1.2–1.3% on its own LLM runs).
    let t = dmsl();
    let k = t.weight_columns("weight_").len();
    let (runs, _) = t.observations("c4_loss", "model_size", "n_tokens", "weight_").expect("columns");
    let (train, held): (Vec<_>, Vec<_>) = runs.into_iter().partition(|r| r.n <= 7e8);
    let law = MixtureAdditive { k };
    let r = fit(&law, &train, &FitOptions { starts: 4, hops: 4, seed: 0, ..Default::default() }).expect("fits");
    let held_mre = mre(&law, &r.theta(), &held);
    assert_eq!(held.len(), 440);
    assert!(held_mre < 0.015, "held-out MRE on 937M: {held_mre}");
}

#[test]
fn the_joint_law_warm_started_from_the_additive_fit_predicts_the_same() {
    let mut rng = Rng::new(3);
    let add = MixtureAdditive { k: 4 };
    let joint = MixtureJoint { k: 4 };
    let t = add.random_start(&mut rng);
    let x = obs(3e8, 5e9, &dirichlet(&mut rng, 4));
    let (a, j) = (add.predict(&t, &x), joint.predict(&joint.from_additive(&t), &x));
    assert!((a - j).abs() < 1e-9 * a, "additive {a} vs joint {j}");
}
