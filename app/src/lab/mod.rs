//! The lab app: a window with one tab per panel; training and sweeps run on worker threads so
//! the window never waits for the engine.

mod app;
mod contrastive_job;
mod sweep_job;
mod train_job;

pub use app::{Lab, Tab};
pub use contrastive_job::{ContrastiveJob, ContrastiveMessage};
pub use sweep_job::{SweepJob, SweepMessage};
pub use train_job::{Command, Message, TrainJob, TrainedAttention};

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use sigmix::{Device, DeviceChoice, Gpu};

/// Opens the lab window; on a machine with no display says so in one line and points at the CLI.
pub fn run(device: DeviceChoice) -> sigmix::Result<()> {
    #[cfg(all(unix, not(target_os = "macos")))]
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        println!(
            "sigmix: no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the lab cannot open; the command line does everything it does: `sigmix --help`"
        );
        return Ok(());
    }
    let mut options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 820.0]).with_title("sigmix lab"),
        ..Default::default()
    };
    // Where the engine's GPU can present, the window draws with the same device: one device,
    // one memory pool, and engine buffers a panel could show without a copy.
    if let Some(parts) = shared_gpu(device) {
        options.wgpu_options.wgpu_setup = eframe::egui_wgpu::WgpuSetupExisting {
            instance: parts.instance,
            adapter: parts.adapter,
            device: parts.device,
            queue: parts.queue,
        }
        .into();
    }
    eframe::run_native("sigmix lab", options, Box::new(move |_cc| Ok(Box::new(Lab::new(device))))).map_err(|e| {
        sigmix::Error::Config(format!(
            "the lab window could not open ({e}); the command line still works: `sigmix --help`"
        ))
    })
}

/// The process's one GPU device, opened on first use (or why it could not be).
fn gpu() -> sigmix::Result<Arc<Gpu>> {
    static GPU: OnceLock<Result<Arc<Gpu>, String>> = OnceLock::new();
    GPU.get_or_init(|| Gpu::new().map_err(|e| e.to_string())).clone().map_err(sigmix::Error::Config)
}

/// The device for `choice`, as `Device::open` would pick it, except that every job of the lab
/// (and the window, where it can present) shares one GPU device and its compiled pipelines.
pub fn device(choice: DeviceChoice) -> sigmix::Result<Device> {
    Device::pick(choice, (choice != DeviceChoice::Cpu).then(gpu))
}

/// The engine's GPU for the window's renderer, when `choice` uses one that can present.
fn shared_gpu(choice: DeviceChoice) -> Option<sigmix::gpu::WgpuParts> {
    match device(choice) {
        Ok(Device::Gpu(g)) if g.can_present() => Some(g.wgpu_parts()),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_shares_one_gpu_device_and_a_software_one_is_not_given_to_the_window() {
        let (Ok(Device::Gpu(a)), Ok(Device::Gpu(b))) = (device(DeviceChoice::Gpu), device(DeviceChoice::Gpu)) else {
            panic!("the tests need an adapter");
        };
        assert!(Arc::ptr_eq(&a, &b), "one device per process");
        assert!(matches!(device(DeviceChoice::Cpu), Ok(Device::Cpu(_))));
        if a.is_software() {
            assert!(!a.can_present());
            assert!(shared_gpu(DeviceChoice::Gpu).is_none());
        }
    }
}
