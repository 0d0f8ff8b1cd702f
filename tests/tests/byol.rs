//! BYOL end to end: augmentations, online encoder and predictor, the EMA target and AdamW
//! train on both backends to the same curve, the loss falls, and the EMA scaling rule's
//! experiment runs every κ over the same samples with ρ^κ and with ρ fixed.

use sigmix::models::EncoderConfig;
use sigmix::selfsup::ema_rule::{EmaRuleConfig, Probed, curves_csv, rule_gains, run_ema_rule_async, spread};
use sigmix::selfsup::{ByolConfig, train_byol};
use sigmix_tests::{block_on, devices};

fn small() -> ByolConfig {
    ByolConfig {
        samples: 12,
        steps: 40,
        encoder: EncoderConfig { input: 8 * 8 * 3, hidden: 48, repr: 24, head_hidden: 24, embed: 16 },
        predictor_hidden: 24,
        image_size: 12,
        view_size: 8,
        train_images: 200,
        probe_images: 100,
        log_every: 5,
        probe_every: 20,
        ..ByolConfig::default()
    }
}

#[test]
fn both_backends_train_the_same_networks_and_the_loss_falls() {
    let cfg = small();
    let [cpu, gpu] = devices();
    let a = train_byol(&cpu, &cfg, &mut |_| {}).expect("CPU run");
    let b = train_byol(&gpu, &cfg, &mut |_| {}).expect("GPU run");
    let (first, last) = (a.curve[0].1, a.curve[a.curve.len() - 1].1);
    assert!(last < 0.5 * first, "loss {first} → {last} did not fall");
    for ((s, la), (_, lb)) in a.curve.iter().zip(&b.curve).take(3) {
        assert!((la - lb).abs() < 2e-3 * la.abs().max(0.1), "step {s}: CPU {la} vs GPU {lb}");
    }
    let steps: Vec<usize> = a.probes.iter().map(|p| p.0).collect();
    assert_eq!(steps, vec![0, 20, 40], "probed before, midway and after");
    assert_eq!(a.target_probes.len(), a.probes.len());
    assert_eq!(a.probes[0], a.target_probes[0], "online and target start as one network");
}

#[test]
fn the_ema_rule_experiment_runs_every_kappa_over_the_same_samples() {
    let base = ByolConfig { steps: 32, probe_every: 0, ..small() };
    let cfg = EmaRuleConfig { base, kappas: vec![2, 4], probes: 2 };
    let dev = &devices()[0];
    let mut kept = 0;
    let never = std::sync::atomic::AtomicBool::new(false);
    let records = block_on(run_ema_rule_async(
        dev,
        &cfg,
        &never,
        &mut |_| {
            kept += 1;
            Ok(())
        },
        &mut |_, _| {},
    ))
    .expect("runs")
    .expect("not stopped");
    assert_eq!((records.len(), kept), (5, 5), "κ = 1 once, κ = 2 and 4 with and without the rule");
    let seen = cfg.base.samples * cfg.base.steps;
    for r in &records {
        let last = r.record.curve.last().expect("a loss");
        assert_eq!(r.record.samples_seen(last.0), seen, "κ = {}", r.run.kappa);
        assert!(last.1.is_finite());
        assert_eq!(r.record.probes.len(), 3, "before, at half and at the end");
    }
    assert!(spread(&records, true, Probed::Target).is_some() && spread(&records, false, Probed::Online).is_some());
    let gains: Vec<usize> = rule_gains(&records, Probed::Target).iter().map(|g| g.0).collect();
    assert_eq!(gains, vec![2, 4], "one gain per κ with both arms");
    let csv = curves_csv(&records);
    assert!(csv.starts_with("kappa,arm,ema_decay,what,samples_seen,value\n"), "{csv}");
    for arm in ["1,base", "2,rule", "4,fixed"] {
        assert!(csv.contains(arm), "{arm} missing");
    }
}

#[test]
fn bad_settings_are_refused_before_any_work() {
    let dev = &devices()[0];
    let err = train_byol(dev, &ByolConfig { samples: 1, ..small() }, &mut |_| {}).expect_err("refused");
    assert!(err.to_string().contains("1 samples per step"), "{err}");
    let cfg = EmaRuleConfig { base: small(), kappas: vec![3], probes: 2 };
    let err = cfg.plan().expect_err("refused").to_string();
    assert!(err.contains("κ = 3") && err.contains("40 base steps"), "{err}");
}
