//! Shared helpers for the integration tests.

use std::sync::{Arc, OnceLock};

use sigmix::Gpu;

/// One adapter per test process (lavapipe on a machine without a GPU).
pub fn gpu() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new() {
        Ok(g) => g,
        Err(e) => panic!("the integration tests need an adapter: {e}"),
    })
    .clone()
}

/// Asserts every check passed, listing the ones that did not.
pub fn assert_all_pass(checks: &[sigmix::selftest::Check]) {
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{} [{}]: rel. error {:.2e}", c.kernel, c.shape, c.rel_err))
        .collect();
    assert!(bad.is_empty(), "kernels off the reference:\n{}", bad.join("\n"));
}
