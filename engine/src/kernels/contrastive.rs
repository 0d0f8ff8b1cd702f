//! Launchers for `shaders/contrastive.wgsl`: InfoNCE, multi-crop and poly-view (geometric,
//! arithmetic) contrastive losses over B samples × M views, tiled so the (B·M)² similarity
//! matrix is never stored. At the usual temperatures (`shared_shift`) the O(N²) passes are
//! `contrastive_pairs`' (each similarity once for both of its rows); the per-row kernels here
//! serve colder ones.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
use crate::recorder::{Exec, Recorder};
use crate::tensor::{DType, Device, Tensor};

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
/// Largest embedding width the tiled kernels hold in registers.
pub const MAX_DIM: usize = 128;
/// Most views per sample (the shader's private per-view arrays).
pub const MAX_VIEWS: usize = 8;

/// Which contrastive objective (docs/papers.md §7; the exact forms there are marked [I]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContrastiveLoss {
    /// SimCLR's NT-Xent: two views, the other view is the positive, all other samples' views
    /// are negatives.
    InfoNce,
    /// Pairwise InfoNCE averaged over ordered view pairs, every other view in the batch a
    /// candidate (the anchor's own other views included) [I].
    MultiCrop,
    /// Geometric poly-view: mean over positives of −log p(positive | positive ∪ negatives).
    Geometric,
    /// Arithmetic poly-view: −log of the mean of those probabilities.
    Arithmetic,
}

impl ContrastiveLoss {
    /// Every objective, in the order the demo and the benchmark list them.
    pub const ALL: [ContrastiveLoss; 4] =
        [ContrastiveLoss::InfoNce, ContrastiveLoss::MultiCrop, ContrastiveLoss::Geometric, ContrastiveLoss::Arithmetic];

    /// Short name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            ContrastiveLoss::InfoNce => "infonce",
            ContrastiveLoss::MultiCrop => "multi-crop",
            ContrastiveLoss::Geometric => "geometric",
            ContrastiveLoss::Arithmetic => "arithmetic",
        }
    }

    /// Parses a `name()`, or says which names exist.
    pub fn parse(s: &str) -> Result<ContrastiveLoss> {
        Self::ALL.into_iter().find(|l| l.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|l| l.name()).collect();
            Error::Config(format!("unknown contrastive loss '{s}': use one of {}", names.join(", ")))
        })
    }

    /// The shader's code for this loss.
    pub(crate) fn code(self) -> u32 {
        match self {
            ContrastiveLoss::InfoNce => 0,
            ContrastiveLoss::Geometric => 1,
            ContrastiveLoss::Arithmetic => 2,
            ContrastiveLoss::MultiCrop => 3,
        }
    }
}

/// B samples × M views of d features: rows r = i·M + α (a sample's views are consecutive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContrastiveShape {
    /// Samples B (at least 2: negatives come from other samples).
    pub samples: usize,
    /// Views per sample M (2..=8).
    pub views: usize,
    /// Embedding width d (1..=128).
    pub dim: usize,
}

impl ContrastiveShape {
    /// Rows N = B·M.
    pub fn rows(&self) -> usize {
        self.samples * self.views
    }

    /// Checks the shape against what the kernels and `loss` support.
    pub fn validate(&self, loss: ContrastiveLoss) -> Result<()> {
        if self.samples < 2 {
            return Err(Error::Config(format!(
                "contrastive loss: {} sample(s); at least 2 are needed, the other samples are the negatives",
                self.samples
            )));
        }
        if !(2..=MAX_VIEWS).contains(&self.views) {
            return Err(Error::Config(format!("contrastive loss: {} views; use 2..={MAX_VIEWS}", self.views)));
        }
        if loss == ContrastiveLoss::InfoNce && self.views != 2 {
            return Err(Error::Config(format!(
                "contrastive loss: InfoNCE takes exactly 2 views, got {}; use geometric or arithmetic for more",
                self.views
            )));
        }
        if !(1..=MAX_DIM).contains(&self.dim) {
            return Err(Error::Config(format!(
                "contrastive loss: embedding width {} is outside 1..={MAX_DIM}; project to at most {MAX_DIM}",
                self.dim
            )));
        }
        Ok(())
    }
}

/// Loss settings: the objective and the temperature τ.
#[derive(Clone, Copy, Debug)]
pub struct ContrastiveOpts {
    /// Which objective.
    pub loss: ContrastiveLoss,
    /// Temperature τ (similarities are cosines / τ); 0.2 is the labelled default [I].
    pub temperature: f32,
}

impl Default for ContrastiveOpts {
    fn default() -> Self {
        ContrastiveOpts { loss: ContrastiveLoss::Geometric, temperature: 0.2 }
    }
}

/// What the forward pass leaves for the backward pass: O(N·(d + M)) floats, never O(N²).
pub struct ContrastiveState {
    /// L2-normalised rows (N × d).
    pub z: Tensor,
    /// 1/‖x_r‖ per row (N).
    pub inv_norm: Tensor,
    /// Log-sum-exp of each row's similarities to other samples' views (N).
    pub lse: Tensor,
    /// Each row's similarities to its own sample's views (N × M).
    pub pos: Tensor,
    /// Each row's loss term (N).
    pub row_loss: Tensor,
    /// Per-row gradient coefficients, scaled by 1/N (N × (M + 1)).
    pub coef: Tensor,
    /// The mean loss (1 element).
    pub loss: Tensor,
    /// The backward pass's scratch on a GPU: both sides of the pairs' gradient, each N rows of
    /// d rounded up to a multiple of 4 (2N × ⌈d/4⌉·4; 0 × d on the CPU backend).
    pub pair_grad: Tensor,
    /// zᵀ on a GPU, d × N rounded up to whole 64-row blocks (zero past N), which the pair passes
    /// read four columns at a time (d × 0 on the CPU backend).
    pub zt: Tensor,
    shape: ContrastiveShape,
}

impl ContrastiveState {
    /// Allocates the state for `shape` on `device`.
    pub fn new(device: &Device, shape: ContrastiveShape) -> Result<ContrastiveState> {
        let (n, d, m) = (shape.rows(), shape.dim, shape.views);
        let t = |what: &str, s: &[usize]| Tensor::empty(device, what, s, DType::F32);
        Ok(ContrastiveState {
            z: t("contrastive z", &[n, d])?,
            inv_norm: t("contrastive 1/norm", &[n])?,
            lse: t("contrastive negatives lse", &[n])?,
            pos: t("contrastive positives", &[n, m])?,
            row_loss: t("contrastive row loss", &[n])?,
            coef: t("contrastive coefficients", &[n, m + 1])?,
            loss: t("contrastive loss", &[1])?,
            // The CPU twin keeps that side in per-chunk buffers of its own.
            pair_grad: match device {
                Device::Gpu(_) => t("contrastive pair gradient", &[2 * n, d.next_multiple_of(4)])?,
                _ => t("contrastive pair gradient", &[0, d])?,
            },
            zt: match device {
                Device::Gpu(_) => t("contrastive z transposed", &[d, n.next_multiple_of(64)])?,
                _ => t("contrastive z transposed", &[d, 0])?,
            },
            shape,
        })
    }

    /// The shape this state was made for.
    pub fn shape(&self) -> ContrastiveShape {
        self.shape
    }

    /// Bytes the state holds (what the loss needs beyond its input and gradient).
    pub fn bytes(&self) -> usize {
        self.tensors().iter().map(|t| 4 * t.len()).sum()
    }

    /// Every tensor of the state, in field order (what a launcher or a poisoning test walks).
    pub(crate) fn tensors(&self) -> [&Tensor; 9] {
        [
            &self.z,
            &self.inv_norm,
            &self.lse,
            &self.pos,
            &self.row_loss,
            &self.coef,
            &self.loss,
            &self.pair_grad,
            &self.zt,
        ]
    }
}

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

/// The exponent shift every row can share, 1/τ, when it is safe: z is unit-length, so every
/// similarity s lies in [−1/τ, 1/τ] and e^{s − 1/τ} ≥ e^{−2/τ} is a normal f32 while
/// 2/τ ≤ 80 (τ ≥ 0.025). Both backends then compute each similarity once per pass for both of
/// its rows, with one exponential (`contrastive_pairs`; the CPU twin's blocks); colder
/// temperatures take the per-row kernels with a running maximum per row.
pub(crate) fn shared_shift(temperature: f32) -> Option<f32> {
    (2.0 / temperature <= 80.0).then_some(1.0 / temperature)
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
    if st.shape != *s {
        return Err(Error::Config(format!("{op}: the state was made for {:?}, the call is for {s:?}", st.shape)));
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
