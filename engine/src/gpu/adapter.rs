//! Adapter selection and the `Gpu` handle every tensor and launcher shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::pipelines::{Kernel, PipelineKey};

/// How to choose an adapter; `Default` reads `SIGMIX_ADAPTER` and `SIGMIX_BACKEND`.
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    /// Case-insensitive substring of the adapter name that must match.
    pub name: Option<String>,
    /// Restrict to one backend: `vulkan`, `metal`, `dx12` or `gl`.
    pub backend: Option<String>,
}

impl AdapterChoice {
    /// The choice given by the environment (`SIGMIX_ADAPTER`, `SIGMIX_BACKEND`).
    pub fn from_env() -> Self {
        let read = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self { name: read("SIGMIX_ADAPTER"), backend: read("SIGMIX_BACKEND") }
    }

    fn backends(&self) -> Result<wgpu::Backends> {
        let Some(b) = &self.backend else {
            // In the browser only WebGPU has compute shaders (WebGL has none).
            if cfg!(target_arch = "wasm32") {
                return Ok(wgpu::Backends::BROWSER_WEBGPU);
            }
            return Ok(wgpu::Backends::all());
        };
        match b.to_ascii_lowercase().as_str() {
            "vulkan" | "vk" => Ok(wgpu::Backends::VULKAN),
            "metal" => Ok(wgpu::Backends::METAL),
            "dx12" | "d3d12" => Ok(wgpu::Backends::DX12),
            "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
            "webgpu" | "browser" => Ok(wgpu::Backends::BROWSER_WEBGPU),
            other => {
                Err(Error::Config(format!("SIGMIX_BACKEND={other} is not a backend; use vulkan, metal, dx12 or gl")))
            }
        }
    }
}

/// A plain description of the adapter in use, for printing and for run records.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GpuInfo {
    /// Adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Backend, e.g. "Vulkan".
    pub backend: String,
    /// Device type, e.g. "Cpu" for software rasterisers.
    pub device_type: String,
    /// Driver name and version where the backend reports them.
    pub driver: String,
}

/// The engine's handle on one GPU: device, queue, limits, features and caches.
///
/// Cheap to share (`Arc<Gpu>`); every tensor keeps one so launchers can check that all
/// operands live on the same device.
pub struct Gpu {
    instance: wgpu::Instance,
    adapter: wgpu::Adapter,
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    features: wgpu::Features,
    pub(crate) pipelines: Mutex<HashMap<PipelineKey, Arc<Kernel>>>,
    pub(crate) modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pub(crate) arenas: Mutex<Vec<wgpu::Buffer>>,
    pub(crate) staging: Mutex<Vec<wgpu::Buffer>>,
    pub(crate) bind_groups: crate::gpu::BindGroups,
    buffers_created: AtomicU64,
    bytes_created: AtomicU64,
    lost: Arc<Mutex<Option<String>>>,
}

/// The wgpu objects of a `Gpu`, cloned (wgpu handles are reference-counted).
#[derive(Clone, Debug)]
pub struct WgpuParts {
    /// The instance the adapter came from.
    pub instance: wgpu::Instance,
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("adapter", &self.info.name).finish()
    }
}

fn type_rank(t: wgpu::DeviceType) -> u8 {
    // Hardware first; software rasterisers only when nothing else exists.
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn backend_rank(b: wgpu::Backend) -> u8 {
    // The GL backend has no compute on the web and fewer features natively: last resort.
    match b {
        wgpu::Backend::Gl => 1,
        _ => 0,
    }
}

impl Gpu {
    /// Opens the adapter chosen by the environment, blocking until the device is ready.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Arc<Gpu>> {
        pollster::block_on(Self::with_choice(AdapterChoice::from_env()))
    }

    /// Opens an adapter: hardware GPUs first, then software ones; `choice` narrows the set.
    pub async fn with_choice(choice: AdapterChoice) -> Result<Arc<Gpu>> {
        let backends = choice.backends()?;
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let mut adapters = instance.enumerate_adapters(backends).await;
        if adapters.is_empty() {
            // The browser backend cannot enumerate; ask for its one adapter instead.
            let req = wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            };
            if let Ok(a) = instance.request_adapter(&req).await {
                adapters.push(a);
            }
        }
        let names: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?})", i.name, i.backend)
            })
            .collect();
        if let Some(want) = &choice.name {
            let want = want.to_lowercase();
            adapters.retain(|a| a.get_info().name.to_lowercase().contains(&want));
            if adapters.is_empty() {
                return Err(Error::NoAdapter { detail: format!(": SIGMIX_ADAPTER={want} matched none of {names:?}") });
            }
        }
        adapters.sort_by_key(|a| {
            let i = a.get_info();
            (type_rank(i.device_type), backend_rank(i.backend))
        });
        let Some(adapter) = adapters.into_iter().next() else {
            let detail = match &choice.backend {
                Some(b) => format!(" for SIGMIX_BACKEND={b}"),
                None => String::new(),
            };
            return Err(Error::NoAdapter { detail });
        };
        Self::open(instance, adapter).await
    }

    async fn open(instance: wgpu::Instance, adapter: wgpu::Adapter) -> Result<Arc<Gpu>> {
        let info = adapter.get_info();
        // Ask for everything the adapter offers: bigger buffers and workgroups than the
        // WebGPU defaults matter for training, and kernels read the limits they got.
        let limits = adapter.limits();
        let wanted = wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY;
        let features = adapter.features() & wanted;
        let desc = wgpu::DeviceDescriptor {
            label: Some("sigmix"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| Error::DeviceRequest { adapter: info.name.clone(), reason: e.to_string() })?;
        // A driver reset, a browser reclaiming the GPU, or a destroyed device: remembered, so
        // the app can say what happened and open a new device instead of failing run after run.
        let lost = Arc::new(Mutex::new(None));
        let note = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut l) = note.lock() {
                *l = Some(format!("{reason:?}: {message}").trim_end_matches(": ").to_string());
            }
        });
        Ok(Arc::new(Gpu {
            instance,
            adapter,
            device,
            queue,
            info,
            limits,
            features,
            pipelines: Mutex::default(),
            modules: Mutex::default(),
            arenas: Mutex::default(),
            staging: Mutex::default(),
            bind_groups: crate::gpu::BindGroups::default(),
            buffers_created: AtomicU64::new(0),
            bytes_created: AtomicU64::new(0),
            lost,
        }))
    }

    /// The wgpu objects behind this device, for a renderer that draws with the same device
    /// (the lab window), so the UI and the engine share one device and its memory.
    pub fn wgpu_parts(&self) -> WgpuParts {
        WgpuParts {
            instance: self.instance.clone(),
            adapter: self.adapter.clone(),
            device: self.device.clone(),
            queue: self.queue.clone(),
        }
    }

    /// Whether a window can present with this device as it was created: a hardware adapter on
    /// Vulkan, Metal or DX12 (GL needs the display at instance creation, which the engine,
    /// created before any window, does not have).
    pub fn can_present(&self) -> bool {
        !self.is_software()
            && matches!(self.info.backend, wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12)
    }

    /// Name, backend and type of the adapter in use.
    pub fn info(&self) -> GpuInfo {
        GpuInfo {
            name: self.info.name.clone(),
            backend: format!("{:?}", self.info.backend),
            device_type: format!("{:?}", self.info.device_type),
            driver: format!("{} {}", self.info.driver, self.info.driver_info).trim().to_string(),
        }
    }

    /// True for software rasterisers (lavapipe, SwiftShader, WARP): correct but slow.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The device limits kernels must respect.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The optional features the device was opened with.
    pub fn features(&self) -> wgpu::Features {
        self.features
    }

    /// Largest buffer a single tensor may occupy (the smaller of buffer and binding limits).
    pub fn max_tensor_bytes(&self) -> u64 {
        self.limits.max_buffer_size.min(self.limits.max_storage_buffer_binding_size)
    }

    /// Creates a storage buffer, refusing sizes over the adapter's limits with a clear error.
    pub(crate) fn create_buffer(&self, what: &str, bytes: u64, usage: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        let limit = self.max_tensor_bytes();
        if bytes > limit {
            return Err(Error::TooLarge { what: what.to_string(), bytes, limit, adapter: self.info.name.clone() });
        }
        self.note_buffer(bytes);
        // Sizes are rounded to 16 bytes so copies and clears (4-byte multiples) always fit.
        let size = bytes.max(16).div_ceil(16) * 16;
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size,
            usage,
            mapped_at_creation: false,
        }))
    }

    /// Counts a buffer created outside `create_buffer` (staging for read-backs).
    pub(crate) fn note_buffer(&self, bytes: u64) {
        self.buffers_created.fetch_add(1, Ordering::Relaxed);
        self.bytes_created.fetch_add(bytes, Ordering::Relaxed);
    }

    /// How many buffers this device has created so far: a training step must not add any.
    pub fn buffers_created(&self) -> u64 {
        self.buffers_created.load(Ordering::Relaxed)
    }

    /// Total bytes of all buffers created so far (the device memory sigmix asked for).
    pub fn bytes_created(&self) -> u64 {
        self.bytes_created.load(Ordering::Relaxed)
    }

    /// Why the device was lost, once it has been: every later use fails, and only a new
    /// device (a new `Gpu`) works again.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    /// Releases the device now; later work on it fails and `lost` says so. For tests of how
    /// the app survives a lost device, and for freeing the GPU before the last handle drops.
    pub fn destroy(&self) {
        self.device.destroy();
    }

    /// Waits until all submitted work has finished.
    pub fn wait(&self) -> Result<()> {
        crate::gpu::readback::wait_idle(self)
    }
}
