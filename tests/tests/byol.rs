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

/// The Bayes-by-Backprop layer's gradients (means, scales, bias, input; the KL term's included)
/// against central differences of the f64 reference layer, on both backends.
#[test]
fn the_bayes_by_backprop_layer_gradient_matches_finite_differences() {
    use sigmix::kernels::bayes::BayesOpts;
    use sigmix::nn::{BayesInit, BayesLinear, ParamBuilder};
    use sigmix::reference::bayes as rb;
    use sigmix::rng::Rng;
    use sigmix::{DType, Recorder, Tensor};
    let (rows, inp, out) = (5, 4, 3);
    let o = BayesOpts { seed: 9, prior_std: 0.8, kl_weight: 0.05 };
    let mut rng = Rng::new(3);
    let mut draw =
        |n: usize, lo: f64, hi: f64| -> Vec<f64> { (0..n).map(|_| lo + (hi - lo) * rng.uniform()).collect() };
    let (x, dy) = (draw(rows * inp, -1.0, 1.0), draw(rows * out, -1.0, 1.0));
    let (mu, rho, b) = (draw(out * inp, -0.5, 0.5), draw(out * inp, -3.0, 0.5), draw(out, -0.2, 0.2));
    // Σ dy·y + k·KL, y = x·Wᵀ + b with W the reference's draw.
    let objective = |x: &[f64], mu: &[f64], rho: &[f64], b: &[f64]| {
        let w = rb::sample(mu, rho, o.seed);
        let mut total = f64::from(o.kl_weight) * rb::kl(mu, rho, f64::from(o.prior_std));
        for r in 0..rows {
            for j in 0..out {
                let y = b[j] + (0..inp).map(|i| x[r * inp + i] * w[j * inp + i]).sum::<f64>();
                total += dy[r * out + j] * y;
            }
        }
        total
    };
    let base = [x.clone(), mu.clone(), rho.clone(), b.clone()];
    let fd = |which: usize, i: usize| {
        let h = 1e-6;
        let (mut up, mut dn) = (base.clone(), base.clone());
        up[which][i] += h;
        dn[which][i] -= h;
        (objective(&up[0], &up[1], &up[2], &up[3]) - objective(&dn[0], &dn[1], &dn[2], &dn[3])) / (2.0 * h)
    };
    let f32s = |v: &[f64]| v.iter().map(|v| *v as f32).collect::<Vec<_>>();
    for dev in devices() {
        let mut pb = ParamBuilder::default();
        let layer = BayesLinear::new(&dev, &mut pb, "bbb", (rows, inp, out), BayesInit::default()).expect("builds");
        let w = pb.build(&dev, 1).expect("weights");
        for (id, v) in [(layer.mu, &mu), (layer.rho, &rho), (layer.b, &b)] {
            w.value(id).write_f32(&f32s(v)).expect("upload");
        }
        let xt = Tensor::from_f32(&dev, "x", &[rows, inp], &f32s(&x)).expect("x");
        let dyt = Tensor::from_f32(&dev, "dy", &[rows, out], &f32s(&dy)).expect("dy");
        let y = Tensor::empty(&dev, "y", &[rows, out], DType::F32).expect("y");
        let dx = Tensor::empty(&dev, "dx", &[rows, inp], DType::F32).expect("dx");
        let mut rec = Recorder::new(&dev);
        rec.clear(w.grads()).expect("clear");
        layer.sample(&mut rec, &w, &o).expect("sample");
        layer.forward(&mut rec, &w, &xt, &y).expect("forward");
        layer.backward(&mut rec, &w, (&xt, &dyt), Some(&dx), false, &o).expect("backward");
        let kl = layer.kl(&mut rec, &w, &o).expect("kl");
        rec.submit().expect("runs");
        let want_kl = rb::kl(&mu, &rho, f64::from(o.prior_std));
        let got_kl = f64::from(kl.to_f32().expect("reads")[0]);
        assert!((got_kl - want_kl).abs() < 1e-5 * want_kl.abs(), "{}: KL {got_kl} vs {want_kl}", dev.label());
        for (name, got, which) in [
            ("dx", dx.to_f32().expect("reads"), 0),
            ("dμ", w.grad(layer.mu).to_f32().expect("reads"), 1),
            ("dρ", w.grad(layer.rho).to_f32().expect("reads"), 2),
            ("db", w.grad(layer.b).to_f32().expect("reads"), 3),
        ] {
            let want: Vec<f64> = (0..got.len()).map(|i| fd(which, i)).collect();
            let num: f64 = got.iter().zip(&want).map(|(g, w)| (f64::from(*g) - w).powi(2)).sum::<f64>().sqrt();
            let den: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt();
            assert!(
                num <= 1e-4 * den.max(1e-6),
                "{} {name}: rel. error {} ({got:?} vs {want:?})",
                dev.label(),
                num / den
            );
        }
    }
}
