//! Training end to end on both backends: the loss falls below the context-free baseline, the
//! same seed on the same device gives the same curve, and the CPU backend and the WGSL
//! kernels give the same losses.

use sigmix::Device;
use sigmix::train::{RunConfig, RunRecord, Trainer, measure, train};
use sigmix_tests::{cpu, devices, gpu};

fn smoke_on(dev: &Device, seed: u64) -> RunRecord {
    let cfg = RunConfig { seed, ..RunConfig::preset("smoke").expect("preset") };
    train(dev, &cfg, &[], &mut |_| {}).expect("training runs")
}

fn losses(r: &RunRecord) -> Vec<f32> {
    r.curve.iter().map(|p| p.loss).collect()
}

#[test]
fn the_loss_falls_below_the_unigram_entropy() {
    for dev in devices() {
        falls_below_unigram(&smoke_on(&dev, 1));
    }
}

#[test]
fn both_backends_give_the_same_losses() {
    // Same seed, data and initialisation: the curves may differ only by f32 rounding (summation
    // order differs between the WGSL kernels and their CPU twins), amplified a little by 60 steps.
    let (c, g) = (smoke_on(&cpu(), 3), smoke_on(&gpu(), 3));
    assert_eq!(c.curve.len(), g.curve.len());
    for (a, b) in c.curve.iter().zip(&g.curve) {
        let rel = ((a.loss - b.loss) / b.loss).abs();
        assert!(rel < 2e-3, "step {}: CPU loss {} vs GPU loss {} (rel. {rel:.1e})", a.step, a.loss, b.loss);
    }
    let (ec, eg) = (c.final_eval().expect("eval").mean(), g.final_eval().expect("eval").mean());
    assert!(((ec - eg) / eg).abs() < 2e-3, "final eval: CPU {ec} vs GPU {eg}");
}

fn falls_below_unigram(r: &RunRecord) {
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
    for dev in devices() {
        let (a, b, c) = (smoke_on(&dev, 5), smoke_on(&dev, 5), smoke_on(&dev, 6));
        assert_eq!(losses(&a), losses(&b), "same seed, same device ({}), different curves", dev.label());
        assert_ne!(losses(&a), losses(&c), "different seeds gave identical curves");
    }
}

#[test]
fn a_bad_mixture_is_refused_with_the_reason() {
    let cfg = RunConfig { mixture: vec![1.0, -1.0, 0.0, 0.0], ..RunConfig::preset("smoke").expect("preset") };
    let err = train(&cpu(), &cfg, &[], &mut |_| {}).expect_err("must fail").to_string();
    assert!(err.contains("non-negative"), "{err}");
    let cfg = RunConfig { mixture: vec![1.0; 3], ..RunConfig::preset("smoke").expect("preset") };
    let err = train(&cpu(), &cfg, &[], &mut |_| {}).expect_err("must fail").to_string();
    assert!(err.contains("4 domains"), "{err}");
}

#[test]
fn a_diverging_run_stops_with_a_clear_error() {
    let mut cfg = RunConfig::preset("smoke").expect("preset");
    cfg.schedule.lr = 1e30;
    cfg.schedule.warmup = 1;
    cfg.optim.grad_clip = 0.0;
    cfg.log_every = 1;
    for dev in devices() {
        let err = train(&dev, &cfg, &[], &mut |_| {}).expect_err("must diverge").to_string();
        assert!(err.contains("lower the learning rate"), "{err}");
    }
}

#[test]
fn a_trainer_steps_one_at_a_time_and_samples_text() {
    for dev in devices() {
        let cfg = RunConfig::preset("smoke").expect("preset");
        let mut t = Trainer::new(&dev, &cfg).expect("builds");
        let first = t.step().expect("steps");
        assert_eq!((first.step, first.loss.is_some()), (1, true));
        let text = t.sample("key", 12, 0.8, 3).expect("samples");
        assert!(!text.is_empty(), "{}", dev.label());
        while !t.finished() {
            t.step().expect("steps");
        }
        let record = t.record();
        let whole = train(&dev, &cfg, &[], &mut |_| {}).expect("trains");
        assert_eq!(losses(&record), losses(&whole), "sampling between steps changes nothing ({})", dev.label());
        assert!(t.step().expect_err("finished").to_string().contains("finished"));
        assert!(t.sample("x", 4, -1.0, 0).is_err());
    }
}

#[test]
fn the_throughput_measurement_times_the_steps_it_says_and_trains_as_the_trainer_does() {
    for dev in devices() {
        let cfg = RunConfig::preset("smoke").expect("preset");
        let (warm, timed) = (2, 3);
        let m = measure(&dev, &cfg, warm, timed).expect("measures");
        assert_eq!((m.warm_steps, m.timed_steps, m.tokens_per_step), (warm, timed, cfg.batch * cfg.model.context));
        let rate = (timed * m.tokens_per_step) as f64 / m.timed_secs;
        assert!(m.tokens_per_sec > 0.0 && (m.tokens_per_sec / rate - 1.0).abs() < 1e-9, "{m:?}");
        // The same run (a step beyond the measured ones, so the schedule matches) read at
        // every step: the measurement's last loss is the trainer's at step 1 + warm + timed.
        let steps = 1 + warm + timed;
        let mut t = Trainer::new(&dev, &RunConfig { steps: steps + 1, log_every: 1, eval_every: 0, ..cfg.clone() })
            .expect("builds");
        let mut loss = None;
        for _ in 0..steps {
            loss = t.step().expect("steps").loss;
        }
        assert_eq!(Some(m.last_loss), loss, "{}", dev.label());
        let err = measure(&dev, &cfg, 1, 0).expect_err("nothing to time");
        assert!(err.to_string().contains("at least one timed step"), "{err}");
    }
}

#[test]
fn a_trainer_makes_its_bind_groups_once_and_lets_them_go_when_dropped() {
    // A device of its own: other tests' trainers, dropped meanwhile, would empty a shared cache.
    let g = sigmix::Gpu::new().expect("an adapter");
    let dev = Device::Gpu(g.clone());
    let cfg = RunConfig { steps: 10, eval_every: 0, ..RunConfig::preset("smoke").expect("preset") };
    let mut t = Trainer::new(&dev, &cfg).expect("builds");
    t.step().expect("steps");
    t.step().expect("steps");
    let after_two = g.cached_bind_groups();
    assert!(
        after_two > 0 && after_two <= t.kernels_per_step(),
        "{after_two} cached for {} kernels",
        t.kernels_per_step()
    );
    for _ in 0..3 {
        t.step().expect("steps");
    }
    assert_eq!(g.cached_bind_groups(), after_two, "later steps reuse the same bind groups");
    drop(t);
    assert_eq!(g.cached_bind_groups(), 0, "dropping the trainer releases them");
}

/// 24 KB of a made-up ledger: short structured lines a small model learns quickly.
fn ledger() -> Vec<u8> {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < 24_000 {
        i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s.push_str(&format!("paid {} to shop {} on day {}\n", (i >> 33) % 500, (i >> 40) % 7, (i >> 50) % 28));
    }
    s.into_bytes()
}

#[test]
fn a_text_of_ones_own_trains_as_a_fifth_domain_and_must_be_given() {
    use sigmix::data::TextDomain;
    let text = TextDomain::new("ledger.txt", ledger()).expect("a text domain");
    let mut cfg = RunConfig::preset("smoke").expect("preset");
    cfg.add_texts(std::slice::from_ref(&text), 1.0);
    assert_eq!(cfg.domain_names(), ["prose", "code", "arithmetic", "records", "ledger"]);
    assert_eq!(cfg.mixture.len(), 5);

    let missing = Trainer::new(&cpu(), &cfg).err().expect("the bytes are needed").to_string();
    assert!(missing.contains("`ledger`") && missing.contains("was not given"), "{missing}");
    let mut short = cfg.clone();
    short.mixture.pop();
    let e = short.validate().expect_err("one weight per domain").to_string();
    assert!(e.contains("4 weights") && e.contains("ledger"), "{e}");

    let r = train(&cpu(), &cfg, std::slice::from_ref(&text), &mut |_| {}).expect("trains");
    assert_eq!(r.domains.last().map(String::as_str), Some("ledger"));
    let e = r.final_eval().expect("evaluated");
    assert_eq!(e.per_domain.len(), 5);
    assert!(e.per_domain[4] < 4.0, "the ledger is learnt (ln 256 = 5.55): {}", e.per_domain[4]);

    // The configuration names the text and survives JSON; the text itself is not in it.
    let json = serde_json::to_string(&cfg).expect("serialises");
    assert!(json.contains("\"texts\"") && !json.contains("paid"), "{json}");
    let back: RunConfig = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, cfg);
    // A built-in-only configuration writes no `texts` field (older records read as before).
    let plain = serde_json::to_string(&RunConfig::preset("smoke").expect("preset")).expect("serialises");
    assert!(!plain.contains("texts"), "{plain}");
}
