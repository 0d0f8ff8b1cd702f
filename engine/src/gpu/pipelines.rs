//! The pipeline cache: (shader, entry point, override constants) → compute pipeline.
//!
//! Every sigmix kernel follows one binding convention so layouts can be derived from a
//! short spec instead of reflection: `@binding(0)` is the file's uniform block of
//! parameters, and the storage buffers an entry point uses are listed in its `KernelSpec`.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// How a kernel uses one storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// `var<storage, read>`
    Read,
    /// `var<storage, read_write>`
    ReadWrite,
}

/// A kernel entry point and its bindings; launchers declare these as constants.
///
/// Within one shader file every storage variable has its own binding number, and each
/// entry point lists the ones it uses; launchers pass buffers in that order.
#[derive(Clone, Copy, Debug)]
pub struct KernelSpec {
    /// Shader file name in `shaders/` (without `.wgsl`), as registered in `gpu::shaders`.
    pub shader: &'static str,
    /// Entry point in that file.
    pub entry: &'static str,
    /// Storage bindings used by this entry point: (binding number, access).
    pub storage: &'static [(u32, Access)],
}

/// Cache key: override values are keyed by their bit patterns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PipelineKey {
    shader: &'static str,
    entry: &'static str,
    overrides: Vec<(&'static str, u64)>,
}

/// A ready pipeline with the layout its bind groups need.
pub(crate) struct Kernel {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
}

impl Gpu {
    /// Returns the cached pipeline for `spec` with `overrides`, building it on first use.
    pub(crate) fn kernel(&self, spec: &KernelSpec, overrides: &[(&'static str, f64)]) -> Result<Arc<Kernel>> {
        let key = PipelineKey {
            shader: spec.shader,
            entry: spec.entry,
            overrides: overrides.iter().map(|(k, v)| (*k, v.to_bits())).collect(),
        };
        if let Some(k) = self.pipelines.lock().map_err(poisoned)?.get(&key) {
            return Ok(k.clone());
        }
        let kernel = Arc::new(self.build_kernel(spec, overrides)?);
        self.pipelines.lock().map_err(poisoned)?.insert(key, kernel.clone());
        Ok(kernel)
    }

    /// Every (shader, entry point) this device has built a pipeline for, sorted: what a run
    /// dispatched, for coverage checks (every entry point exercised by the selftest) and
    /// diagnostics.
    pub fn built_entry_points(&self) -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<_> =
            self.pipelines.lock().map(|p| p.keys().map(|k| (k.shader, k.entry)).collect()).unwrap_or_default();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn module(&self, shader: &'static str) -> Result<wgpu::ShaderModule> {
        if let Some(m) = self.modules.lock().map_err(poisoned)?.get(shader) {
            return Ok(m.clone());
        }
        let source = super::shaders::source(shader).ok_or_else(|| Error::Gpu {
            what: format!("shader `{shader}`"),
            reason: "no such shader is registered in gpu::shaders".into(),
        })?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(shader),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        crate::gpu::check_scope(scope, &format!("shader `{shader}.wgsl`"))?;
        self.modules.lock().map_err(poisoned)?.insert(shader, module.clone());
        Ok(module)
    }

    fn build_kernel(&self, spec: &KernelSpec, overrides: &[(&'static str, f64)]) -> Result<Kernel> {
        let module = self.module(spec.shader)?;
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }];
        for (binding, access) in spec.storage {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: *binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: *access == Access::Read },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let label = format!("{}::{}", spec.shader, spec.entry);
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(&label), entries: &entries });
        let pipeline_layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(spec.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: overrides,
                // Kernels initialise the workgroup memory they read; skipping the zero fill
                // saves a pass over it on every dispatch.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        crate::gpu::check_scope(scope, &format!("kernel `{label}`"))?;
        Ok(Kernel { pipeline, layout })
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> Error {
    Error::Gpu { what: "the pipeline cache".into(), reason: "a thread panicked while holding it".into() }
}
