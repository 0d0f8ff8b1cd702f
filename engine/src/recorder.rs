//! The recorder every launcher takes: on a GPU it appends dispatches to one command encoder
//! (one training step = one submission); on the CPU backend each kernel runs as it is
//! recorded. Layers and models only ever see this type, so they run unchanged on both.

use crate::error::{Error, Result};
use crate::gpu::GpuRecorder;
use crate::tensor::{Device, Tensor};

enum Target {
    Gpu(GpuRecorder),
    Cpu { kernels: usize },
}

/// Collects one step's kernels for a device; `submit` finishes it.
pub struct Recorder {
    device: Device,
    target: Target,
}

/// Where a launcher sends its work (crate-internal).
pub(crate) enum Exec<'a> {
    /// Record a WGSL dispatch.
    Gpu(&'a mut GpuRecorder),
    /// Run the CPU twin now.
    Cpu,
}

impl Recorder {
    /// Starts an empty recording for `device`.
    pub fn new(device: &Device) -> Recorder {
        let target = match device {
            Device::Gpu(g) => Target::Gpu(GpuRecorder::new(g)),
            Device::Cpu(_) => Target::Cpu { kernels: 0 },
        };
        Recorder { device: device.clone(), target }
    }

    /// As `new`, for work recorded again and again over the same tensors (a trainer's steps):
    /// on a GPU its bind groups are made once and kept (see `gpu::bind_groups`); the owner
    /// holds a `ReleaseBindGroups` so they go with those tensors.
    pub fn reusing_bind_groups(device: &Device) -> Recorder {
        let mut rec = Recorder::new(device);
        if let Target::Gpu(g) = &mut rec.target {
            g.reuse_bind_groups();
        }
        rec
    }

    /// The device this recording targets.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Kernels recorded (GPU dispatches, or CPU kernel calls) so far: for benchmarks and tests.
    pub fn dispatches(&self) -> usize {
        match &self.target {
            Target::Gpu(g) => g.dispatches(),
            Target::Cpu { kernels, .. } => *kernels,
        }
    }

    /// The backend a launcher should use, after checking every operand lives on this
    /// recording's device.
    pub(crate) fn exec(&mut self, op: &'static str, tensors: &[&Tensor]) -> Result<Exec<'_>> {
        if tensors.iter().any(|t| !t.device().same(&self.device)) {
            return Err(Error::Config(format!(
                "{op}: an operand lives on another device than the recording ({}); create every tensor \
                 of a model on one device",
                self.device.label()
            )));
        }
        Ok(match &mut self.target {
            Target::Gpu(g) => Exec::Gpu(g),
            Target::Cpu { kernels, .. } => {
                *kernels += 1;
                Exec::Cpu
            }
        })
    }

    /// Sets a tensor to zeros (gradient buffers before a backward pass).
    pub fn clear(&mut self, t: &Tensor) -> Result<()> {
        match self.exec("clear", &[t])? {
            Exec::Gpu(g) => {
                g.clear(t.binding()?);
                Ok(())
            }
            Exec::Cpu => crate::cpu::kernel("clear", [], [t], |_, [out]| out.fill(0.0)),
        }
    }

    /// Copies `src` into `dst` (the first `min(len)` elements).
    pub fn copy(&mut self, src: &Tensor, dst: &Tensor) -> Result<()> {
        match self.exec("copy", &[src, dst])? {
            Exec::Gpu(g) => {
                g.copy(src.binding()?, dst.binding()?);
                Ok(())
            }
            Exec::Cpu => crate::cpu::kernel("copy", [src], [dst], |[s], [d]| {
                let n = s.len().min(d.len());
                d[..n].copy_from_slice(&s[..n]);
            }),
        }
    }

    /// Finishes the recording: submits it on a GPU (work runs asynchronously; reads wait for
    /// it); on the CPU the work is already done.
    pub fn submit(self) -> Result<()> {
        match self.target {
            Target::Gpu(g) => g.submit(),
            Target::Cpu { .. } => Ok(()),
        }
    }
}

/// Held by whoever records with `Recorder::reusing_bind_groups` (a trainer, a poly-view run):
/// the kept bind groups hold that run's buffers, so dropping this empties the device's cache,
/// however the run ends.
pub(crate) struct ReleaseBindGroups(Device);

impl ReleaseBindGroups {
    /// A release for `device`'s kept bind groups.
    pub(crate) fn on(device: &Device) -> ReleaseBindGroups {
        ReleaseBindGroups(device.clone())
    }
}

impl Drop for ReleaseBindGroups {
    fn drop(&mut self) {
        if let Device::Gpu(g) = &self.0 {
            g.forget_bind_groups();
        }
    }
}
