//! `sigmix`: the lab app (no subcommand) and the command line. The browser build opens the
//! lab from the `sigmix-web` crate instead, so on wasm32 this binary is empty.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    end_quietly_on_a_closed_pipe();
    if let Err(e) = cli::run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// `sigmix sweep --dry-run | head` closes the pipe early. Rust starts programs with SIGPIPE
/// ignored, so the next print would panic; with the default action the process ends quietly,
/// as every other Unix tool does.
#[cfg(unix)]
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: the first thing main does, before any thread exists; SIG_DFL is always a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Elsewhere a closed pipe is an error the print reports, nothing to change.
#[cfg(all(not(unix), not(target_arch = "wasm32")))]
fn end_quietly_on_a_closed_pipe() {}

#[cfg(target_arch = "wasm32")]
fn main() {}
