//! The command line (no subcommand opens the lab): `info`, `train`, `selftest`, `bench`, `fit`, `sweep`, `mix`, `plot`.

mod attn_compare;
mod bench;
mod byol;
mod distill_report;
mod fit;
mod forgetting_report;
mod held_out;
mod info;
mod mix;
mod moe_report;
mod plot;
mod polyview;
mod selftest;
mod sweep;
mod train;
mod tta;

use clap::{Parser, Subcommand};
use sigmix::{Device, DeviceChoice};

/// sigmix — train small models on any GPU (or none) and watch scaling laws at work.
#[derive(Parser, Debug)]
#[command(name = "sigmix", version, about, long_about = None)]
struct Cli {
    /// Where to compute: auto (a hardware GPU when there is one, else the native CPU backend),
    /// gpu (any wgpu adapter, software ones included) or cpu.
    #[arg(long, global = true, default_value = "auto", env = "SIGMIX_DEVICE")]
    device: DeviceChoice,
    /// Open the lab in the state of a link (what the lab's "Copy link" copies, e.g.
    /// "tab=mixture&preset=tiny&seed=7"; the browser page takes the same text after `#`).
    #[arg(long)]
    link: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the adapter sigmix would use, its limits and features.
    Info(info::Args),
    /// Train a small GPT on the built-in procedural domains.
    Train(train::Args),
    /// Check every kernel against the f64 reference on random inputs.
    Selftest(selftest::Args),
    /// Time kernels and training (GFLOP/s, tokens/s).
    Bench(bench::Args),
    /// Fit a scaling law to a table of runs (CSV or JSONL); report the error on held-out sizes.
    Fit(fit::Args),
    /// The optimal data mixture under fitted mixture laws, at given N and D.
    Mix(mix::Args),
    /// Draw a sweep or a fit: loss vs N and D with the law extrapolated, predicted vs measured, optimal mixture.
    Plot(plot::Args),
    /// Train a grid of runs (sizes × tokens × mixtures, teachers and students for `--preset distill`, pretrained and finetuned models for `--preset forgetting`, IsoFLOP slices over experts for `--preset moe-sparsity`), then fit the law and predict the largest size.
    Sweep(sweep::Args),
}

/// Parses the command line and runs the chosen command.
pub fn run() -> sigmix::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Info(a)) => info::run(a, cli.device),
        Some(Command::Train(a)) => train::run(a, cli.device),
        Some(Command::Selftest(a)) => selftest::run(a, cli.device),
        Some(Command::Bench(a)) => bench::run(a, cli.device),
        Some(Command::Fit(a)) => fit::run(a),
        Some(Command::Sweep(a)) => sweep::run(a, cli.device),
        Some(Command::Mix(a)) => mix::run(a),
        Some(Command::Plot(a)) => plot::run(a),
        None => sigmix_app::lab::run(cli.device, cli.link),
    }
}

/// The error of a CUDA request to a binary built without the `cuda` feature.
#[cfg(not(feature = "cuda"))]
pub fn no_cuda() -> sigmix::Error {
    sigmix::Error::Config(
        "this sigmix was built without CUDA: build it with `cargo build --release -p sigmix-app --features cuda` \
         (docs/gpu-benchmarks.md)"
            .into(),
    )
}

/// Opens the device `choice` names and says which one is in use.
pub fn open_device(choice: DeviceChoice) -> sigmix::Result<Device> {
    let device = Device::open(choice)?;
    println!("device: {}", device.label());
    Ok(device)
}

/// Prints a line above a progress bar; when the bar is hidden (output is not a terminal, as
/// in logs and CI) indicatif drops such lines, so print them plainly instead.
pub fn say(bar: &indicatif::ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        println!("{}", line.as_ref());
    } else {
        bar.println(line.as_ref());
    }
}
