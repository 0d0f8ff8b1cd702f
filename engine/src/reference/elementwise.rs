//! Reference GELU (tanh form, as GPT-2), bias ops and their gradients.

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044715;

/// GELU, tanh approximation.
pub fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + (SQRT_2_OVER_PI * (v + GELU_C * v * v * v)).tanh())
}

/// d gelu / dv.
pub fn gelu_grad(v: f64) -> f64 {
    let t = (SQRT_2_OVER_PI * (v + GELU_C * v * v * v)).tanh();
    0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * v * v)
}

/// `x + bias[c]` over rows of length `bias.len()`.
pub fn bias_add(x: &[f64], bias: &[f64]) -> Vec<f64> {
    x.iter().enumerate().map(|(i, v)| v + bias[i % bias.len()]).collect()
}

/// Column sums of a rows×cols matrix.
pub fn column_sums(dy: &[f64], cols: usize) -> Vec<f64> {
    let mut s = vec![0.0; cols];
    for (i, v) in dy.iter().enumerate() {
        s[i % cols] += v;
    }
    s
}
