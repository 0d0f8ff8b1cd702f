//! Every kernel against the f64 reference on random, odd, non-tile-aligned shapes, outputs
//! poisoned with NaN before the run.

use sigmix::kernels::norm::NormKind;
use sigmix::rng::Rng;
use sigmix::selftest as st;
use sigmix_tests::{assert_all_pass, block_on, devices};

#[test]
fn matmul_all_transposes_batched_and_accumulating() {
    for dev in devices() {
        let mut rng = Rng::new(11);
        let mut checks = Vec::new();
        // k a multiple of 4 with aligned rows takes the vec4 kernel (edges clamped where m or n
        // is not a multiple of 4); the others the scalar one; C of 128 × 128 and more the wide
        // tiles (ragged in both directions, and exactly two tiles wide).
        let shapes = [
            (1, 1, 1),
            (7, 5, 3),
            (33, 65, 17),
            (64, 64, 64),
            (97, 31, 130),
            (37, 29, 20),
            (36, 44, 28),
            (131, 259, 37),
            (128, 256, 20),
        ];
        for &(m, n, k) in &shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                checks.push(block_on(st::check_matmul(&dev, &mut rng, 1, m, n, k, ta, tb, false)).expect("runs"));
            }
            checks.push(block_on(st::check_matmul(&dev, &mut rng, 3, m, n, k, false, true, true)).expect("runs"));
        }
        assert_all_pass(&dev, &checks);
    }
}

#[test]
fn elementwise_gelu_and_bias() {
    for dev in devices() {
        let mut rng = Rng::new(12);
        for (rows, cols) in [(1, 1), (3, 257), (129, 7), (300, 33)] {
            assert_all_pass(&dev, &block_on(st::check_elementwise(&dev, &mut rng, rows, cols)).expect("runs"));
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
            assert_all_pass(&dev, &block_on(st::check_softmax(&dev, &mut rng, blocks, q, cols, causal)).expect("runs"));
        }
    }
}

#[test]
fn layernorm_and_rmsnorm() {
    for dev in devices() {
        let mut rng = Rng::new(14);
        for kind in [NormKind::LayerNorm, NormKind::RmsNorm] {
            for (rows, cols) in [(1, 3), (17, 64), (5, 191)] {
                assert_all_pass(&dev, &block_on(st::check_norm(&dev, &mut rng, kind, rows, cols)).expect("runs"));
            }
        }
    }
}

#[test]
fn embedding_lookup_and_scatter() {
    for dev in devices() {
        let mut rng = Rng::new(15);
        for (rows, vocab, dim) in [(1, 1, 1), (100, 7, 33), (257, 256, 5)] {
            assert_all_pass(&dev, &block_on(st::check_embedding(&dev, &mut rng, rows, vocab, dim)).expect("runs"));
        }
    }
}

#[test]
fn cross_entropy_loss_and_gradient() {
    for dev in devices() {
        let mut rng = Rng::new(16);
        for (rows, vocab) in [(1, 2), (13, 256), (70, 1000)] {
            assert_all_pass(&dev, &block_on(st::check_cross_entropy(&dev, &mut rng, rows, vocab)).expect("runs"));
        }
    }
}

#[test]
fn entropy_objectives_loss_and_gradient() {
    use sigmix::kernels::entropy::TtaObjective;
    let objectives = [
        TtaObjective::Tent,
        TtaObjective::filter_default(5),
        TtaObjective::Realm { alpha: 2.0, scale: 0.4 },
        TtaObjective::Realm { alpha: 0.0, scale: 0.9 },
        TtaObjective::Realm { alpha: f32::NEG_INFINITY, scale: 0.64 },
        TtaObjective::Realm { alpha: -2.0, scale: 0.64 },
        TtaObjective::Realm { alpha: 1.0, scale: 1.5 },
    ];
    for dev in devices() {
        let mut rng = Rng::new(26);
        for (i, o) in objectives.into_iter().enumerate() {
            let (rows, classes) = [(1, 2), (13, 5), (70, 1000), (3, 67), (41, 10), (9, 129), (64, 3)][i];
            assert_all_pass(&dev, &block_on(st::check_entropy(&dev, &mut rng, rows, classes, o)).expect("runs"));
        }
    }
}

#[test]
fn distillation_loss_and_student_gradient() {
    use sigmix::kernels::distill::DistillLoss;
    let cases = [
        (1, 2, 1.0, 1.0, false),
        (13, 256, 1.0, 1.0, true),
        (70, 259, 1.0, 0.0, false),
        (9, 5, 0.5, 0.7, true),
        (41, 67, 2.0, 0.5, false),
        (3, 1000, 4.0, 1.0, true),
    ];
    for dev in devices() {
        let mut rng = Rng::new(27);
        for (rows, vocab, temperature, lambda, near) in cases {
            let loss = DistillLoss { temperature, lambda };
            assert_all_pass(&dev, &block_on(st::check_distill(&dev, &mut rng, rows, vocab, loss, near)).expect("runs"));
        }
    }
}

#[test]
fn byol_loss_and_prediction_gradient() {
    for dev in devices() {
        let mut rng = Rng::new(24);
        for (samples, views, dim) in [(1, 2, 1), (7, 2, 64), (3, 3, 5), (33, 2, 129), (2, 8, 70), (5, 5, 3)] {
            assert_all_pass(&dev, &block_on(st::check_byol(&dev, &mut rng, samples, views, dim)).expect("runs"));
        }
    }
}

#[test]
fn adamw_global_norm_and_ema() {
    for dev in devices() {
        let mut rng = Rng::new(17);
        for n in [1, 255, 1025, 300_001] {
            assert_all_pass(&dev, &block_on(st::check_optim(&dev, &mut rng, n)).expect("runs"));
        }
    }
}

#[test]
fn bayes_by_backprop_draw_gradients_and_kl() {
    use sigmix::kernels::bayes::BayesOpts;
    for dev in devices() {
        let mut rng = Rng::new(18);
        // One weight, a workgroup ± 1, past the KL's 256 partials (300,001 > 256 · 1024).
        for (n, seed) in [(1, 0), (255, 3), (257, 4), (4099, 9), (300_001, 77)] {
            let o = BayesOpts { seed, prior_std: 0.3 + n as f32 % 1.7, kl_weight: 1.0 / n as f32 };
            assert_all_pass(&dev, &block_on(st::check_bayes(&dev, &mut rng, n, &o)).expect("runs"));
        }
        // A bad prior is refused with the value.
        let t = sigmix::Tensor::from_f32(&dev, "mu", &[3], &[0.0; 3]).expect("upload");
        let bad = BayesOpts { prior_std: 0.0, ..BayesOpts::default() };
        let err = sigmix::kernels::bayes::bayes_sample(&mut sigmix::Recorder::new(&dev), &t, &t, &t, &bad)
            .expect_err("a zero prior std");
        assert!(err.to_string().contains("prior's std") && err.to_string().contains(" 0 "), "{err}");
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

#[test]
fn moe_routing_grouping_gather_and_combine() {
    use sigmix::kernels::moe::RouteOpts;
    use sigmix::selftest::MoeCase;
    for dev in devices() {
        let mut rng = Rng::new(21);
        let cases = [
            // Odd sizes; more experts than slots, so some receive no token.
            (37, 64, 1, 7, RouteOpts::default(), MoeCase::Spread),
            (3, 16, 4, 5, RouteOpts { renorm: false, ..Default::default() }, MoeCase::Spread),
            // Every token's first choice is one expert: dropless keeps all, a capacity drops.
            (300, 8, 2, 33, RouteOpts::default(), MoeCase::AllToOne),
            (300, 8, 2, 33, RouteOpts { capacity: 50, ..Default::default() }, MoeCase::AllToOne),
            (1000, 5, 1, 3, RouteOpts { sigmoid: true, ..Default::default() }, MoeCase::Spread),
        ];
        for (t, e, k, c, opts, case) in cases {
            assert_all_pass(
                &dev,
                &block_on(st::check_moe(
                    &dev,
                    &mut rng,
                    st::MoeSizes { tokens: t, experts: e, top_k: k, dim: c },
                    opts,
                    case,
                ))
                .expect("runs"),
            );
        }
    }
}

#[test]
fn moe_routing_refuses_impossible_shapes_and_counts_drops() {
    use sigmix::kernels::moe::{MoeRouting, RouteOpts, moe_route};
    for dev in devices() {
        for (e, k) in [(0, 1), (65, 2), (3, 4), (8, 0)] {
            let err = MoeRouting::new(&dev, 10, e, k).err().expect("refused").to_string();
            assert!(err.contains("experts") && err.contains("top_k"), "{err}");
        }
        // All 40 tokens prefer expert 0 with top-1; a capacity of 10 drops 30.
        let logits: Vec<f32> = (0..40).flat_map(|_| [5.0, 0.0, 0.0]).collect();
        let lt = sigmix::Tensor::from_f32(&dev, "logits", &[40, 3], &logits).expect("upload");
        let r = MoeRouting::new(&dev, 40, 3, 1).expect("routing");
        let mut rec = sigmix::Recorder::new(&dev);
        moe_route(&mut rec, &lt, &r, &RouteOpts { capacity: 10, ..Default::default() }).expect("records");
        rec.submit().expect("runs");
        assert_eq!(r.dropped().expect("reads"), 30, "{}", dev.label());
        let wrong = sigmix::Tensor::from_f32(&dev, "logits", &[40, 4], &[0.0; 160]).expect("upload");
        let err = moe_route(&mut sigmix::Recorder::new(&dev), &wrong, &r, &RouteOpts::default()).expect_err("shape");
        assert!(err.to_string().contains("logits"), "{err}");
    }
}

#[test]
fn moe_grouped_matmuls_forward_and_gradients() {
    for dev in devices() {
        let mut rng = Rng::new(22);
        // Odd sizes, empty experts (E > slots), a capacity that drops, one expert, many rows;
        // the last two take the wide tiles (C 128 wide or more, forward with W as vec4s, the
        // input gradient's Wᵀ and the ragged widths scalar).
        for (t, e, k, k_in, n, cap) in [
            (5, 32, 1, 3, 17, 0),
            (77, 8, 2, 33, 20, 0),
            (64, 4, 2, 16, 16, 20),
            (19, 1, 1, 7, 9, 0),
            (600, 5, 3, 24, 40, 0),
            (150, 3, 2, 36, 144, 0),
            (131, 4, 2, 131, 130, 90),
        ] {
            assert_all_pass(
                &dev,
                &block_on(st::check_moe_matmul(
                    &dev,
                    &mut rng,
                    st::MoeSizes { tokens: t, experts: e, top_k: k, dim: k_in },
                    n,
                    cap,
                ))
                .expect("runs"),
            );
        }
    }
}

#[test]
fn moe_backward_through_combine_and_routing() {
    use sigmix::kernels::moe::RouteOpts;
    for dev in devices() {
        let mut rng = Rng::new(23);
        let cases = [
            (29, 5, 2, 13, RouteOpts::default()),
            (17, 9, 3, 4, RouteOpts { renorm: false, ..Default::default() }),
            (40, 6, 1, 8, RouteOpts { sigmoid: true, ..Default::default() }),
            (64, 4, 2, 7, RouteOpts { capacity: 9, ..Default::default() }),
        ];
        for (t, e, k, c, opts) in cases {
            assert_all_pass(
                &dev,
                &block_on(st::check_moe_backward(
                    &dev,
                    &mut rng,
                    st::MoeSizes { tokens: t, experts: e, top_k: k, dim: c },
                    opts,
                ))
                .expect("runs"),
            );
        }
    }
}
