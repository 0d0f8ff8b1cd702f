//! The contrastive losses' kinds, shapes, options and the buffers they fill, shared by the
//! launchers, the CPU twin and the f64 reference.

use crate::error::{Error, Result};
use crate::tensor::{DType, Device, Tensor};

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

/// The exponent shift every row can share, 1/τ, when it is safe: z is unit-length, so every
/// similarity s lies in [−1/τ, 1/τ] and e^{s − 1/τ} ≥ e^{−2/τ} is a normal f32 while
/// 2/τ ≤ 80 (τ ≥ 0.025). Both backends then compute each similarity once per pass for both of
/// its rows, with one exponential (`contrastive_pairs`; the CPU twin's blocks); colder
/// temperatures take the per-row kernels with a running maximum per row.
pub(crate) fn shared_shift(temperature: f32) -> Option<f32> {
    (2.0 / temperature <= 80.0).then_some(1.0 / temperature)
}
