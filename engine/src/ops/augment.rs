//! The augmentation's shape, its per-view parameter count and its counter-based noise, shared by
//! the launcher, the CPU twin and the f64 reference.

/// Floats per view in the parameter tensor.
pub const VIEW_PARAMS: usize = 8;

/// Sizes and noise of one augmentation launch.
#[derive(Clone, Copy, Debug)]
pub struct AugmentShape {
    /// Views to produce.
    pub views: usize,
    /// Source image side, pixels.
    pub in_size: usize,
    /// Output view side, pixels.
    pub out_size: usize,
    /// Noise standard deviation.
    pub noise_std: f32,
    /// Noise seed (change it every step).
    pub seed: u32,
}

/// The shader's hash, for the CPU twin and the reference.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The shader's noise variate ν for output element `e` (mean 0, variance 1/4).
pub fn noise(seed: u32, e: u32) -> f32 {
    let u = |draw: u32| (pcg(seed ^ pcg(e.wrapping_mul(3).wrapping_add(draw))) >> 8) as f32 / 16_777_216.0;
    u(0) + u(1) + u(2) - 1.5
}
