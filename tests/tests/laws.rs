//! Scaling-law fitting: analytic gradients, the synthetic recovery case, and the public
//! data-mixture table.

use sigmix::laws::{
    Chinchilla, Distillation, FitOptions, Forgetting, ForgettingTokens, Hyper, Law, MixOptions, MixTarget,
    MixtureAdditive, MixtureJoint, MixtureLaw, MoeSparsity, Observation, Optimizer, RunTable, SupervisedPower,
    TokensFrom, bootstrap, fit, mre, optimal_mixture, relative_forgetting, scale_ema, scale_hyper,
};
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
        assert_gradient(law.as_ref(), &t, &x);
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
    // A third token budget makes (E, B, β) identifiable: see the next test. Recovering every
    // digit of noise-free data needs the tight tolerance (the default stops at 1e-8).
    let law = MixtureAdditive { k: 3 };
    let (train, held_out) = synthetic(0.0, &[1e8, 1e9, 1e10]);
    let r =
        fit(&law, &train, &FitOptions { seed: 1, hops: 64, max_iters: 5000, tolerance: 1e-12, ..Default::default() })
            .expect("fits");
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
    let r = fit(&law, &train, &FitOptions { seed: 1, tolerance: 1e-12, ..Default::default() }).expect("fits");
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
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/dmsl_llm_slimpajama_small.csv");
    RunTable::read(&path).expect("the shared data-mixture table is readable")
}

#[test]
fn the_public_table_parses_with_the_documented_check_row() {
    let t = dmsl();
    let (runs, skipped) = t
        .observations("c4_loss", "model_size", TokensFrom::Column("n_tokens"), &t.weight_columns("weight_"))
        .expect("columns exist");
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
    let (runs, _) = t
        .observations("c4_loss", "model_size", TokensFrom::Column("n_tokens"), &t.weight_columns("weight_"))
        .expect("columns");
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

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sigmix-laws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn json_lines_read_like_csv_with_flops_and_empty_cells() {
    let path = temp_file(
        "runs.jsonl",
        concat!(
            r#"{"id":"a","model_size":1e6,"flops":6e12,"weight_x":0.5,"weight_y":0.5,"x_loss":3.0,"config":{"seed":1}}"#,
            "\n\n",
            r#"{"id":"b","model_size":2e6,"flops":2.4e13,"weight_x":0.2,"weight_y":0.8,"x_loss":null}"#,
            "\n"
        ),
    );
    let t = RunTable::read(&path).expect("parses");
    assert!(t.columns().iter().all(|c| c != "id" && c != "config"), "{:?}", t.columns());
    let (runs, skipped) =
        t.observations("x_loss", "model_size", TokensFrom::Flops("flops"), &t.weight_columns("weight_")).expect("ok");
    assert_eq!((runs.len(), skipped), (1, 1));
    assert_eq!(runs[0], Observation { n: 1e6, d: 1e6, h: vec![0.5, 0.5], loss: 3.0 });

    let bad = temp_file("bad.jsonl", "{\"model_size\": 1}\n{\"model_size\": oops}\n");
    let err = RunTable::read(&bad).expect_err("bad JSON").to_string();
    assert!(err.contains("bad.jsonl") && err.contains("line 2, column"), "{err}");
    let bad_cell = temp_file("cell.csv", "model_size,n_tokens,x_loss\n1e6,2e7,3.1\n1e6,abc,3.0\n");
    let (t, target) = (RunTable::read(&bad_cell).expect("header ok"), "x_loss");
    let err = t.observations(target, "model_size", TokensFrom::Column("n_tokens"), &[]).expect_err("abc").to_string();
    assert!(err.contains("line 3, column 2 (n_tokens)") && err.contains("`abc`"), "{err}");
}

fn assert_gradient(law: &dyn Law, t: &[f64], x: &Observation) {
    let mut g = vec![0.0; law.n_params()];
    law.eval(t, x, &mut g);
    for i in 0..t.len() {
        let h = 1e-6;
        let (mut up, mut down) = (t.to_vec(), t.to_vec());
        up[i] += h;
        down[i] -= h;
        let num = (law.predict(&up, x) - law.predict(&down, x)) / (2.0 * h);
        assert!(
            (num - g[i]).abs() <= 1e-5 * (1.0 + num.abs()),
            "{} θ[{i}] ({}): analytic {} vs numeric {num}",
            law.name(),
            law.param_names()[i],
            g[i]
        );
    }
}

#[test]
fn the_distillation_moe_and_forgetting_laws_have_exact_gradients() {
    let mut rng = Rng::new(8);
    let sup = SupervisedPower;
    let distill = Distillation { supervised: [1.7, 300.0, 0.3, 400.0, 0.28, 0.9] };
    let laws: Vec<(Box<dyn Law>, Vec<f64>)> = vec![
        (Box::new(sup), vec![]),
        (Box::new(distill), vec![2.9]),
        (Box::new(MoeSparsity::default()), vec![0.75]),
        (Box::new(MoeSparsity { c_falls_with_sparsity: false }), vec![0.5]),
        (Box::new(Forgetting), vec![0.01]),
        (Box::new(Forgetting), vec![0.05, 1.3]),
        (Box::new(ForgettingTokens), vec![0.01]),
        (Box::new(ForgettingTokens), vec![0.2, 1.3]),
        (Box::new(ForgettingTokens), vec![0.0, 1.3]),
    ];
    for (law, h) in &laws {
        for _ in 0..3 {
            let t = law.random_start(&mut rng);
            assert_gradient(law.as_ref(), &t, &obs(2e8, 4e9, h));
        }
    }
}

#[test]
fn the_mixture_laws_have_exact_gradients_in_the_weights() {
    let mut rng = Rng::new(9);
    let laws: Vec<Box<dyn MixtureLaw>> = vec![Box::new(MixtureAdditive { k: 4 }), Box::new(MixtureJoint { k: 4 })];
    for law in &laws {
        let t = law.random_start(&mut rng);
        let h = dirichlet(&mut rng, 4);
        let g = law.grad_h(&t, &obs(3e7, 2e9, &h));
        for i in 0..4 {
            let (mut up, mut down) = (h.clone(), h.clone());
            up[i] += 1e-7;
            down[i] -= 1e-7;
            let num = (law.predict(&t, &obs(3e7, 2e9, &up)) - law.predict(&t, &obs(3e7, 2e9, &down))) / 2e-7;
            assert!((num - g[i]).abs() <= 1e-5 * (1.0 + num.abs()), "{} h[{i}]: {} vs {num}", law.name(), g[i]);
        }
    }
}

#[test]
fn the_optimal_mixture_matches_a_brute_force_search() {
    let law = MixtureAdditive { k: 3 };
    let joint = MixtureJoint { k: 3 };
    let mut jt = joint.from_additive(&theta(&TRUTH));
    jt[5 + 2 * 3] += 1.5; // make the N-term depend on the first domain's weight
    for (law, t) in [(&law as &dyn MixtureLaw, theta(&TRUTH)), (&joint, jt)] {
        for floor in [0.0, 0.1] {
            let target = [MixTarget { law, theta: t.clone(), weight: 1.0 }];
            let opt =
                optimal_mixture(&target, 1e8, 1e9, &MixOptions { floor, ..Default::default() }).expect("optimises");
            let mut best = f64::INFINITY;
            let steps = 400;
            for i in 0..=steps {
                for j in 0..=steps - i {
                    let h = [i as f64 / steps as f64, j as f64 / steps as f64, (steps - i - j) as f64 / steps as f64];
                    if h.iter().all(|v| *v >= floor) {
                        best = best.min(law.predict(&t, &obs(1e8, 1e9, &h)));
                    }
                }
            }
            assert!(opt.objective <= best + 1e-6, "{}: L-BFGS {} vs grid {best}", law.name(), opt.objective);
            assert!(opt.objective <= opt.uniform_objective);
            assert!((opt.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!(opt.weights.iter().all(|w| *w >= floor - 1e-12), "{:?}", opt.weights);
        }
    }
}

#[test]
fn bootstrap_intervals_are_deterministic_and_bracket_the_fit() {
    let law = MixtureAdditive { k: 3 };
    let (train, held_out) = synthetic(0.003, &[1e8, 1e9, 1e10]);
    let opts = FitOptions { seed: 2, starts: 2, hops: 2, ..Default::default() };
    let full = fit(&law, &train, &opts).expect("fits");
    let b = bootstrap(&law, &train, &held_out, &full, 16, 0.9, &opts).expect("bootstraps");
    let again = bootstrap(&law, &train, &held_out, &full, 16, 0.9, &opts).expect("bootstraps");
    assert_eq!(b.params, again.params, "same seed, same intervals");
    assert_eq!(b.resamples, 16);
    let inside = b.params.iter().zip(&full.params).filter(|(iv, p)| iv.lo <= **p && **p <= iv.hi).count();
    assert!(inside >= law.n_params() - 2, "{inside} of {} fitted values inside their interval", law.n_params());
    let e = b.held_out_mre.expect("held-out rows given");
    assert!(e.lo <= e.hi && e.hi < 0.01, "{e:?}");
}

#[test]
fn a_synthetic_moe_law_is_fitted_back_and_has_an_interior_optimal_sparsity() {
    let law = MoeSparsity::default();
    let truth: Vec<f64> = [400.0, 0.34, 410.0, 0.28, 3.0, 0.17, 30.0, 0.16, 0.16, 1.7].map(f64::ln).to_vec();
    let make = |ns: &[f64]| -> Vec<Observation> {
        let mut v = Vec::new();
        for &n in ns {
            for d in [1e9, 1e10, 1e11] {
                for s in [0.0, 0.25, 0.5, 0.75, 0.9, 0.95] {
                    v.push(Observation { n, d, h: vec![s], loss: law.predict(&truth, &obs(n, d, &[s])) });
                }
            }
        }
        v
    };
    let (train, held) = (make(&[1e7, 3e7, 1e8, 3e8]), make(&[1e9]));
    let r = fit(&law, &train, &FitOptions { seed: 3, hops: 16, ..Default::default() }).expect("fits");
    assert!(
        r.train_mre < 1e-3 && mre(&law, &r.theta(), &held) < 5e-3,
        "{} / {}",
        r.train_mre,
        mre(&law, &r.theta(), &held)
    );
    // At fixed N and D, L(S) falls then rises: an interior optimum.
    let l = |s: f64| law.predict(&truth, &obs(1e8, 1e10, &[s]));
    assert!(l(0.5) < l(0.0) && l(0.5) < l(0.999), "{} {} {}", l(0.0), l(0.5), l(0.999));
}

#[test]
fn the_ema_rule_and_its_optimiser_pairing() {
    assert!((scale_ema(0.999, 4.0) - 0.996006).abs() < 1e-6);
    let h = Hyper { batch: 256.0, lr: 1e-3, ema: 0.999, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    let adam = scale_hyper(&h, 4.0, Optimizer::Adam);
    assert!((adam.lr - 2e-3).abs() < 1e-12 && (adam.beta2 - 0.996).abs() < 1e-12 && (adam.eps - 5e-9).abs() < 1e-20);
    let sgd = scale_hyper(&h, 4.0, Optimizer::Sgd);
    assert!((sgd.lr - 4e-3).abs() < 1e-12 && sgd.beta1 == 0.9 && sgd.batch == 1024.0);
    assert!((relative_forgetting(3.0, 3.5, 5.5) - 0.2).abs() < 1e-12);
}
