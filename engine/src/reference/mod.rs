//! The f64 oracle: a plain, obviously-correct implementation of every kernel.
//!
//! Tests and `sigmix selftest` compare the kernels against these functions; the functions
//! themselves are checked against finite differences. Never used on a hot path.

pub mod attention;
pub mod augment;
pub mod bayes;
pub mod byol;
pub mod contrastive;
pub mod cross_entropy;
pub mod distill;
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
/// Values below f32's smallest normal number over its epsilon (≈ 1e-31) count as 0 on both
/// sides: an f32 kernel cannot hold the smallest of them (GPUs flush subnormals to 0), and the
/// rest it reaches through subnormal intermediates with fewer bits, so a reference of 1e-62 met
/// by 0 is not an error. (Found by the kernels' property tests: REALM's Welsch weight e^(−x²/2)
/// of a high-entropy row.)
pub fn rel_err(out: &[f32], reference: &[f64]) -> f64 {
    if out.len() != reference.len() || out.iter().any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let floor = f32::MIN_POSITIVE as f64 / f32::EPSILON as f64;
    let flush = |v: f64| if v.abs() < floor { 0.0 } else { v };
    let (mut num, mut den) = (0.0, 0.0);
    for (o, r) in out.iter().zip(reference) {
        let r = flush(*r);
        num += (flush(*o as f64) - r).powi(2);
        den += r * r;
    }
    if den == 0.0 { num.sqrt() } else { (num / den).sqrt() }
}

pub mod gpt;

#[cfg(test)]
mod tests;
