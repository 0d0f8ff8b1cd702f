//! Every kernel against the f64 reference on random, odd, non-tile-aligned shapes, outputs
//! poisoned with NaN before the run.

use sigmix::kernels::norm::NormKind;
use sigmix::rng::Rng;
use sigmix::selftest as st;
use sigmix_tests::{assert_all_pass, devices};

#[test]
fn matmul_all_transposes_batched_and_accumulating() {
    for dev in devices() {
        let mut rng = Rng::new(11);
        let mut checks = Vec::new();
        for &(m, n, k) in &[(1, 1, 1), (7, 5, 3), (33, 65, 17), (64, 64, 64), (97, 31, 130)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                checks.push(st::check_matmul(&dev, &mut rng, 1, m, n, k, ta, tb, false).expect("runs"));
            }
            checks.push(st::check_matmul(&dev, &mut rng, 3, m, n, k, false, true, true).expect("runs"));
        }
        assert_all_pass(&dev, &checks);
    }
}

#[test]
fn elementwise_gelu_and_bias() {
    for dev in devices() {
        let mut rng = Rng::new(12);
        for (rows, cols) in [(1, 1), (3, 257), (129, 7), (300, 33)] {
            assert_all_pass(&dev, &st::check_elementwise(&dev, &mut rng, rows, cols).expect("runs"));
        }
    }
}

#[test]
fn softmax_full_and_causal() {
    for dev in devices() {
        let mut rng = Rng::new(13);
        for (blocks, q, cols, causal) in
            [(1, 1, 1, false), (2, 7, 7, true), (3, 65, 65, true), (1, 5, 300, false), (2, 3, 10, true)]
        {
            assert_all_pass(&dev, &st::check_softmax(&dev, &mut rng, blocks, q, cols, causal).expect("runs"));
        }
    }
}

#[test]
fn layernorm_and_rmsnorm() {
    for dev in devices() {
        let mut rng = Rng::new(14);
        for kind in [NormKind::LayerNorm, NormKind::RmsNorm] {
            for (rows, cols) in [(1, 3), (17, 64), (5, 191)] {
                assert_all_pass(&dev, &st::check_norm(&dev, &mut rng, kind, rows, cols).expect("runs"));
            }
        }
    }
}

#[test]
fn embedding_lookup_and_scatter() {
    for dev in devices() {
        let mut rng = Rng::new(15);
        for (rows, vocab, dim) in [(1, 1, 1), (100, 7, 33), (257, 256, 5)] {
            assert_all_pass(&dev, &st::check_embedding(&dev, &mut rng, rows, vocab, dim).expect("runs"));
        }
    }
}

#[test]
fn cross_entropy_loss_and_gradient() {
    for dev in devices() {
        let mut rng = Rng::new(16);
        for (rows, vocab) in [(1, 2), (13, 256), (70, 1000)] {
            assert_all_pass(&dev, &st::check_cross_entropy(&dev, &mut rng, rows, vocab).expect("runs"));
        }
    }
}

#[test]
fn adamw_global_norm_and_ema() {
    for dev in devices() {
        let mut rng = Rng::new(17);
        for n in [1, 255, 1025, 300_001] {
            assert_all_pass(&dev, &st::check_optim(&dev, &mut rng, n).expect("runs"));
        }
    }
}

#[test]
fn the_full_selftest_passes() {
    for dev in devices() {
        assert_all_pass(&dev, &sigmix::selftest::run_all(&dev, 2024).expect("runs"));
    }
}

#[test]
fn a_check_fails_when_the_output_is_wrong() {
    // The comparison itself must be able to fail: a NaN or a perturbed value is caught.
    assert!(sigmix::reference::rel_err(&[f32::NAN, 1.0], &[1.0, 1.0]).is_infinite());
    assert!(sigmix::reference::rel_err(&[1.0, 1.001], &[1.0, 1.0]) > st::TOLERANCE);
}
