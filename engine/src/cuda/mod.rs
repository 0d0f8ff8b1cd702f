//! The CUDA path (feature `cuda`): the attention kernels in CUDA C, compiled at run time by NVRTC
//! for the card in the machine, so FlashSigmoid and the softmax flash baseline can be measured on
//! NVIDIA hardware next to the WGSL kernels (through Vulkan) and PyTorch.
//!
//! cudarc loads `libcuda` and `libnvrtc` when first used (dynamic loading): the crate builds and
//! its compile tests run on machines without CUDA, and a machine without the libraries gets one
//! clear error instead of a crash. Kernels: `kernels/attention_f32.cu` (f32, one thread per row,
//! the checking variant) and `kernels/attention_mma.cu` (bf16 or f16 on tensor cores with f32
//! accumulation), both with the semantics of the WGSL kernels (layouts, causal mask, ALiBi,
//! sigmoid bias): `sigmix::kernels::attention`'s `AttnLayout` and `AttnOpts` describe them.

mod attention;
pub mod check;
pub mod compile;
mod device;

pub use attention::{CudaAttnBuffers, round_to, shared_bytes};
pub use compile::Precision;
pub use device::{Cuda, CudaInfo};

use crate::error::Error;

fn driver_error(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Cuda(format!("{what}: {e:?}"))
}
