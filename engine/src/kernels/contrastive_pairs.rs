//! Launchers for `shaders/contrastive_pairs.wgsl`: the contrastive loss's O(N²) passes over
//! pairs of row blocks, each similarity computed once for both of its rows, where the rows
//! share the shift 1/τ (`contrastive::shared_shift`) and the pair's tile fits the adapter's
//! workgroup memory (`tile_fits`). Pass k visits the block pairs (i, i + k mod T); the passes
//! are dispatched in order, so every accumulator row has one writer per pass.

use crate::error::Result;
use crate::gpu::{Access, GpuRecorder, KernelSpec};
use crate::kernels::contrastive::{ContrastiveShape, ContrastiveState, tiled_grid};
use crate::kernels::groups_for;
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const SHADER: &str = "contrastive_pairs";
const CLEAR_SUMS: KernelSpec = KernelSpec { shader: SHADER, entry: "clear_sums", storage: &[(2, W), (3, W)] };
const TRANSPOSE_Z: KernelSpec = KernelSpec { shader: SHADER, entry: "transpose_z", storage: &[(1, R), (10, W)] };
const PAIR_SUMS: KernelSpec =
    KernelSpec { shader: SHADER, entry: "pair_sums", storage: &[(11, R), (2, W), (3, W), (4, W)] };
const FINISH_LSE: KernelSpec = KernelSpec { shader: SHADER, entry: "finish_lse", storage: &[(2, W), (3, W)] };
const CLEAR_GRADS: KernelSpec = KernelSpec { shader: SHADER, entry: "clear_grads", storage: &[(7, W)] };
const PAIR_GRADS: KernelSpec =
    KernelSpec { shader: SHADER, entry: "pair_grads", storage: &[(1, R), (9, R), (11, R), (5, R), (6, R), (7, W)] };
const MERGE_GRADS: KernelSpec = KernelSpec { shader: SHADER, entry: "merge_grads", storage: &[(7, W), (8, W)] };

/// Rows per block (the shader's BR).
const BLOCK_ROWS: usize = 64;

/// Workgroup memory the pair passes declare: the pair's whole tile, 64 × 64 f32.
const PAIR_TILE_BYTES: u32 = (BLOCK_ROWS * BLOCK_ROWS * 4) as u32;

/// Whether a device with `limits` can run the pair passes: every WebGPU device can (16 KiB is
/// the guaranteed minimum), but wgpu's downlevel adapters may offer a little less, and there
/// both passes take the per-row kernels instead (same state, same result).
pub(crate) fn tile_fits(limits: &wgpu::Limits) -> bool {
    limits.max_compute_workgroup_storage_size >= PAIR_TILE_BYTES
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    views: u32,
    d: u32,
    blocks: u32,
    inv_tau: f32,
    offset: u32,
    _p: [u32; 2],
}

/// The pass parameters for `s` at temperature 1/`inv_tau`.
fn setup(op: &'static str, gpu: &crate::Gpu, s: &ContrastiveShape, inv_tau: f32) -> Result<Params> {
    let [blocks, _, _] = tiled_grid(op, gpu, s.rows(), BLOCK_ROWS)?;
    Ok(Params { n: s.rows() as u32, views: s.views as u32, d: s.dim as u32, blocks, inv_tau, offset: 0, _p: [0; 2] })
}

/// Records the passes over every block pair `kernel` makes: offsets 0 … ⌊T/2⌋. VEC4 = 1 where
/// d is a multiple of 4 (the gradient products then read z's rows as vec4s through binding 9).
fn passes(g: &mut GpuRecorder, kernel: &KernelSpec, p: Params, b: &[crate::gpu::Binding<'_>]) -> Result<()> {
    let vec4 = [("VEC4", if p.d.is_multiple_of(4) { 1.0 } else { 0.0 })];
    for offset in 0..=p.blocks / 2 {
        g.dispatch(kernel, &vec4, &Params { offset, ..p }, b, [p.blocks, 1, 1])?;
    }
    Ok(())
}

/// Every row's negatives' log-sum-exp into `st.lse` and its positives into `st.pos`, from the
/// normalised rows in `st.z` (`st.row_loss` holds the column sums meanwhile); `st.zt` gets zᵀ,
/// which the backward pass reads too.
pub(crate) fn negatives(g: &mut GpuRecorder, st: &ContrastiveState, s: &ContrastiveShape, inv_tau: f32) -> Result<()> {
    let p = setup("contrastive_forward", g.gpu(), s, inv_tau)?;
    let rows = groups_for(g.gpu(), s.rows(), 256);
    let sums = [st.lse.binding()?, st.row_loss.binding()?];
    g.dispatch(&CLEAR_SUMS, &[], &p, &sums, rows)?;
    let transposed = [st.z.binding()?, st.zt.binding()?];
    g.dispatch(&TRANSPOSE_Z, &[], &p, &transposed, groups_for(g.gpu(), st.zt.len(), 256))?;
    let b = [st.zt.binding()?, st.lse.binding()?, st.row_loss.binding()?, st.pos.binding()?];
    passes(g, &PAIR_SUMS, p, &b)?;
    g.dispatch(&FINISH_LSE, &[], &p, &sums, rows)
}

/// The negatives' part of dL/dz into `dz` (every element written), from the forward state,
/// `st.zt` included (`st.pair_grad` holds both sides of the pairs' gradient meanwhile).
pub(crate) fn gradient(
    g: &mut GpuRecorder,
    st: &ContrastiveState,
    dz: &Tensor,
    s: &ContrastiveShape,
    inv_tau: f32,
) -> Result<()> {
    let p = setup("contrastive_backward", g.gpu(), s, inv_tau)?;
    let sides = [st.pair_grad.binding()?];
    g.dispatch(&CLEAR_GRADS, &[], &p, &sides, groups_for(g.gpu(), st.pair_grad.len() / 4, 256))?;
    let b = [
        st.z.binding()?,
        st.z.binding()?,
        st.zt.binding()?,
        st.lse.binding()?,
        st.coef.binding()?,
        st.pair_grad.binding()?,
    ];
    passes(g, &PAIR_GRADS, p, &b)?;
    let merge = [st.pair_grad.binding()?, dz.binding()?];
    g.dispatch(&MERGE_GRADS, &[], &p, &merge, groups_for(g.gpu(), s.rows() * s.dim, 256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pair_tile_fits_every_webgpu_device_and_not_a_smaller_one() {
        assert!(tile_fits(&wgpu::Limits::default()));
        let smaller = wgpu::Limits { max_compute_workgroup_storage_size: PAIR_TILE_BYTES - 32, ..Default::default() };
        assert!(!tile_fits(&smaller));
    }
}
