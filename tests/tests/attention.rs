//! Flash sigmoid and softmax attention, forward and all three gradients, against the
//! materialised f64 reference at awkward sizes, with and without causal mask and ALiBi.

use sigmix::kernels::attention::AttnKind;
use sigmix::rng::Rng;
use sigmix::selftest::check_attention;
use sigmix_tests::{assert_all_pass, gpu};

fn sweep(kind: AttnKind, seed: u64) {
    let gpu = gpu();
    let mut rng = Rng::new(seed);
    let mut checks = Vec::new();
    for (n, d) in [(1, 16), (7, 32), (65, 64), (300, 128), (33, 16)] {
        for causal in [false, true] {
            for alibi in [false, true] {
                // Batch and heads vary too, so (b, h) indexing is exercised.
                let (batch, heads) = if n > 100 { (1, 2) } else { (2, 3) };
                checks.extend(check_attention(&gpu, &mut rng, kind, batch, heads, n, d, causal, alibi).expect("runs"));
            }
        }
    }
    assert_all_pass(&checks);
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
fn unsupported_head_dims_are_refused() {
    let gpu = gpu();
    let mut rng = Rng::new(1);
    let err = check_attention(&gpu, &mut rng, AttnKind::Sigmoid, 1, 1, 8, 12, false, false)
        .expect_err("d = 12 must fail")
        .to_string();
    assert!(err.contains("head dimension 12"), "{err}");
}
