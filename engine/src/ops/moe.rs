//! The routing's buffers and uniform parameters and the grouped product's options, shared by
//! the MoE launchers, the CPU twin and the f64 reference.

use crate::error::{Error, Result};
use crate::tensor::{DType, Device, Tensor};

/// Marks a dropped slot in `position`.
pub const NONE: u32 = u32::MAX;
/// Most experts the routing kernel handles (its chosen-set is a 64-bit mask).
pub const MAX_EXPERTS: usize = 64;
/// Most experts per token.
pub const MAX_TOP_K: usize = 4;

/// The uniform parameters every MoE entry point reads; the fields mirror `Params` in
/// `shaders/moe.wgsl` one to one (sizes, flags, the auxiliary-loss coefficients).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct RouteParams {
    pub tokens: u32,
    pub experts: u32,
    pub top_k: u32,
    pub dim: u32,
    pub capacity: u32,
    pub sigmoid: u32,
    pub renorm: u32,
    pub unit_gates: u32,
    pub aux_coef: f32,
    pub z_coef: f32,
    pub accumulate: u32,
    pub pad1: u32,
}

/// The buffers routing fills for T tokens, E experts and K experts per token.
pub struct MoeRouting {
    /// Tokens T.
    pub tokens: usize,
    /// Experts E.
    pub experts_n: usize,
    /// Experts per token K.
    pub top_k: usize,
    /// Gate probabilities (T, E), f32.
    pub probs: Tensor,
    /// Chosen experts (T, K), u32.
    pub experts: Tensor,
    /// Their gates (T, K), f32.
    pub gates: Tensor,
    /// Slots per expert (E), u32.
    pub counts: Tensor,
    /// Group offsets (E + 1) then the dropped count, u32.
    pub offsets: Tensor,
    /// Slot of each grouped row (T·K), u32.
    pub order: Tensor,
    /// Grouped row of each slot or `NONE` (T·K), u32.
    pub position: Tensor,
}

impl MoeRouting {
    /// Allocates the routing buffers; E ≤ 64 and 1 ≤ K ≤ min(4, E).
    pub fn new(device: &Device, tokens: usize, experts: usize, top_k: usize) -> Result<MoeRouting> {
        if experts == 0 || experts > MAX_EXPERTS || top_k == 0 || top_k > MAX_TOP_K.min(experts) || tokens == 0 {
            return Err(Error::Config(format!(
                "MoE routing needs 1 ≤ experts ≤ {MAX_EXPERTS}, 1 ≤ top_k ≤ min({MAX_TOP_K}, experts) and tokens ≥ 1; got {experts} experts, top_k {top_k}, {tokens} tokens"
            )));
        }
        let slots = tokens * top_k;
        let u = |what: &str, n: usize| Tensor::empty(device, what, &[n], DType::U32);
        Ok(MoeRouting {
            tokens,
            experts_n: experts,
            top_k,
            probs: Tensor::empty(device, "moe probs", &[tokens, experts], DType::F32)?,
            experts: Tensor::empty(device, "moe experts", &[tokens, top_k], DType::U32)?,
            gates: Tensor::empty(device, "moe gates", &[tokens, top_k], DType::F32)?,
            counts: u("moe counts", experts)?,
            offsets: u("moe offsets", experts + 2)?,
            order: u("moe order", slots)?,
            position: u("moe position", slots)?,
        })
    }

    /// Slots dropped by the capacity in the last routing (reads back; waits for the device).
    pub fn dropped(&self) -> Result<u32> {
        Ok(self.offsets.to_u32()?[self.experts_n + 1])
    }
}

/// How the grouped product reads W and writes C (named, so a call says which it means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupedOpts {
    /// W is stored (E, n, k_in) and read transposed (the backward pass through a layer).
    pub trans_w: bool,
    /// Add into C instead of overwriting it.
    pub accumulate: bool,
}
