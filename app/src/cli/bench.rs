//! `sigmix bench`: kernel and training throughput.

/// Options of `sigmix bench`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the benchmarks.
pub fn run(_args: Args) -> sigmix::Result<()> {
    Ok(())
}
