//! The self-supervised demo end to end: augmentations on the device, the encoder, the
//! contrastive loss and AdamW train on both backends to the same curve, the loss falls, and
//! the linear probe reads the learned representation better than the untrained one.

use sigmix::kernels::augment::AugmentConfig;
use sigmix::kernels::contrastive::ContrastiveLoss;
use sigmix::models::EncoderConfig;
use sigmix::rng::Rng;
use sigmix::selfsup::{PolyviewConfig, train_polyview};
use sigmix::selftest::check_augment;
use sigmix_tests::{assert_all_pass, block_on, devices};

fn small(views: usize, loss: ContrastiveLoss) -> PolyviewConfig {
    PolyviewConfig {
        samples: 24 / views,
        views,
        steps: 40,
        loss,
        encoder: EncoderConfig { input: 8 * 8 * 3, hidden: 48, repr: 24, head_hidden: 24, embed: 16 },
        image_size: 12,
        view_size: 8,
        train_images: 200,
        probe_images: 100,
        log_every: 5,
        ..PolyviewConfig::default()
    }
}

#[test]
fn both_backends_train_the_same_encoder_and_the_loss_falls() {
    for (views, loss) in [(2, ContrastiveLoss::InfoNce), (4, ContrastiveLoss::Arithmetic)] {
        let cfg = small(views, loss);
        let [cpu, gpu] = devices();
        let a = train_polyview(&cpu, &cfg, &mut |_| {}).expect("CPU run");
        let b = train_polyview(&gpu, &cfg, &mut |_| {}).expect("GPU run");
        let (first, last) = (a.curve[0].1, a.curve[a.curve.len() - 1].1);
        assert!(last < first - 0.1, "M={views}: loss {first} → {last} did not fall");
        for ((s, la), (_, lb)) in a.curve.iter().zip(&b.curve).take(3) {
            assert!((la - lb).abs() < 2e-3 * la.abs().max(1.0), "M={views} step {s}: CPU {la} vs GPU {lb}");
        }
        assert!(a.probe_after.1.is_finite() && b.probe_after.1.is_finite());
        assert_eq!(a.encoder_passes, cfg.steps * 24);
    }
}

#[test]
fn a_run_lets_its_cached_bind_groups_go_when_it_ends() {
    // A device of its own, so other tests' runs cannot empty or fill the cache meanwhile.
    let g = sigmix::Gpu::new().expect("an adapter");
    let dev = sigmix::Device::Gpu(g.clone());
    let mut seen = 0;
    train_polyview(&dev, &small(2, ContrastiveLoss::InfoNce), &mut |_| seen = seen.max(g.cached_bind_groups()))
        .expect("runs");
    assert!(seen > 0, "the steps keep their bind groups");
    assert_eq!(g.cached_bind_groups(), 0, "and release them with the run");
}

#[test]
fn augmentations_match_the_reference_on_both_backends() {
    for dev in devices() {
        let mut rng = Rng::new(4);
        for (images, in_size, views, out_size) in [(1, 5, 3, 4), (4, 24, 17, 16), (2, 13, 9, 21)] {
            assert_all_pass(
                &dev,
                &[block_on(check_augment(&dev, &mut rng, images, in_size, views, out_size)).expect("runs")],
            );
        }
    }
}

#[test]
fn bad_settings_are_refused_before_any_work() {
    let dev = &devices()[0];
    let mut cfg = small(2, ContrastiveLoss::Geometric);
    cfg.encoder.input = 100;
    let err = train_polyview(dev, &cfg, &mut |_| {}).expect_err("refused");
    assert!(err.to_string().contains("view_size"), "{err}");
    let mut cfg = small(4, ContrastiveLoss::InfoNce);
    cfg.augment = AugmentConfig { jitter: 1.5, ..AugmentConfig::default() };
    let err = train_polyview(dev, &cfg, &mut |_| {}).expect_err("refused");
    assert!(err.to_string().contains("exactly 2 views"), "{err}");
}
