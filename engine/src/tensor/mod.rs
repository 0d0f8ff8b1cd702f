//! Tensors: a typed, shaped view into a device buffer.
//!
//! A tensor knows where it lives (`Device`), so launchers can pick the kernel for that
//! device and layers never touch wgpu. Views share buffers: the parameters, gradients and
//! optimiser moments of a model each live in one slab (`Slab`), so a whole-model operation
//! such as AdamW or the gradient norm is one dispatch.

mod slab;

use std::sync::Arc;

pub use slab::{Slab, SlabLayout};

use crate::error::{Error, Result};
use crate::gpu::{Binding, Gpu};

/// Where a tensor's data lives. The CPU backend adds a variant here; launchers match on it.
#[derive(Clone, Debug)]
pub enum Device {
    /// A wgpu device.
    Gpu(Arc<Gpu>),
}

impl Device {
    /// The GPU behind this device.
    pub fn gpu(&self) -> &Arc<Gpu> {
        match self {
            Device::Gpu(g) => g,
        }
    }

    /// Whether two devices are the same one.
    pub fn same(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Gpu(a), Device::Gpu(b)) => Arc::ptr_eq(a, b),
        }
    }
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
    buffer: Arc<wgpu::Buffer>,
    offset: u64,
    shape: Vec<usize>,
    dtype: DType,
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    /// Allocates an uninitialised tensor (contents unspecified until written).
    pub fn empty(gpu: &Arc<Gpu>, what: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let bytes = (numel(shape) * 4) as u64;
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let buffer = Arc::new(gpu.create_buffer(what, bytes, usage)?);
        Ok(Tensor { device: Device::Gpu(gpu.clone()), buffer, offset: 0, shape: shape.to_vec(), dtype })
    }

    /// Allocates an f32 tensor and uploads `data` (length must match the shape).
    pub fn from_f32(gpu: &Arc<Gpu>, what: &str, shape: &[usize], data: &[f32]) -> Result<Tensor> {
        let t = Tensor::empty(gpu, what, shape, DType::F32)?;
        t.write_f32(data)?;
        Ok(t)
    }

    /// Allocates a u32 tensor and uploads `data`.
    pub fn from_u32(gpu: &Arc<Gpu>, what: &str, shape: &[usize], data: &[u32]) -> Result<Tensor> {
        let t = Tensor::empty(gpu, what, shape, DType::U32)?;
        t.write_u32(data)?;
        Ok(t)
    }

    /// A view of `shape` at element `offset` of a buffer (used by `Slab`).
    pub(crate) fn view(
        device: Device,
        buffer: Arc<wgpu::Buffer>,
        offset_elems: usize,
        shape: &[usize],
        dtype: DType,
    ) -> Tensor {
        Tensor { device, buffer, offset: (offset_elems * 4) as u64, shape: shape.to_vec(), dtype }
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

    /// The bytes this view covers, for binding to a kernel.
    pub fn binding(&self) -> Binding<'_> {
        Binding { buffer: &self.buffer, offset: self.offset, size: (self.len() * 4) as u64 }
    }

    fn check_len(&self, op: &'static str, n: usize) -> Result<()> {
        if n != self.len() {
            return Err(Error::shape(op, format!("data of {n} elements"), &self.shape, &[n]));
        }
        Ok(())
    }

    fn write_bytes(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.device.gpu().queue.write_buffer(&self.buffer, self.offset, bytes);
        }
    }

    /// Overwrites the tensor with `data` (ordered before any later submission).
    pub fn write_f32(&self, data: &[f32]) -> Result<()> {
        self.check_len("write_f32", data.len())?;
        self.write_bytes(bytemuck::cast_slice(data));
        Ok(())
    }

    /// Overwrites a u32 tensor with `data`.
    pub fn write_u32(&self, data: &[u32]) -> Result<()> {
        self.check_len("write_u32", data.len())?;
        self.write_bytes(bytemuck::cast_slice(data));
        Ok(())
    }

    fn read_bytes(&self) -> Result<Vec<u8>> {
        crate::gpu::read_bytes(self.device.gpu(), &self.buffer, self.offset, (self.len() * 4) as u64)
    }

    /// Downloads the tensor as f32 (waits for all submitted work).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(&self.read_bytes()?))
    }

    /// Downloads the tensor as u32.
    pub fn to_u32(&self) -> Result<Vec<u32>> {
        Ok(bytemuck::pod_collect_to_vec(&self.read_bytes()?))
    }
}
