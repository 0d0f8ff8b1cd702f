//! Contrastive losses on both backends against the f64 oracle: every loss on odd sample
//! counts, views 2..8 and widths that are not multiples of 4, across several tiles, at
//! temperatures on both sides of the shared-shift bound (τ = 0.025); and the
//! errors a caller gets for shapes the kernels cannot take.

use sigmix::kernels::contrastive::{ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState};
use sigmix::rng::Rng;
use sigmix::selftest::check_contrastive;
use sigmix_tests::{assert_all_pass, block_on, devices};

#[test]
fn every_loss_matches_the_reference_on_awkward_shapes() {
    // (181, 3, 7) is over 512 rows: several of the CPU backend's 256-row blocks and 512-column
    // tiles, and nine of the GPU pair passes' 64-row blocks (201 and 200 rows: four, an even
    // count, whose last pass takes half the pairs). Widths that are multiples of 4 take the GPU
    // pair passes' vec4 loads; 128, the widest, every feature slot of the gradient products.
    let shapes = [
        (3, 2, 5),
        (2, 7, 1),
        (11, 5, 31),
        (21, 8, 67),
        (67, 3, 9),
        (181, 3, 7),
        (13, 3, 20),
        (37, 4, 64),
        (50, 4, 128),
    ];
    for dev in devices() {
        let mut rng = Rng::new(31);
        for loss in ContrastiveLoss::ALL {
            for (i, (samples, views, dim)) in shapes.into_iter().enumerate() {
                let views = if loss == ContrastiveLoss::InfoNce { 2 } else { views };
                let shape = ContrastiveShape { samples, views, dim };
                // 0.02 is colder than the shared shift allows (the per-row path on both backends).
                let tau = [0.02, 0.1, 0.2, 0.5][(i + loss as usize) % 4];
                assert_all_pass(&dev, &block_on(check_contrastive(&dev, &mut rng, shape, loss, tau)).expect("runs"));
            }
        }
    }
}

#[test]
fn shapes_the_kernels_cannot_take_are_refused_with_a_reason() {
    let dev = &devices()[0];
    let cases = [
        (ContrastiveShape { samples: 1, views: 2, dim: 8 }, ContrastiveLoss::Geometric, "at least 2"),
        (ContrastiveShape { samples: 4, views: 3, dim: 8 }, ContrastiveLoss::InfoNce, "exactly 2 views"),
        (ContrastiveShape { samples: 4, views: 9, dim: 8 }, ContrastiveLoss::Geometric, "2..=8"),
        (ContrastiveShape { samples: 4, views: 2, dim: 200 }, ContrastiveLoss::Geometric, "1..=128"),
    ];
    for (shape, loss, says) in cases {
        let err = shape.validate(loss).expect_err("refused");
        assert!(err.to_string().contains(says), "{err}");
    }
    let shape = ContrastiveShape { samples: 4, views: 2, dim: 8 };
    let st = ContrastiveState::new(dev, shape).expect("state");
    let x = sigmix::Tensor::from_f32(dev, "x", &[8, 8], &[1.0; 64]).expect("x");
    let mut rec = sigmix::Recorder::new(dev);
    let cold = ContrastiveOpts { loss: ContrastiveLoss::Geometric, temperature: 0.0 };
    let err = sigmix::kernels::contrastive::contrastive_forward(&mut rec, &x, &st, &shape, &cold).expect_err("refused");
    assert!(err.to_string().contains("temperature"), "{err}");
    let other = ContrastiveShape { samples: 2, views: 4, dim: 8 };
    let err = sigmix::kernels::contrastive::contrastive_forward(&mut rec, &x, &st, &other, &ContrastiveOpts::default())
        .expect_err("refused");
    assert!(err.to_string().contains("state was made for"), "{err}");
}

#[test]
fn the_cpu_loss_works_in_memory_linear_in_the_rows() {
    // 4,096 rows: the similarity matrix would be 64 MiB; the CPU twin's working buffers (per
    // chunk an N × d accumulator and one similarity tile) stay a few MiB, whatever τ's path.
    let dev = sigmix_tests::cpu();
    let (n, d) = (4096, 16);
    let shape = ContrastiveShape { samples: n / 4, views: 4, dim: d };
    let mut rng = Rng::new(8);
    let x = sigmix::Tensor::from_f32(&dev, "x", &[n, d], &rng.uniform_vec(n * d, -1.0, 1.0)).expect("x");
    let dx = sigmix::Tensor::empty(&dev, "dx", &[n, d], sigmix::DType::F32).expect("dx");
    let st = ContrastiveState::new(&dev, shape).expect("state");
    let matrix = (n * n * 4) as u64;
    for temperature in [0.2, 0.02] {
        let o = ContrastiveOpts { loss: ContrastiveLoss::Geometric, temperature };
        dev.reset_scratch_peak();
        let mut rec = sigmix::Recorder::new(&dev);
        sigmix::kernels::contrastive::contrastive_forward(&mut rec, &x, &st, &shape, &o).expect("forward");
        sigmix::kernels::contrastive::contrastive_backward(&mut rec, &st, &dx, &shape, &o).expect("backward");
        rec.submit().expect("runs");
        let peak = dev.scratch_peak_bytes();
        // Another test's small shapes may add a little at the same time.
        assert!(
            peak > 0 && peak < matrix / 4,
            "τ = {temperature}: {peak} bytes of scratch against a {matrix}-byte matrix"
        );
    }
}
