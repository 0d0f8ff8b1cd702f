//! Branch-free f32 transcendental functions the compiler can vectorise.
//!
//! libm's `expf` and `tanhf` are scalar calls: they dominated a CPU training step (GELU's
//! tanh alone took over a quarter of it). These versions are a few multiply-adds and integer
//! operations on the bits, so loops over slices become SIMD loops. Accuracy is within a few
//! ulp over the clamped range, far inside the kernels' 1e-5 tolerance against the f64 oracle.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two so `x − n·ln 2` keeps its low bits (Cody–Waite).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2²³: adding it rounds to the nearest integer, which lands in the low mantissa bits.
const ROUND: f32 = 12_582_912.0;
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044715;

/// eˣ, with x clamped to [−87.3, 88] so the result stays a normal, finite f32.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let k = t - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    // Minimax polynomial for eʳ on |r| ≤ ln2/2 (Cephes expf coefficients).
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n + 127) << 23) as u32)
}

/// eˣ − 1, accurate relative to the result near 0 (the series to x⁸ below 1/8, as
/// row_reduce.wgsl's `exp_m1`), branch-free.
#[inline(always)]
pub(crate) fn exp_m1(x: f32) -> f32 {
    let p = 1.0 / 40320.0;
    let p = p * x + 1.0 / 5040.0;
    let p = p * x + 1.0 / 720.0;
    let p = p * x + 1.0 / 120.0;
    let p = p * x + 1.0 / 24.0;
    let p = p * x + 1.0 / 6.0;
    let p = p * x + 0.5;
    let p = p * x + 1.0;
    if x.abs() < 0.125 { p * x } else { exp(x) - 1.0 }
}

/// 1 / (1 + e⁻ˣ).
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// The tanh-approximated GELU, written as x·σ(2u) with u = √(2/π)(x + 0.044715x³), which
/// equals 0.5·x·(1 + tanh u).
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    x * sigmoid(2.0 * u)
}

/// d gelu / dx = σ + 2x·σ(1 − σ)·u′.
#[inline(always)]
pub(crate) fn gelu_grad(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
    let s = sigmoid(2.0 * u);
    s + 2.0 * x * s * (1.0 - s) * du
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_within_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst:e}");
        assert_eq!(exp(f32::NEG_INFINITY), exp(-87.3));
        assert!(exp(f32::INFINITY).is_finite());
    }

    #[test]
    fn gelu_and_its_gradient_match_the_tanh_form() {
        for i in -400..400 {
            let x = i as f64 * 0.025;
            let t = (0.797_884_560_802_865_4 * (x + 0.044715 * x * x * x)).tanh();
            let g = 0.5 * x * (1.0 + t);
            let dg =
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.797_884_560_802_865_4 * (1.0 + 3.0 * 0.044715 * x * x);
            assert!((gelu(x as f32) as f64 - g).abs() < 2e-6 * (1.0 + g.abs()), "gelu({x})");
            assert!((gelu_grad(x as f32) as f64 - dg).abs() < 2e-6 * (1.0 + dg.abs()), "gelu'({x})");
        }
    }
}
