//! Shared helpers for the integration tests.

pub mod inputs;

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

/// The property tests' configuration: `default_cases` cases from a fixed seed, so `cargo test`
/// is repeatable; `SIGMIX_FUZZ_CASES=N` and `SIGMIX_FUZZ_SEED=S` run N cases from seed S
/// instead (docs/reliability.md records such runs). Failing inputs are shrunk and printed, not
/// persisted.
pub fn proptest_config(default_cases: u32) -> proptest::test_runner::Config {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    proptest::test_runner::Config {
        cases: var("SIGMIX_FUZZ_CASES").map_or(default_cases, |n| n as u32),
        rng_seed: proptest::test_runner::RngSeed::Fixed(var("SIGMIX_FUZZ_SEED").unwrap_or(0x0051_676d_6978)),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// A fresh path `name` in a folder of this test process's own (`prefix-<pid>`), whatever an
/// earlier run left there removed.
pub fn temp_path(prefix: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Runs the sweep preset `preset` on the CPU backend into `path` (resuming when asked) and
/// counts the runs trained again because another run needed their weights.
pub fn sweep_counting_retrained(
    preset: &str,
    path: &std::path::Path,
    resume: bool,
) -> (sigmix::sweep::SweepOutcome, usize) {
    let plan = sigmix::sweep::SweepPlan::preset(preset).expect("preset");
    let mut retrained = 0;
    let opts = sigmix::sweep::SweepOptions { resume, ..Default::default() };
    let out = sigmix::sweep::run_sweep(&cpu(), &plan, path, opts, &mut |e| {
        if let sigmix::sweep::SweepEvent::RetrainingSource { .. } = e {
            retrained += 1;
        }
    })
    .expect("the sweep runs");
    (out, retrained)
}

/// Cuts the sweep file `path` as a run killed while writing line `whole + 1` leaves it: the
/// first `whole` lines of `text` (the file before), then the first 20 bytes of the next.
pub fn tear(path: &std::path::Path, text: &str, whole: usize) {
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(path, format!("{}\n{}", lines[..whole].join("\n"), &lines[whole][..20])).expect("write");
}

/// A resumed sweep's rows against an uninterrupted run of it: the first `kept` rows exactly as
/// they were, every later one the same run again (mean loss within 0.1%).
pub fn assert_resumed(rows: &[sigmix::sweep::SweepRow], full: &[sigmix::sweep::SweepRow], kept: usize) {
    assert_eq!(rows.len(), full.len(), "every run once");
    for (row, before) in rows.iter().zip(full).take(kept) {
        assert_eq!(row, before, "finished runs are kept as they were");
    }
    for (redone, before) in rows.iter().zip(full).skip(kept) {
        let (a, b) = (redone.columns["mean_loss"], before.columns["mean_loss"]);
        assert!((a - b).abs() < 1e-3 * b, "{}: the same run gives the same loss ({a} vs {b})", redone.id);
    }
}
