//! The GPU recorder: launchers append dispatches to one command encoder, and one training
//! step becomes one submission.
//!
//! Consecutive dispatches share one compute pass (each dispatch is its own usage scope in
//! WebGPU, so later kernels still see earlier writes); a clear or copy ends the pass. Passes
//! are not free: in the browser each is a round of commands through the GPU process.
//!
//! Kernel parameters (shapes, strides, scalars) go into a per-recorder uniform arena: each
//! dispatch takes a slot aligned to `min_uniform_buffer_offset_alignment`, the arena's bytes
//! are written once at submit, and the arena buffer is reused by later recorders, so
//! recording a step allocates no GPU memory.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::{BindKey, Gpu, KernelSpec};

/// Bytes in one uniform arena; when a recording needs more it submits what it has so far.
const ARENA_BYTES: u64 = 256 * 1024;

/// A storage-buffer view bound to one kernel binding.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    pub(crate) buffer: &'a wgpu::Buffer,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// Records dispatches for one submission; dropping it without `submit` discards them.
pub struct GpuRecorder {
    gpu: Arc<Gpu>,
    encoder: wgpu::CommandEncoder,
    /// The open compute pass, if the last command was a dispatch.
    pass: Option<Box<wgpu::ComputePass<'static>>>,
    arena: Option<wgpu::Buffer>,
    params: Vec<u8>,
    align: usize,
    dispatches: usize,
    /// Take bind groups from the device's cache (a trainer's steps).
    reuse_bind_groups: bool,
}

/// Splits `groups` workgroups over x and y so neither exceeds the per-dimension limit;
/// kernels recover the linear index as `wg.x + wg.y * num_workgroups.x`.
pub fn grid_1d(gpu: &Gpu, groups: u32) -> [u32; 3] {
    let max = gpu.limits().max_compute_workgroups_per_dimension.max(1);
    if groups <= max {
        [groups.max(1), 1, 1]
    } else {
        let y = groups.div_ceil(max);
        [groups.div_ceil(y), y, 1]
    }
}

impl GpuRecorder {
    /// Starts an empty recording on `gpu`.
    pub fn new(gpu: &Arc<Gpu>) -> GpuRecorder {
        let encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sigmix step") });
        let arena = gpu.arenas.lock().ok().and_then(|mut a| a.pop());
        GpuRecorder {
            gpu: gpu.clone(),
            encoder,
            pass: None,
            arena,
            params: Vec::new(),
            align: gpu.limits().min_uniform_buffer_offset_alignment.max(16) as usize,
            dispatches: 0,
            reuse_bind_groups: false,
        }
    }

    /// Takes bind groups from the device's cache from now on (see `gpu::bind_groups`).
    pub fn reuse_bind_groups(&mut self) {
        self.reuse_bind_groups = true;
    }

    /// The device this recording targets.
    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    /// Number of dispatches recorded so far (for benchmarks and tests).
    pub fn dispatches(&self) -> usize {
        self.dispatches
    }

    fn arena(&mut self) -> Result<wgpu::Buffer> {
        if let Some(a) = &self.arena {
            return Ok(a.clone());
        }
        let a = self.gpu.create_buffer(
            "uniform arena",
            ARENA_BYTES,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )?;
        self.arena = Some(a.clone());
        Ok(a)
    }

    /// Records one dispatch of `spec` with uniform `params` and storage `buffers`.
    pub fn dispatch<P: bytemuck::Pod>(
        &mut self,
        spec: &KernelSpec,
        overrides: &[(&'static str, f64)],
        params: &P,
        buffers: &[Binding<'_>],
        workgroups: [u32; 3],
    ) -> Result<()> {
        if buffers.len() != spec.storage.len() {
            return Err(Error::Gpu {
                what: format!("{}::{}", spec.shader, spec.entry),
                reason: format!("{} buffers bound, the kernel declares {}", buffers.len(), spec.storage.len()),
            });
        }
        let bytes = bytemuck::bytes_of(params);
        let slot = bytes.len().div_ceil(self.align) * self.align;
        if (self.params.len() + slot) as u64 > ARENA_BYTES {
            self.flush()?;
        }
        let offset = self.params.len() as u64;
        self.params.extend_from_slice(bytes);
        self.params.resize(offset as usize + slot, 0);
        let kernel = self.gpu.kernel(spec, overrides)?;
        let arena = self.arena()?;
        let mut entries = vec![(0, arena, offset, bytes.len() as u64)];
        for ((binding, _), b) in spec.storage.iter().zip(buffers) {
            entries.push((*binding, b.buffer.clone(), b.offset, b.size.max(4)));
        }
        let bind_group = self.gpu.bind_group(
            BindKey { layout: kernel.layout.clone(), entries },
            spec.entry,
            self.reuse_bind_groups,
        )?;
        let encoder = &mut self.encoder;
        let pass = self.pass.get_or_insert_with(|| {
            let desc = wgpu::ComputePassDescriptor { label: Some("sigmix kernels"), timestamp_writes: None };
            Box::new(encoder.begin_compute_pass(&desc).forget_lifetime())
        });
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        self.dispatches += 1;
        Ok(())
    }

    /// Fills `bytes` bytes of a buffer with zeros (gradient buffers before a backward pass).
    pub fn clear(&mut self, b: Binding<'_>) {
        self.pass = None;
        self.encoder.clear_buffer(b.buffer, b.offset, Some(b.size.div_ceil(4) * 4));
    }

    /// Copies one view into another of the same size.
    pub fn copy(&mut self, src: Binding<'_>, dst: Binding<'_>) {
        self.pass = None;
        self.encoder.copy_buffer_to_buffer(
            src.buffer,
            src.offset,
            dst.buffer,
            dst.offset,
            Some(src.size.min(dst.size)),
        );
    }

    fn write_params(&mut self) -> Result<()> {
        if self.params.is_empty() {
            return Ok(());
        }
        let arena = self.arena()?;
        self.gpu.queue.write_buffer(&arena, 0, &self.params);
        self.params.clear();
        Ok(())
    }

    /// Submits what is recorded so far and keeps recording into a fresh encoder.
    fn flush(&mut self) -> Result<()> {
        self.pass = None;
        self.write_params()?;
        let fresh = self.gpu.device.create_command_encoder(&Default::default());
        let full = std::mem::replace(&mut self.encoder, fresh);
        self.gpu.queue.submit([full.finish()]);
        Ok(())
    }

    /// Submits the recording; the work runs asynchronously (reads wait for it).
    pub fn submit(mut self) -> Result<()> {
        self.pass = None;
        self.write_params()?;
        let encoder = std::mem::replace(&mut self.encoder, self.gpu.device.create_command_encoder(&Default::default()));
        let scope = self.gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.gpu.queue.submit([encoder.finish()]);
        crate::gpu::check_scope(scope, "a recorded step")
    }
}

impl Drop for GpuRecorder {
    fn drop(&mut self) {
        if let (Some(a), Ok(mut pool)) = (self.arena.take(), self.gpu.arenas.lock()) {
            pool.push(a);
        }
    }
}
