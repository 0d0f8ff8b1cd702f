//! Which device to run on: `--device auto|gpu|cpu` on the CLI, the same in the app.

use std::str::FromStr;

use crate::cpu::Cpu;
use crate::error::{Error, Result};
use crate::gpu::{AdapterChoice, Gpu};
use crate::tensor::Device;

/// A user's device request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware GPU when there is one, else the CPU backend. A software adapter (lavapipe,
    /// SwiftShader) is taken only when named with SIGMIX_ADAPTER: the CPU backend is faster.
    #[default]
    Auto,
    /// A wgpu adapter, hardware first, software if that is all there is.
    Gpu,
    /// The native CPU backend.
    Cpu,
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<DeviceChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(DeviceChoice::Auto),
            "gpu" | "wgpu" => Ok(DeviceChoice::Gpu),
            "cpu" | "native" => Ok(DeviceChoice::Cpu),
            other => Err(Error::Config(format!("device '{other}' is not one of auto, gpu, cpu"))),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Cpu => "cpu",
        })
    }
}

impl DeviceChoice {
    /// The choice in SIGMIX_DEVICE, or `Auto` when unset.
    pub fn from_env() -> Result<DeviceChoice> {
        match std::env::var("SIGMIX_DEVICE") {
            Ok(v) => v.parse(),
            Err(_) => Ok(DeviceChoice::Auto),
        }
    }
}

impl Device {
    /// Opens the device `choice` asks for (see `DeviceChoice`); adapter filters come from
    /// SIGMIX_ADAPTER / SIGMIX_BACKEND.
    pub async fn open_async(choice: DeviceChoice) -> Result<Device> {
        let adapter = AdapterChoice::from_env();
        match choice {
            DeviceChoice::Cpu => Ok(Device::Cpu(Cpu::new())),
            DeviceChoice::Gpu => Ok(Device::Gpu(Gpu::with_choice(adapter).await?)),
            DeviceChoice::Auto => {
                // A named adapter is a request: its absence is an error, not a fallback.
                if adapter.name.is_some() {
                    return Ok(Device::Gpu(Gpu::with_choice(adapter).await?));
                }
                match Gpu::with_choice(adapter).await {
                    Ok(g) if !g.is_software() => Ok(Device::Gpu(g)),
                    _ => Ok(Device::Cpu(Cpu::new())),
                }
            }
        }
    }

    /// Blocking `open_async` (native only; the browser must await).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open(choice: DeviceChoice) -> Result<Device> {
        pollster::block_on(Device::open_async(choice))
    }
}
