//! The f64 oracle: a plain, obviously-correct implementation of every kernel.
//!
//! Tests and `sigmix selftest` compare the kernels against these functions; the functions
//! themselves are checked against finite differences. Never used on a hot path.

pub mod attention;
pub mod augment;
pub mod contrastive;
pub mod cross_entropy;
pub mod elementwise;
pub mod embedding;
pub mod entropy;
pub mod flash;
pub mod matmul;
pub mod moe;
pub mod norm;
pub mod optim;
pub mod softmax;

/// Widens f32 data to f64.
pub fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|v| *v as f64).collect()
}

/// ‖out − ref‖₂ / ‖ref‖₂ (absolute error when ‖ref‖ = 0); NaN anywhere in `out` gives ∞.
pub fn rel_err(out: &[f32], reference: &[f64]) -> f64 {
    if out.len() != reference.len() || out.iter().any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let (mut num, mut den) = (0.0, 0.0);
    for (o, r) in out.iter().zip(reference) {
        num += (*o as f64 - r).powi(2);
        den += r * r;
    }
    if den == 0.0 { num.sqrt() } else { (num / den).sqrt() }
}

pub mod gpt;

#[cfg(test)]
mod tests;
