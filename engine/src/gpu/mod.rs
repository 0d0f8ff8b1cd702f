//! The GPU core: one adapter, device and queue, their limits and features, the pipeline
//! cache, and the recorder that turns launcher calls into one command buffer.

mod adapter;
mod bind_groups;
mod pipelines;
mod readback;
mod recorder;
pub mod shaders;

pub use adapter::{AdapterChoice, Gpu, GpuInfo, WgpuParts};
pub(crate) use bind_groups::{BindGroups, BindKey};
pub use pipelines::{Access, KernelSpec};
pub(crate) use readback::{read_bytes, read_bytes_async};
pub use recorder::{Binding, GpuRecorder, grid_1d};

use crate::error::Result;

/// Pops a validation error scope and turns a captured error into `Error::Gpu`.
///
/// On the web the scope's future resolves only through the browser's event loop, so there
/// errors surface through the device's uncaptured-error handler instead.
pub(crate) fn check_scope(scope: wgpu::ErrorScopeGuard, what: &str) -> Result<()> {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(crate::error::Error::Gpu { what: what.to_string(), reason: e.to_string() });
    }
    #[cfg(target_arch = "wasm32")]
    drop((scope, what));
    Ok(())
}
