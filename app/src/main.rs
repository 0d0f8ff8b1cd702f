//! `sigmix`: the lab app (no subcommand) and the command line.

mod cli;

fn main() {
    if let Err(e) = cli::run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
