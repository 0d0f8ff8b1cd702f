//! What the Bayes-by-Backprop kernels (`shaders/bayes.wgsl`), their CPU twin and the f64
//! reference share: the prior and the KL's weight, the seed, and the noise ε itself.

use crate::ops::augment::pcg;

/// Workgroups of the KL's first pass; the partials tensor must hold this many floats.
pub const KL_PARTIALS: usize = 256;

/// One draw of Bayes-by-Backprop weights and its KL term (BYOV, docs/papers.md §8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BayesOpts {
    /// Seed of ε: the same seed draws the same weights, so the backward pass regenerates ε
    /// instead of storing it.
    pub seed: u32,
    /// Standard deviation σ_p of the Gaussian prior N(0, σ_p²) [I: BYOV's default is not
    /// given; 1.0 here].
    pub prior_std: f32,
    /// Weight k of KL(q ‖ p) in the loss, β_KL / N_data [I].
    pub kl_weight: f32,
}

impl Default for BayesOpts {
    fn default() -> Self {
        BayesOpts { seed: 0, prior_std: 1.0, kl_weight: 0.0 }
    }
}

/// The sum of element `i`'s twelve 24-bit uniforms (exact in integers, at most 12·2^24).
pub fn epsilon_bits(seed: u32, i: u32) -> u32 {
    (0..12u32).map(|j| pcg(seed ^ pcg(i.wrapping_mul(12).wrapping_add(j))) >> 8).sum()
}

/// ε(seed, i) [I, a labelled default]: Irwin–Hall, the sum of 12 uniforms minus 6 (mean 0,
/// variance 1, tails cut at ±6), exactly as the shader draws it.
pub fn epsilon(seed: u32, i: u32) -> f32 {
    (epsilon_bits(seed, i) as i32 - 6 * (1 << 24)) as f32 / 16_777_216.0
}
