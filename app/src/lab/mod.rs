//! The lab app: a window with one tab per panel; training and sweeps run on worker threads so
//! the window never waits for the engine.

mod app;
mod contrastive_job;
mod sweep_job;
mod train_job;

pub use app::{Lab, Tab};
pub use contrastive_job::{ContrastiveJob, ContrastiveMessage};
pub use sweep_job::{SweepJob, SweepMessage};
pub use train_job::{Command, Message, TrainJob};

use std::path::PathBuf;

use sigmix::DeviceChoice;

/// Opens the lab window; on a machine with no display says so in one line and points at the CLI.
pub fn run(device: DeviceChoice) -> sigmix::Result<()> {
    #[cfg(all(unix, not(target_os = "macos")))]
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        println!(
            "sigmix: no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the lab cannot open; the command line does everything it does: `sigmix --help`"
        );
        return Ok(());
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 820.0]).with_title("sigmix lab"),
        ..Default::default()
    };
    eframe::run_native("sigmix lab", options, Box::new(move |_cc| Ok(Box::new(Lab::new(device))))).map_err(|e| {
        sigmix::Error::Config(format!(
            "the lab window could not open ({e}); the command line still works: `sigmix --help`"
        ))
    })
}

/// Where the lab writes exports and sweeps unless told otherwise.
pub const LAB_DIR: &str = "sigmix-lab";

/// A fresh file name in `dir` for an export, e.g. `sigmix-lab/curves-1732790000.csv`.
pub fn export_path(dir: &std::path::Path, what: &str, ext: &str) -> sigmix::Result<PathBuf> {
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|source| sigmix::Error::Io { path: dir.clone(), source })?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(dir.join(format!("{what}-{stamp}.{ext}")))
}
