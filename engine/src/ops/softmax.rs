//! The row softmax's options, shared by the launcher and the CPU twin.

/// Row softmax settings.
#[derive(Clone, Copy, Debug)]
pub struct SoftmaxOpts {
    /// Multiplies the inputs before the softmax.
    pub scale: f32,
    /// Causal mask: rows are queries (row mod `q_len`), keys aligned to the end.
    pub causal: bool,
    /// Queries per block of rows (the sequence length for attention scores).
    pub q_len: usize,
}
