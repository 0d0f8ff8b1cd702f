//! AdamW's per-step hyper-parameters, read by the launcher, the CPU twin and the f64 reference.

/// One AdamW step's hyper-parameters (bias corrections included).
#[derive(Clone, Copy, Debug)]
pub struct AdamWStep {
    /// Learning rate for this step.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator epsilon.
    pub eps: f32,
    /// Decoupled weight decay (applied to the first `n_decay` elements).
    pub weight_decay: f32,
    /// Clip the global gradient norm to this (0 disables).
    pub clip: f32,
    /// 1-based step number, for the bias corrections.
    pub t: u32,
    /// How many leading elements receive weight decay.
    pub n_decay: usize,
}
