//! `sigmix selftest`: every kernel against the f64 reference, as a table; `--cuda` checks the
//! CUDA kernels instead (a binary built with the `cuda` feature, on an NVIDIA card).

use sigmix::selftest::Check;
use sigmix::{Device, DeviceChoice};

/// Options of `sigmix selftest`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed for the random shapes and inputs (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
    /// Check the CUDA attention kernels (f32, bf16, f16) on the first NVIDIA card instead of the
    /// wgpu kernels (needs a binary built with `--features cuda`).
    #[arg(long)]
    cuda: bool,
}

/// Runs the checks; exits non-zero when any fails.
pub fn run(args: Args, device: DeviceChoice) -> sigmix::Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    });
    let (label, checks) = if args.cuda {
        cuda_checks(seed)?
    } else {
        let device = Device::open(device)?;
        (device.label(), sigmix::selftest::run_all(&device, seed)?)
    };
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks).unwrap_or_default());
    } else {
        print_table(&label, seed, &checks);
    }
    if failed > 0 {
        std::process::exit(2);
    }
    Ok(())
}

#[cfg(feature = "cuda")]
fn cuda_checks(seed: u64) -> sigmix::Result<(String, Vec<Check>)> {
    let cuda = sigmix::cuda::Cuda::open(0)?;
    let checks = sigmix::cuda::check::run_all(&cuda, seed)?;
    Ok((cuda.label(), checks))
}

#[cfg(not(feature = "cuda"))]
fn cuda_checks(_seed: u64) -> sigmix::Result<(String, Vec<Check>)> {
    Err(super::no_cuda())
}

fn print_table(label: &str, seed: u64, checks: &[Check]) {
    let failed = checks.iter().filter(|c| !c.passed()).count();
    println!("device: {label}, seed {seed}");
    println!("{:<32} {:<24} {:>10} {:>9}  result", "kernel", "shape", "rel. error", "bar");
    for c in checks {
        println!(
            "{:<32} {:<24} {:>10.2e} {:>9.0e}  {}",
            c.kernel,
            c.shape,
            c.rel_err,
            c.tolerance,
            if c.passed() { "ok" } else { "FAIL" }
        );
    }
    println!("{} passed, {} failed", checks.len() - failed, failed);
}
