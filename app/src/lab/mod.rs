//! The lab app's window: one tab per panel (`app.rs`: tabs, drops, links, the lost-device
//! banner) and the links that reopen it in a state (`link.rs`). The panels are `crate::ui`'s;
//! the work they start runs as `crate::jobs`.

mod app;
pub mod link;

pub use app::{Lab, Tab};

#[cfg(not(target_arch = "wasm32"))]
use sigmix::DeviceChoice;

/// Opens the lab window, in the state `link` describes when given (`link::encode`); on a
/// machine with no display says so in one line and points at the CLI.
#[cfg(not(target_arch = "wasm32"))]
pub fn run(device: DeviceChoice, link: Option<String>) -> sigmix::Result<()> {
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
    if let Some(parts) = crate::jobs::shared_gpu(device) {
        options.wgpu_options.wgpu_setup = eframe::egui_wgpu::WgpuSetupExisting {
            instance: parts.instance,
            adapter: parts.adapter,
            device: parts.device,
            queue: parts.queue,
        }
        .into();
    }
    eframe::run_native(
        "sigmix lab",
        options,
        Box::new(move |_cc| Ok(Box::new(Lab::with_link(device, link.as_deref().unwrap_or(""))))),
    )
    .map_err(|e| {
        sigmix::Error::Config(format!(
            "the lab window could not open ({e}); the command line still works: `sigmix --help`"
        ))
    })
}
