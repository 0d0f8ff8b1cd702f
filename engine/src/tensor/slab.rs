//! One buffer holding many tensors: parameters, gradients and optimiser moments.
//!
//! Each tensor starts at a multiple of the adapter's storage-offset alignment (256 bytes
//! on most GPUs) so it can be bound on its own; the gaps stay zero and are harmless to
//! AdamW and to the gradient norm.

use crate::error::Result;
use crate::tensor::{DType, Device, Tensor};

/// Where each named tensor sits in a slab; the same layout serves params, grads and moments.
#[derive(Clone, Debug, Default)]
pub struct SlabLayout {
    entries: Vec<(String, usize, Vec<usize>)>,
    len: usize,
    align: usize,
}

impl SlabLayout {
    /// An empty layout aligned for `device`.
    pub fn new(device: &Device) -> SlabLayout {
        let align = device.slab_align();
        SlabLayout { entries: Vec::new(), len: 0, align }
    }

    /// Reserves a tensor of `shape`; returns its index in the layout.
    pub fn reserve(&mut self, name: &str, shape: &[usize]) -> usize {
        let offset = self.len.div_ceil(self.align) * self.align;
        let n: usize = shape.iter().product();
        self.entries.push((name.to_string(), offset, shape.to_vec()));
        self.len = offset + n;
        self.entries.len() - 1
    }

    /// Elements spanned, gaps included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was reserved.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Element count of the reserved tensors, gaps excluded (the model's parameter count).
    pub fn numel(&self) -> usize {
        self.entries.iter().map(|(_, _, s)| s.iter().product::<usize>()).sum()
    }

    /// Name, element offset and shape of each reserved tensor, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, usize, &[usize])> {
        self.entries.iter().map(|(n, o, s)| (n.as_str(), *o, s.as_slice()))
    }
}

/// A buffer laid out by a `SlabLayout`, handing out tensor views.
#[derive(Clone, Debug)]
pub struct Slab {
    layout: SlabLayout,
    whole: Tensor,
}

impl Slab {
    /// Allocates a zero-filled slab for `layout`.
    pub fn zeros(device: &Device, what: &str, layout: &SlabLayout) -> Result<Slab> {
        let whole = Tensor::from_f32(device, what, &[layout.len()], &vec![0.0; layout.len()])?;
        Ok(Slab { layout: layout.clone(), whole })
    }

    /// The tensor reserved as entry `index`.
    pub fn get(&self, index: usize) -> Tensor {
        let (_, offset, shape) = &self.layout.entries[index];
        self.whole.view_at(*offset, shape, DType::F32)
    }

    /// The whole slab as one flat tensor.
    pub fn whole(&self) -> &Tensor {
        &self.whole
    }

    /// The layout this slab follows.
    pub fn layout(&self) -> &SlabLayout {
        &self.layout
    }
}
