//! MoE sparsity sweeps end to end: the plan makes IsoFLOP slices (same active parameters,
//! more experts) and refuses expert counts below top-K; the smoke sweep trains, the MoE law is
//! fitted below the largest size and predicts it, and the law's optimal sparsity per compute
//! budget stays where the models can go.

use sigmix::laws::FitOptions;
use sigmix::models::Ffn;
use sigmix::sweep::{SweepOptions, SweepPlan, fit_moe_sparsity, run_sweep};
use sigmix_tests::cpu;

#[test]
fn moe_plans_are_isoflop_slices_over_the_expert_count() {
    let runs = SweepPlan::preset("moe-sparsity").expect("preset").runs().expect("plans");
    assert_eq!(runs.len(), 60);
    assert_eq!(runs[3].id, "w32l2-s150-e16");
    let slice = &runs[..5];
    let active: Vec<usize> = slice.iter().map(|r| r.config.model.active_params()).collect();
    let total: Vec<usize> = slice.iter().map(|r| r.config.model.param_count()).collect();
    for w in active.windows(2) {
        // Only the router grows with E: 16·32·2 parameters at most, against ~40K active.
        assert!(w[1] - w[0] <= 16 * 32 * 2, "{active:?}");
    }
    assert!(total.windows(2).all(|w| w[1] > w[0] + 10_000), "more experts, more parameters: {total:?}");
    assert!(slice.iter().all(|r| matches!(&r.config.model.ffn, Ffn::Moe(m) if m.top_k == 2 && m.renorm)));

    let mut plan = SweepPlan::preset("moe-sparsity-smoke").expect("preset");
    plan.moe.as_mut().expect("moe").top_k = 3;
    let err = plan.runs().expect_err("2 experts, top-3").to_string();
    assert!(err.contains("2 experts") && err.contains("top_k = 3"), "{err}");
    let grid = plan.moe.as_mut().expect("moe");
    (grid.top_k, grid.renorm, grid.experts) = (1, true, vec![1, 2]);
    let err = plan.runs().expect_err("renormalised top-1").to_string();
    assert!(err.contains("no gradient") && err.contains("renorm to false"), "{err}");
}

#[test]
fn an_moe_sparsity_sweep_fits_the_law_and_finds_an_optimal_sparsity_per_budget() {
    let dir = std::env::temp_dir().join(format!("sigmix-moe-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("moe.jsonl");
    let _ = std::fs::remove_file(&path);
    let plan = SweepPlan::preset("moe-sparsity-smoke").expect("preset");
    let out = run_sweep(&cpu(), &plan, &path, SweepOptions::default(), &mut |_| {}).expect("the sweep runs");
    assert!(out.complete() && out.trained == 18);

    let r = fit_moe_sparsity(&out.rows, &FitOptions::default()).expect("fits");
    assert_eq!((r.law.rows, r.held_out.len(), r.slices.len(), r.top_k), (12, 6, 6, 2));
    assert!(r.mre.is_finite() && r.mre < 0.5, "held-out MRE {}", r.mre);
    for s in &r.slices {
        let ss: Vec<f64> = s.points.iter().map(|p| p[0]).collect();
        assert_eq!(ss, vec![0.0, 0.5, 0.75], "{}", s.label);
        assert!(s.points.iter().all(|p| p[1].is_finite() && p[2].is_finite()));
    }
    assert_eq!(r.slices.iter().filter(|s| s.held_out).count(), 2, "the largest size's two budgets");
    assert_eq!(r.optimal.len(), 13);
    for w in r.optimal.windows(2) {
        assert!(w[1].flops > w[0].flops);
    }
    for o in &r.optimal {
        assert!((0.0..=1.0 - 2.0 / 64.0 + 1e-9).contains(&o.sparsity), "{o:?}");
        assert!(o.loss <= o.dense_loss + 1e-9, "the optimum is no worse than dense: {o:?}");
        assert!((6.0 * o.n_active * o.tokens / o.flops - 1.0).abs() < 1e-6, "{o:?}");
    }
    assert!(r.runs.iter().all(|x| x.predicted.is_finite()));
}
