//! Typed launchers, one module per shader file.
//!
//! A launcher checks shapes and devices in Rust (returning an error that names the operand
//! and both shapes), then either packs the uniform parameters and records the WGSL dispatch
//! or runs the kernel's CPU twin (`crate::cpu`), by the recording's device. Layers call
//! launchers and never wgpu.

pub mod attention;
pub mod augment;
pub mod bayes;
pub mod byol;
pub mod contrastive;
mod contrastive_pairs;
pub mod cross_entropy;
pub mod distill;
pub mod elementwise;
pub mod embedding;
pub mod entropy;
pub mod matmul;
pub mod moe;
pub mod moe_matmul;
pub mod norm;
pub mod optim;
pub mod softmax;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::tensor::{DType, Tensor};

/// Fails unless `t` has exactly `expected` shape.
pub(crate) fn expect_shape(op: &'static str, what: &str, t: &Tensor, expected: &[usize]) -> Result<()> {
    if t.shape() != expected {
        return Err(Error::shape(op, what, expected, t.shape()));
    }
    Ok(())
}

/// Fails unless `t` holds `dtype`.
pub(crate) fn expect_dtype(op: &'static str, what: &str, t: &Tensor, dtype: DType) -> Result<()> {
    if t.dtype() != dtype {
        return Err(Error::Config(format!("{op}: {what} must be {dtype:?}, it is {:?}", t.dtype())));
    }
    Ok(())
}

/// Converts a size to the u32 a shader expects, or says it is too large.
pub(crate) fn u32_of(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Config(format!("{op}: {what} = {v} exceeds 2^32 − 1")))
}

/// Workgroups for `n` elements at `per_group` elements each, folded into a legal grid.
pub(crate) fn groups_for(gpu: &Gpu, n: usize, per_group: usize) -> [u32; 3] {
    crate::gpu::grid_1d(gpu, n.div_ceil(per_group).min(u32::MAX as usize) as u32)
}
