//! Launchers for `shaders/contrastive.wgsl`: InfoNCE, multi-crop and poly-view (geometric,
//! arithmetic) contrastive losses over B samples × M views, tiled so the (B·M)² similarity
//! matrix is never stored. At the usual temperatures (`shared_shift`) the O(N²) passes are
//! `contrastive_pairs`' (each similarity once for both of its rows); the per-row kernels here
//! serve colder ones.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
use crate::ops::contrastive::shared_shift;
pub use crate::ops::contrastive::{
    ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState, MAX_DIM, MAX_VIEWS,
};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const NORMALIZE: KernelSpec =
    KernelSpec { shader: "contrastive", entry: "normalize_rows", storage: &[(1, R), (2, W), (3, W)] };
const NEGATIVES: KernelSpec =
    KernelSpec { shader: "contrastive", entry: "negatives_lse", storage: &[(4, R), (5, W), (6, W)] };
const ROW_TERMS: KernelSpec =
    KernelSpec { shader: "contrastive", entry: "row_terms", storage: &[(7, R), (8, R), (9, W), (10, W)] };
const LOSS_MEAN: KernelSpec = KernelSpec { shader: "contrastive", entry: "loss_mean", storage: &[(11, R), (13, W)] };
const BACKWARD_TILES: KernelSpec =
    KernelSpec { shader: "contrastive", entry: "backward_tiles", storage: &[(4, R), (7, R), (12, R), (14, W)] };
const BACKWARD_FINISH: KernelSpec =
    KernelSpec { shader: "contrastive", entry: "backward_finish", storage: &[(4, R), (12, R), (14, W), (15, R)] };

/// Rows per workgroup of the tiled kernels (the shader's BQ override).
const BLOCK: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    views: u32,
    d: u32,
    kind: u32,
    inv_tau: f32,
    inv_n: f32,
    _f: [f32; 2],
}

fn params(op: &'static str, s: &ContrastiveShape, o: &ContrastiveOpts) -> Result<Params> {
    s.validate(o.loss)?;
    if !(o.temperature.is_finite() && o.temperature >= 0.01) {
        return Err(Error::Config(format!(
            "{op}: temperature {} must be at least 0.01 (0.1 to 0.5 is usual)",
            o.temperature
        )));
    }
    let n = s.rows();
    Ok(Params {
        n: u32_of(op, "rows", n)?,
        views: s.views as u32,
        d: s.dim as u32,
        kind: o.loss.code(),
        inv_tau: 1.0 / o.temperature,
        inv_n: 1.0 / n as f32,
        _f: [0.0; 2],
    })
}

/// Whether a GPU pass takes the pair kernels (`contrastive_pairs`): the rows share a shift and
/// the pair's tile fits the adapter's workgroup memory. Forward and backward decide alike, so
/// the backward finds the state (zᵀ included) its kernels expect.
fn pair_passes(gpu: &crate::Gpu, o: &ContrastiveOpts) -> bool {
    shared_shift(o.temperature).is_some() && crate::kernels::contrastive_pairs::tile_fits(gpu.limits())
}

/// Columns per shared tile at most: contrastive.wgsl's MAX_TILE_ROWS.
const MAX_TILE_ROWS: usize = 128;

/// Override constants for `gpu` and `s`: BQ, the row width in vec4s, and the shared tile (in
/// vec4s): min(N, 128) rows, capped by the largest tile that leaves 1 KiB for the column
/// statistics and 1 KiB for the loss reduction (960 at the 16 KiB WebGPU floor). No larger
/// than the shape uses: workgroup memory is zero-filled at the start of every workgroup.
fn overrides(gpu: &crate::Gpu, s: &ContrastiveShape) -> [(&'static str, f64); 3] {
    let limit = gpu.limits().max_compute_workgroup_storage_size as usize;
    let largest = (limit.saturating_sub(2048) / 16 / 16 * 16).clamp(64, 2048);
    let d4 = s.dim.div_ceil(4);
    let needed = (s.rows().clamp(1, MAX_TILE_ROWS) * d4).next_multiple_of(16).max(64);
    [("BQ", BLOCK as f64), ("TILE_VEC4", largest.min(needed) as f64), ("D4", d4 as f64)]
}

/// One workgroup per `block` rows in one grid dimension, or why the adapter cannot take it.
pub(crate) fn tiled_grid(op: &'static str, gpu: &crate::Gpu, n: usize, block: usize) -> Result<[u32; 3]> {
    let groups = n.div_ceil(block);
    let max = gpu.limits().max_compute_workgroups_per_dimension as usize;
    if groups > max {
        return Err(Error::Config(format!(
            "{op}: {n} rows need {groups} workgroups, over the adapter's {max} per dimension; split the batch"
        )));
    }
    Ok([groups as u32, 1, 1])
}

fn check_state(op: &'static str, st: &ContrastiveState, s: &ContrastiveShape) -> Result<()> {
    if st.shape() != *s {
        return Err(Error::Config(format!("{op}: the state was made for {:?}, the call is for {s:?}", st.shape())));
    }
    Ok(())
}

/// Forward pass: normalises the rows of `x` (N × d), computes every row's statistics and
/// writes the mean loss into `st.loss`.
pub fn contrastive_forward(
    rec: &mut Recorder,
    x: &Tensor,
    st: &ContrastiveState,
    s: &ContrastiveShape,
    o: &ContrastiveOpts,
) -> Result<()> {
    const OP: &str = "contrastive_forward";
    let p = params(OP, s, o)?;
    check_state(OP, st, s)?;
    expect_shape(OP, "x", x, &[s.rows(), s.dim])?;
    let mut operands = vec![x];
    operands.extend(st.tensors());
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            let n = s.rows();
            let rows = groups_for(g.gpu(), n, 64);
            g.dispatch(&NORMALIZE, &[], &p, &[x.binding()?, st.z.binding()?, st.inv_norm.binding()?], rows)?;
            if pair_passes(g.gpu(), o) {
                crate::kernels::contrastive_pairs::negatives(g, st, s, p.inv_tau)?
            } else {
                let (ov, tiles) = (overrides(g.gpu(), s), tiled_grid(OP, g.gpu(), n, BLOCK)?);
                g.dispatch(&NEGATIVES, &ov, &p, &[st.z.binding()?, st.lse.binding()?, st.pos.binding()?], tiles)?
            }
            let terms = [st.lse.binding()?, st.pos.binding()?, st.row_loss.binding()?, st.coef.binding()?];
            g.dispatch(&ROW_TERMS, &[], &p, &terms, rows)?;
            g.dispatch(&LOSS_MEAN, &[], &p, &[st.row_loss.binding()?, st.loss.binding()?], [1, 1, 1])
        }
        Exec::Cpu => cpu::contrastive::forward(x, st, s, o),
    }
}

/// Backward pass: writes dL/dx (N × d, every element overwritten) from the state the forward
/// pass left, for an upstream gradient of 1 on the mean loss.
pub fn contrastive_backward(
    rec: &mut Recorder,
    st: &ContrastiveState,
    dx: &Tensor,
    s: &ContrastiveShape,
    o: &ContrastiveOpts,
) -> Result<()> {
    const OP: &str = "contrastive_backward";
    let p = params(OP, s, o)?;
    check_state(OP, st, s)?;
    expect_shape(OP, "dx", dx, &[s.rows(), s.dim])?;
    let mut operands = vec![dx];
    operands.extend(st.tensors());
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            let n = s.rows();
            if pair_passes(g.gpu(), o) {
                crate::kernels::contrastive_pairs::gradient(g, st, dx, s, p.inv_tau)?
            } else {
                let (ov, tiles) = (overrides(g.gpu(), s), tiled_grid(OP, g.gpu(), n, BLOCK)?);
                let b = [st.z.binding()?, st.lse.binding()?, st.coef.binding()?, dx.binding()?];
                g.dispatch(&BACKWARD_TILES, &ov, &p, &b, tiles)?;
            }
            let f = [st.z.binding()?, st.coef.binding()?, dx.binding()?, st.inv_norm.binding()?];
            g.dispatch(&BACKWARD_FINISH, &[], &p, &f, groups_for(g.gpu(), n, 64))
        }
        Exec::Cpu => cpu::contrastive::backward(st, dx, s, o),
    }
}
