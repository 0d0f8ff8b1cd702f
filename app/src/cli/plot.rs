//! `sigmix plot`: the picture of a sweep or a fit, as PNG or SVG.

use std::path::PathBuf;

use sigmix_app::figure::Figure;

/// Options of `sigmix plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A sweep's runs (.jsonl) or fits (.json from `sigmix fit --out` / `sigmix sweep --fit-out`).
    input: PathBuf,
    /// Output image: .png or .svg.
    #[arg(short, long, default_value = "sigmix-plot.png")]
    out: PathBuf,
    /// The loss to plot.
    #[arg(long, default_value = "mean_loss")]
    target: String,
    /// Image width and height in pixels.
    #[arg(long, value_delimiter = ',', default_value = "1400,1000")]
    size: Vec<u32>,
}

/// Draws the figure for `args.input` into `args.out`.
pub fn run(args: Args) -> sigmix::Result<()> {
    let size = match args.size.as_slice() {
        [w, h] if *w >= 400 && *h >= 300 => (*w, *h),
        _ => return Err(sigmix::Error::Config("--size takes WIDTH,HEIGHT of at least 400,300".into())),
    };
    Figure::load(&args.input, &args.target)?.write(&args.out, size)?;
    println!("plot written to {}", args.out.display());
    Ok(())
}
