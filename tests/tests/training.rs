//! Training end to end on the adapter: the loss falls below the context-free baseline, and
//! the same seed on the same adapter gives the same curve.

use sigmix::train::{RunConfig, train};
use sigmix_tests::gpu;

fn smoke(seed: u64) -> sigmix::train::RunRecord {
    let cfg = RunConfig { seed, ..RunConfig::preset("smoke").expect("preset") };
    train(&gpu(), &cfg, &mut |_| {}).expect("training runs")
}

#[test]
fn the_loss_falls_below_the_unigram_entropy() {
    let r = smoke(1);
    let first = r.curve.first().expect("curve").loss;
    let last = r.curve.last().expect("curve").loss;
    let eval = r.final_eval().expect("final eval").mean() as f64;
    assert!(first > 5.0, "an untrained byte model starts near ln 256 = 5.55, got {first}");
    assert!(last < first - 1.5, "training loss did not fall: {first} → {last}");
    assert!(
        eval < r.unigram_entropy - 0.3,
        "eval loss {eval} is not well below the unigram entropy {}",
        r.unigram_entropy
    );
    assert_eq!(r.evals.last().map(|e| e.per_domain.len()), Some(4), "one eval loss per domain");
    assert!(r.tokens_per_sec > 0.0 && r.params > 0);
}

#[test]
fn the_same_seed_gives_the_same_curve() {
    let (a, b, c) = (smoke(5), smoke(5), smoke(6));
    let losses = |r: &sigmix::train::RunRecord| r.curve.iter().map(|p| p.loss.to_bits()).collect::<Vec<_>>();
    assert_eq!(losses(&a), losses(&b), "same seed, same adapter, different curves");
    assert_ne!(losses(&a), losses(&c), "different seeds gave identical curves");
}

#[test]
fn a_bad_mixture_is_refused_with_the_reason() {
    let cfg = RunConfig { mixture: vec![1.0, -1.0, 0.0, 0.0], ..RunConfig::preset("smoke").expect("preset") };
    let err = train(&gpu(), &cfg, &mut |_| {}).expect_err("must fail").to_string();
    assert!(err.contains("non-negative"), "{err}");
    let cfg = RunConfig { mixture: vec![1.0; 3], ..RunConfig::preset("smoke").expect("preset") };
    let err = train(&gpu(), &cfg, &mut |_| {}).expect_err("must fail").to_string();
    assert!(err.contains("4 domains"), "{err}");
}

#[test]
fn a_diverging_run_stops_with_a_clear_error() {
    let mut cfg = RunConfig::preset("smoke").expect("preset");
    cfg.schedule.lr = 1e30;
    cfg.schedule.warmup = 1;
    cfg.optim.grad_clip = 0.0;
    cfg.log_every = 1;
    let err = train(&gpu(), &cfg, &mut |_| {}).expect_err("must diverge").to_string();
    assert!(err.contains("lower the learning rate"), "{err}");
}
