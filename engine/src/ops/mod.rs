//! Op descriptors: the shapes, options, uniform parameter structs and output buffers that a
//! kernel's launcher (`kernels`), its CPU twin (`cpu`) and its f64 oracle (`reference`) all
//! read. They live here, apart from the launchers, so the CPU backend and the reference never
//! import `kernels`: an arrow points from each of the three down to `ops`, which imports only
//! the foundation and `tensor` (an op's buffers are tensors). `kernels` re-exports each type
//! under its old path, so `kernels::attention::AttnOpts` and `ops::attention::AttnOpts` are
//! one type.

pub mod attention;
pub mod augment;
pub mod bayes;
pub mod contrastive;
pub mod distill;
pub mod entropy;
pub mod matmul;
pub mod moe;
pub mod norm;
pub mod optim;
pub mod softmax;
