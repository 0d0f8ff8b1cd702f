//! Flash sigmoid and softmax attention, forward and all three gradients, against the
//! materialised f64 reference at awkward sizes, with and without causal mask and ALiBi.

use sigmix::kernels::attention::{AttnKind, AttnOpts};
use sigmix::rng::Rng;
use sigmix::selftest::check_attention;
use sigmix_tests::{assert_all_pass, block_on, devices};

fn sweep(kind: AttnKind, seed: u64) {
    for dev in devices() {
        let mut rng = Rng::new(seed);
        let mut checks = Vec::new();
        for (n, d) in [(1, 16), (7, 32), (65, 64), (300, 128), (33, 16)] {
            for causal in [false, true] {
                for alibi in [false, true] {
                    // Batch and heads vary too, so (b, h) indexing is exercised.
                    let (batch, heads) = if n > 100 { (1, 2) } else { (2, 3) };
                    let opts = AttnOpts { kind, causal, alibi, bias: None, tile: None };
                    checks
                        .extend(block_on(check_attention(&dev, &mut rng, [batch, heads, n, d], &opts)).expect("runs"));
                }
            }
        }
        assert_all_pass(&dev, &checks);
    }
}

#[test]
fn sigmoid_attention_matches_the_reference() {
    sweep(AttnKind::Sigmoid, 21);
}

#[test]
fn softmax_attention_matches_the_reference() {
    sweep(AttnKind::Softmax, 22);
}

#[test]
fn small_and_browser_sized_tiles_give_the_same_results() {
    // 64 vec4s: a 2-row tile at d = 128; 480: the tile chosen under the 16 KiB WebGPU floor.
    let gpu = sigmix_tests::gpu();
    let mut rng = Rng::new(23);
    let mut checks = Vec::new();
    for kind in [AttnKind::Sigmoid, AttnKind::Softmax] {
        for tile in [64, 480] {
            let opts = |causal, alibi| AttnOpts { kind, causal, alibi, bias: None, tile: Some(tile) };
            checks
                .extend(block_on(check_attention(&gpu, &mut rng, [1, 2, 45, 128], &opts(true, false))).expect("runs"));
            checks.extend(block_on(check_attention(&gpu, &mut rng, [2, 1, 70, 16], &opts(false, true))).expect("runs"));
        }
    }
    assert_all_pass(&gpu, &checks);
}

#[test]
fn unsupported_head_dims_are_refused() {
    for dev in devices() {
        let mut rng = Rng::new(1);
        let opts = AttnOpts { kind: AttnKind::Sigmoid, causal: false, alibi: false, bias: None, tile: None };
        let err =
            block_on(check_attention(&dev, &mut rng, [1, 1, 8, 12], &opts)).expect_err("d = 12 must fail").to_string();
        assert!(err.contains("head dimension 12"), "{err}");
    }
}
