//! The lab's jobs: training, sweeps and the vision methods run as tasks (worker threads
//! natively, futures on the page's event loop in the browser) and report over channels, so the
//! window never waits for the engine. Also what every job shares: the one GPU device, the
//! lab's folder, what the lab saves and is given (`files`) and the named buttons the tests
//! press (`targets`). Nothing here draws; the panels in `crate::ui` do.

mod byol_job;
mod contrastive_job;
pub mod files;
mod sweep_job;
pub mod targets;
mod task;
mod train_job;
mod tta_job;

pub use byol_job::{ByolJob, ByolMessage};
pub use contrastive_job::{ContrastiveJob, ContrastiveMessage};
pub use sweep_job::{Followed, LawReport, LawSweep, SweepJob, SweepMessage, SweepStore, follow};
pub use task::Task;
pub use train_job::{Command, Message, TrainJob, TrainedAttention};
pub use tta_job::{TtaJob, TtaMessage};

use std::sync::{Arc, Mutex};

use sigmix::gpu::AdapterChoice;
use sigmix::{Device, DeviceChoice, Gpu};

/// The process's one GPU device once opened (or why it could not be); emptied when the device
/// is lost, so the next run opens a fresh one.
static GPU: Mutex<Option<Result<Arc<Gpu>, String>>> = Mutex::new(None);

/// The cached GPU, unless none was opened yet or it has been lost.
fn cached_gpu() -> Option<sigmix::Result<Arc<Gpu>>> {
    let mut slot = GPU.lock().ok()?;
    if matches!(&*slot, Some(Ok(g)) if g.lost().is_some()) {
        *slot = None;
    }
    slot.clone().map(|r| r.map_err(sigmix::Error::Config))
}

fn keep_gpu(opened: sigmix::Result<Arc<Gpu>>) -> sigmix::Result<Arc<Gpu>> {
    let mut slot = GPU.lock().map_err(|_| sigmix::Error::Config("the lab's device lock was poisoned".into()))?;
    // Two jobs may open at once natively: the first one kept wins, so all share it.
    let kept = slot.get_or_insert(opened.map_err(|e| e.to_string())).clone();
    kept.map_err(sigmix::Error::Config)
}

/// The device for `choice`, as `Device::open` would pick it, except that every job of the lab
/// (and the window, where it can present) shares one GPU device and its compiled pipelines.
#[cfg(not(target_arch = "wasm32"))]
pub fn device(choice: DeviceChoice) -> sigmix::Result<Device> {
    pollster::block_on(device_async(choice))
}

/// `device` as a future: the browser opens its adapter asynchronously.
pub async fn device_async(choice: DeviceChoice) -> sigmix::Result<Device> {
    let gpu = match choice {
        DeviceChoice::Cpu => None,
        _ => Some(match cached_gpu() {
            Some(g) => g,
            None => keep_gpu(Gpu::with_choice(AdapterChoice::from_env()).await),
        }),
    };
    Device::pick(choice, gpu)
}

/// Why the lab's GPU device was lost, if it was: the panels show it with a way to go on.
pub fn gpu_lost() -> Option<String> {
    match GPU.lock().ok()?.as_ref()? {
        Ok(g) => g.lost(),
        Err(_) => None,
    }
}

/// Forgets the lab's GPU device so the next run opens a new one (after it was lost).
pub fn reset_gpu() {
    if let Ok(mut slot) = GPU.lock() {
        *slot = None;
    }
}

/// The engine's GPU for the window's renderer, when `choice` uses one that can present.
#[cfg(not(target_arch = "wasm32"))]
pub fn shared_gpu(choice: DeviceChoice) -> Option<sigmix::gpu::WgpuParts> {
    match device(choice) {
        Ok(Device::Gpu(g)) if g.can_present() => Some(g.wgpu_parts()),
        _ => None,
    }
}

/// Where the lab writes exports and sweeps unless told otherwise.
pub const LAB_DIR: &str = "sigmix-lab";

/// A fresh file name in `dir` for an export, e.g. `sigmix-lab/curves-1732790000.csv`.
#[cfg(not(target_arch = "wasm32"))]
pub fn export_path(dir: &std::path::Path, what: &str, ext: &str) -> sigmix::Result<std::path::PathBuf> {
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|source| sigmix::Error::Io { path: dir.clone(), source })?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(dir.join(format!("{what}-{stamp}.{ext}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_shares_one_gpu_device_until_it_is_lost_and_a_software_one_is_not_given_to_the_window() {
        let (Ok(Device::Gpu(a)), Ok(Device::Gpu(b))) = (device(DeviceChoice::Gpu), device(DeviceChoice::Gpu)) else {
            panic!("the tests need an adapter");
        };
        assert!(Arc::ptr_eq(&a, &b), "one device per process");
        assert!(matches!(device(DeviceChoice::Cpu), Ok(Device::Cpu(_))));
        if a.is_software() {
            assert!(!a.can_present());
            assert!(shared_gpu(DeviceChoice::Gpu).is_none());
        }
        // A lost device is reported once and replaced by a fresh one on the next run.
        assert_eq!(gpu_lost(), None);
        a.destroy();
        let _ = a.wait();
        assert!(gpu_lost().is_some_and(|why| why.contains("Destroyed")), "{:?}", gpu_lost());
        let Ok(Device::Gpu(c)) = device(DeviceChoice::Gpu) else { panic!("a new device opens") };
        assert!(!Arc::ptr_eq(&a, &c), "the lost device is not reused");
        assert_eq!(gpu_lost(), None);
    }
}
