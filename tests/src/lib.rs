//! Shared helpers for the integration tests.

use std::sync::{Arc, OnceLock};

use sigmix::{Cpu, Device, Gpu};

/// Runs a future to completion (the selftest's checks are async so the browser can run them).
pub use pollster::block_on;

/// One wgpu adapter per test process (lavapipe on a machine without a GPU).
pub fn gpu() -> Device {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    Device::Gpu(
        GPU.get_or_init(|| match Gpu::new() {
            Ok(g) => g,
            Err(e) => panic!("the integration tests need an adapter: {e}"),
        })
        .clone(),
    )
}

/// One CPU backend per test process.
pub fn cpu() -> Device {
    static CPU: OnceLock<Arc<Cpu>> = OnceLock::new();
    Device::Cpu(CPU.get_or_init(Cpu::new).clone())
}

/// Both backends: every kernel test runs on each.
pub fn devices() -> [Device; 2] {
    [cpu(), gpu()]
}

/// Asserts every check passed on `device`, listing the ones that did not.
pub fn assert_all_pass(device: &Device, checks: &[sigmix::selftest::Check]) {
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{} [{}]: rel. error {:.2e}", c.kernel, c.shape, c.rel_err))
        .collect();
    assert!(bad.is_empty(), "kernels off the reference on {}:\n{}", device.label(), bad.join("\n"));
}
