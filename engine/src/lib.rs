//! sigmix: a portable GPU compute engine on wgpu with hand-written WGSL kernels for
//! efficient-training research, a small GPT trainer, and the scaling-law tools around it.
//!
//! Layout (one folder per concern): `error`, `rng`, `clock` and `files` (atomic writes) at the
//! bottom, `gpu` (adapter, the shader registry, pipelines, GPU recorder), `cpu` (the
//! native backend), `recorder` (what launchers record into), `tensor` (shaped buffers on a
//! device), `ops` (the descriptors a launcher, its CPU twin and the oracle share), `kernels`
//! (typed launchers), `reference` (the f64 oracle),
//! `nn` (layers with explicit backward, the MoE block included), `models`, `optim`, `data`,
//! `train` (the trainer, one step at a time), `laws` (scaling laws, their fitter, bootstrap and
//! the optimal mixture), `sweep` (grids of runs to JSONL, resumable and shardable), `selfsup` (contrastive learning),
//! `tta` (test-time adaptation on corrupted streams); with the `cuda` feature, `cuda`
//! (the attention kernels in CUDA C for benchmarking on NVIDIA cards).

pub mod clock;
pub mod cpu;
#[cfg(all(feature = "cuda", not(target_arch = "wasm32")))]
pub mod cuda;
pub mod data;
pub mod error;
pub mod files;
pub mod gpu;
pub mod kernels;
pub mod laws;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod recorder;
pub mod reference;
pub mod rng;
pub mod selfsup;
pub mod selftest;
pub mod sweep;
pub mod tensor;
pub mod train;
pub mod tta;

pub use cpu::Cpu;
pub use error::{Error, Result};
pub use gpu::Gpu;
pub use recorder::Recorder;
pub use tensor::{DType, Device, DeviceChoice, Tensor};
