//! `sigmix train`.

/// Options of `sigmix train`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Trains.
pub fn run(_args: Args) -> sigmix::Result<()> {
    Ok(())
}
