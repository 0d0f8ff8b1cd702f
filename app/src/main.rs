//! `sigmix`: the lab app (no subcommand) and the command line. The browser build opens the
//! lab from the `sigmix-web` crate instead, so on wasm32 this binary is empty.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    if let Err(e) = cli::run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
