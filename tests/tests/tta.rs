//! Test-time adaptation end to end: the source classifier trains to the same losses on both
//! backends, every method streams to the same predictions and entropies there, adaptation
//! changes only what it should, and bad settings are refused with the value named.

use sigmix::data::Corruption;
use sigmix::models::ClassifierConfig;
use sigmix::tta::{TtaConfig, TtaEvent, TtaMethod, run_tta};
use sigmix_tests::devices;

fn small() -> TtaConfig {
    TtaConfig {
        classifier: ClassifierConfig { input: 8 * 8 * 3, hidden: 24, repr: 16, classes: 5 },
        image_size: 8,
        train_images: 200,
        source_steps: 40,
        source_batch: 16,
        stream_len: 48,
        corruption: Corruption::Mixed,
        severities: vec![4],
        batches: vec![1, 8],
        window: 16,
        adapt_lr: 5e-3,
        ..TtaConfig::default()
    }
}

#[test]
fn both_backends_train_and_adapt_alike() {
    let cfg = small();
    let [cpu, gpu] = devices();
    let a = run_tta(&cpu, &cfg, &mut |_| {}).expect("CPU run");
    let b = run_tta(&gpu, &cfg, &mut |_| {}).expect("GPU run");
    let (first, last) = (a.source_curve[0].1, a.source_curve[a.source_curve.len() - 1].1);
    assert!(last < first, "source loss {first} → {last} did not fall");
    for ((s, la), (_, lb)) in a.source_curve.iter().zip(&b.source_curve) {
        assert!((la - lb).abs() < 2e-3 * la.abs().max(1.0), "source step {s}: CPU {la} vs GPU {lb}");
    }
    assert_eq!(a.streams.len(), cfg.batches.len() * TtaMethod::ALL.len());
    for (sa, sb) in a.streams.iter().zip(&b.streams) {
        assert_eq!((sa.method, sa.batch), (sb.method, sb.batch));
        assert_eq!(sa.curve.last().map(|p| p.seen), Some(cfg.stream_len));
        // Entropies agree point by point; accuracies may differ by a near-tie or two.
        for (pa, pb) in sa.curve.iter().zip(&sb.curve) {
            assert!(
                (pa.entropy - pb.entropy).abs() < 5e-3,
                "{} b={} at {}: entropy CPU {} vs GPU {}",
                sa.method.name(),
                sa.batch,
                pa.seen,
                pa.entropy,
                pb.entropy
            );
        }
        assert!((sa.accuracy - sb.accuracy).abs() <= 2.0 / cfg.stream_len as f64);
    }
    // The source model is the same whatever the batch; adapting changes its predictions.
    let src1 = a.stream(TtaMethod::Source, 1, 4).expect("ran");
    let src8 = a.stream(TtaMethod::Source, 8, 4).expect("ran");
    assert!((src1.accuracy - src8.accuracy).abs() <= 1.0 / cfg.stream_len as f64);
    assert!((src1.mean_entropy - src8.mean_entropy).abs() < 1e-5);
    let tent1 = a.stream(TtaMethod::Tent, 1, 4).expect("ran");
    assert!((tent1.mean_entropy - src1.mean_entropy).abs() > 1e-4, "Tent left the model as it was");
    assert!(tent1.lr > 0.0 && src1.lr == 0.0);
}

#[test]
fn every_stream_starts_from_the_source_model() {
    // Two runs of the same method in a row must match: the second starts from the source
    // parameters and fresh moments, not where the first left off.
    let cfg = TtaConfig { methods: vec![TtaMethod::Tent, TtaMethod::Tent], batches: vec![8], ..small() };
    let cpu = &devices()[0];
    let mut events = 0;
    let r = run_tta(cpu, &cfg, &mut |e| {
        if matches!(e, TtaEvent::StreamPoint { .. }) {
            events += 1;
        }
    })
    .expect("runs");
    assert_eq!(r.streams[0].curve, r.streams[1].curve);
    assert_eq!(events, r.streams[0].curve.len() * 2);
}

#[test]
fn bad_settings_are_refused_naming_the_value() {
    let cpu = &devices()[0];
    let refused = |cfg: TtaConfig, want: &str| {
        let err = run_tta(cpu, &cfg, &mut |_| {}).expect_err("refused").to_string();
        assert!(err.contains(want), "expected {want:?} in: {err}");
    };
    refused(TtaConfig { batches: vec![1, 7], ..small() }, "batches of 7");
    refused(TtaConfig { batches: vec![0], ..small() }, "batches of 0");
    refused(TtaConfig { severities: vec![6], ..small() }, "severity 6");
    refused(TtaConfig { realm_scale: Some(-0.5), ..small() }, "-0.5");
    refused(TtaConfig { image_size: 9, ..small() }, "image_size² × 3 = 243");
    refused(TtaConfig { train_images: 10, ..small() }, "10 training images");
    refused(TtaConfig { adapt_lr: 0.0, ..small() }, "adapt_lr");
}
