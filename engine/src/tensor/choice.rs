//! Which device to run on: `--device auto|gpu|cpu` on the CLI, the same in the app.

use std::str::FromStr;
use std::sync::Arc;

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
        let gpu = match choice {
            DeviceChoice::Cpu => None,
            _ => Some(Gpu::with_choice(AdapterChoice::from_env()).await),
        };
        Device::pick(choice, gpu)
    }

    /// The device `choice` asks for, given the GPU it would use (`None` when `choice` is `Cpu`):
    /// the rule behind `open_async`, for callers that open or share GPUs their own way.
    pub fn pick(choice: DeviceChoice, gpu: Option<Result<Arc<Gpu>>>) -> Result<Device> {
        let cpu = || Ok(Device::Cpu(Cpu::new()));
        match (choice, gpu) {
            (DeviceChoice::Cpu, _) | (_, None) => cpu(),
            (DeviceChoice::Gpu, Some(g)) => Ok(Device::Gpu(g?)),
            // A named adapter is a request: its absence is an error, not a fallback.
            (DeviceChoice::Auto, Some(g)) if AdapterChoice::from_env().name.is_some() => Ok(Device::Gpu(g?)),
            (DeviceChoice::Auto, Some(g)) => match g {
                Ok(g) if !g.is_software() => Ok(Device::Gpu(g)),
                _ => cpu(),
            },
        }
    }

    /// Blocking `open_async` (native only; the browser must await).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open(choice: DeviceChoice) -> Result<Device> {
        pollster::block_on(Device::open_async(choice))
    }
}
