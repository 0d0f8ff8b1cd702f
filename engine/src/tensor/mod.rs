//! Tensors: a typed, shaped view into a device buffer.
//!
//! A tensor knows where it lives (`Device`), so launchers can pick the kernel for that
//! device and layers never touch wgpu. Views share buffers: the parameters, gradients and
//! optimiser moments of a model each live in one slab (`Slab`), so a whole-model operation
//! such as AdamW or the gradient norm is one dispatch.

mod choice;
mod slab;

use std::sync::Arc;

pub use choice::DeviceChoice;
pub use slab::{Slab, SlabLayout};

use crate::cpu::{Cpu, CpuBuffer};
use crate::error::{Error, Result};
use crate::gpu::{Binding, Gpu, GpuInfo};

/// Where a tensor's data lives; launchers pick the kernel by it.
#[derive(Clone, Debug)]
pub enum Device {
    /// A wgpu device (a hardware GPU, or a software adapter such as lavapipe).
    Gpu(Arc<Gpu>),
    /// The native CPU backend.
    Cpu(Arc<Cpu>),
}

impl Device {
    /// The GPU behind this device, if it is one.
    pub fn gpu(&self) -> Option<&Arc<Gpu>> {
        match self {
            Device::Gpu(g) => Some(g),
            Device::Cpu(_) => None,
        }
    }

    /// Whether two devices are the same one.
    pub fn same(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Gpu(a), Device::Gpu(b)) => Arc::ptr_eq(a, b),
            (Device::Cpu(a), Device::Cpu(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// True for the native CPU backend.
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu(_))
    }

    /// What this device is (adapter name, backend, type, driver), for records and the UI.
    pub fn info(&self) -> GpuInfo {
        match self {
            Device::Gpu(g) => g.info(),
            Device::Cpu(c) => c.info(),
        }
    }

    /// A one-line label such as "llvmpipe (Vulkan)" or "CPU (8 threads)".
    pub fn label(&self) -> String {
        let i = self.info();
        match self {
            // Browsers keep the adapter's name to themselves.
            Device::Gpu(_) if i.name.is_empty() => format!("the browser's GPU ({})", i.backend),
            Device::Gpu(_) => format!("{} ({})", i.name, i.backend),
            Device::Cpu(_) => i.name,
        }
    }

    /// Largest buffer a single tensor may occupy on this device.
    pub fn max_tensor_bytes(&self) -> u64 {
        match self {
            Device::Gpu(g) => g.max_tensor_bytes(),
            Device::Cpu(c) => c.max_tensor_bytes(),
        }
    }

    /// Buffers allocated so far: a training step must not add any.
    pub fn buffers_created(&self) -> u64 {
        match self {
            Device::Gpu(g) => g.buffers_created(),
            Device::Cpu(c) => c.buffers_created(),
        }
    }

    /// Bytes of all buffers allocated so far.
    pub fn bytes_created(&self) -> u64 {
        match self {
            Device::Gpu(g) => g.bytes_created(),
            Device::Cpu(c) => c.bytes_created(),
        }
    }

    /// The most memory kernels held beyond their tensors at once since the last
    /// `reset_scratch_peak`: the CPU backend's working buffers, as counted by the kernels
    /// that report a footprint (the contrastive loss); 0 on a GPU, whose kernels work only in
    /// tensors (counted by `bytes_created`) and workgroup memory.
    pub fn scratch_peak_bytes(&self) -> u64 {
        match self {
            Device::Gpu(_) => 0,
            Device::Cpu(c) => c.scratch_peak_bytes(),
        }
    }

    /// Starts a new scratch peak (see `scratch_peak_bytes`).
    pub fn reset_scratch_peak(&self) {
        if let Device::Cpu(c) = self {
            c.reset_scratch_peak();
        }
    }

    /// Waits until all submitted work has finished (CPU work finishes as it is recorded).
    pub fn wait(&self) -> Result<()> {
        match self {
            Device::Gpu(g) => g.wait(),
            Device::Cpu(_) => Ok(()),
        }
    }

    /// Element alignment of tensors inside a slab: the GPU's storage-offset alignment, a
    /// cache line on the CPU.
    pub fn slab_align(&self) -> usize {
        match self {
            Device::Gpu(g) => (g.limits().min_storage_buffer_offset_alignment as usize / 4).max(1),
            Device::Cpu(_) => 16,
        }
    }
}

impl From<Arc<Gpu>> for Device {
    fn from(g: Arc<Gpu>) -> Device {
        Device::Gpu(g)
    }
}

impl From<Arc<Cpu>> for Device {
    fn from(c: Arc<Cpu>) -> Device {
        Device::Cpu(c)
    }
}

#[derive(Clone, Debug)]
enum Storage {
    Gpu(Arc<wgpu::Buffer>),
    Cpu(Arc<CpuBuffer>),
}

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float: every activation, parameter and gradient.
    F32,
    /// 32-bit unsigned: token ids and targets.
    U32,
}

/// A shaped view of `len` elements starting `offset` bytes into a device buffer.
#[derive(Clone, Debug)]
pub struct Tensor {
    device: Device,
    storage: Storage,
    /// Offset of the first element, in elements.
    offset: usize,
    shape: Vec<usize>,
    dtype: DType,
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    /// Allocates a tensor (zero-filled on the CPU, unspecified on a GPU until written).
    pub fn empty(device: &Device, what: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let len = numel(shape);
        let storage = match device {
            Device::Gpu(gpu) => {
                let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
                Storage::Gpu(Arc::new(gpu.create_buffer(what, (len * 4) as u64, usage)?))
            }
            Device::Cpu(cpu) => Storage::Cpu(cpu.alloc(what, len)?),
        };
        Ok(Tensor { device: device.clone(), storage, offset: 0, shape: shape.to_vec(), dtype })
    }

    /// Allocates an f32 tensor and uploads `data` (length must match the shape).
    pub fn from_f32(device: &Device, what: &str, shape: &[usize], data: &[f32]) -> Result<Tensor> {
        let t = Tensor::empty(device, what, shape, DType::F32)?;
        t.write_f32(data)?;
        Ok(t)
    }

    /// Allocates a u32 tensor and uploads `data`.
    pub fn from_u32(device: &Device, what: &str, shape: &[usize], data: &[u32]) -> Result<Tensor> {
        let t = Tensor::empty(device, what, shape, DType::U32)?;
        t.write_u32(data)?;
        Ok(t)
    }

    /// A view of `shape` starting `offset_elems` elements into `self`'s buffer (used by `Slab`).
    pub(crate) fn view_at(&self, offset_elems: usize, shape: &[usize], dtype: DType) -> Tensor {
        Tensor { offset: self.offset + offset_elems, shape: shape.to_vec(), dtype, ..self.clone() }
    }

    /// The same data under another shape with the same number of elements.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.len() {
            return Err(Error::shape("reshape", "tensor", shape, &self.shape));
        }
        Ok(Tensor { shape: shape.to_vec(), ..self.clone() })
    }

    /// The device this tensor lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Shape, outermost dimension first (row-major).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The bytes this view covers, for binding to a WGSL kernel.
    pub fn binding(&self) -> Result<Binding<'_>> {
        match &self.storage {
            Storage::Gpu(buffer) => {
                Ok(Binding { buffer, offset: (self.offset * 4) as u64, size: (self.len() * 4) as u64 })
            }
            Storage::Cpu(_) => Err(Error::Config("a CPU tensor cannot be bound to a WGSL kernel".to_string())),
        }
    }

    /// The CPU device, buffer and element offset of a CPU tensor.
    pub(crate) fn cpu_parts(&self) -> Option<(&Arc<Cpu>, &Arc<CpuBuffer>, usize)> {
        match (&self.device, &self.storage) {
            (Device::Cpu(c), Storage::Cpu(b)) => Some((c, b, self.offset)),
            _ => None,
        }
    }

    fn check_len(&self, op: &'static str, n: usize) -> Result<()> {
        if n != self.len() {
            return Err(Error::shape(op, format!("data of {n} elements"), &self.shape, &[n]));
        }
        Ok(())
    }

    fn write_words(&self, words: &[f32]) -> Result<()> {
        match &self.storage {
            Storage::Gpu(buffer) => {
                if let (Some(gpu), false) = (self.device.gpu(), words.is_empty()) {
                    gpu.queue.write_buffer(buffer, (self.offset * 4) as u64, bytemuck::cast_slice(words));
                }
                Ok(())
            }
            Storage::Cpu(_) => crate::cpu::write(self, words),
        }
    }

    /// Overwrites the tensor with `data` (ordered before any later submission).
    pub fn write_f32(&self, data: &[f32]) -> Result<()> {
        self.check_len("write_f32", data.len())?;
        self.write_words(data)
    }

    /// Overwrites a u32 tensor with `data`.
    pub fn write_u32(&self, data: &[u32]) -> Result<()> {
        self.check_len("write_u32", data.len())?;
        self.write_words(bytemuck::cast_slice(data))
    }

    fn read_words(&self) -> Result<Vec<f32>> {
        match (&self.storage, self.device.gpu()) {
            (Storage::Gpu(buffer), Some(gpu)) => {
                let bytes = crate::gpu::read_bytes(gpu, buffer, (self.offset * 4) as u64, (self.len() * 4) as u64)?;
                Ok(bytemuck::pod_collect_to_vec(&bytes))
            }
            _ => crate::cpu::read(self),
        }
    }

    /// Downloads the tensor as f32 (waits for all submitted work).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        self.read_words()
    }

    /// `to_f32` as a future: the read-back the browser needs, where mapping completes only
    /// through the event loop and nothing may block (natively it polls the device).
    pub async fn read_f32(&self) -> Result<Vec<f32>> {
        match (&self.storage, self.device.gpu()) {
            (Storage::Gpu(buffer), Some(gpu)) => {
                let (at, len) = ((self.offset * 4) as u64, (self.len() * 4) as u64);
                let bytes = crate::gpu::read_bytes_async(gpu, buffer, at, len).await?;
                Ok(bytemuck::pod_collect_to_vec(&bytes))
            }
            _ => crate::cpu::read(self),
        }
    }

    /// `to_u32` as a future.
    pub async fn read_u32(&self) -> Result<Vec<u32>> {
        Ok(bytemuck::pod_collect_to_vec(&self.read_f32().await?))
    }

    /// Downloads the tensor as u32.
    pub fn to_u32(&self) -> Result<Vec<u32>> {
        Ok(bytemuck::pod_collect_to_vec(&self.read_words()?))
    }
}
