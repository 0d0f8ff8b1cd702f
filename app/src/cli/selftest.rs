//! `sigmix selftest`: every kernel against the f64 reference, as a table.

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
}

/// Runs the checks; exits non-zero when any fails.
pub fn run(args: Args, device: DeviceChoice) -> sigmix::Result<()> {
    let device = Device::open(device)?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    });
    let checks = sigmix::selftest::run_all(&device, seed)?;
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks).unwrap_or_default());
    } else {
        println!("device: {}, seed {seed}", device.label());
        println!("{:<32} {:<18} {:>10}  result", "kernel", "shape", "rel. error");
        for c in &checks {
            println!(
                "{:<32} {:<18} {:>10.2e}  {}",
                c.kernel,
                c.shape,
                c.rel_err,
                if c.passed() { "ok" } else { "FAIL" }
            );
        }
        println!("{} passed, {} failed", checks.len() - failed, failed);
    }
    if failed > 0 {
        std::process::exit(2);
    }
    Ok(())
}
