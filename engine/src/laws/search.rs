//! One-dimensional minimisation for the laws' optima (the compute-optimal size, the optimal
//! sparsity): golden-section search, one evaluation per iteration.

/// The minimiser of a unimodal `f` on [lo, hi] (golden-section search, 80 iterations: the
/// bracket shrinks by 0.618⁸⁰ ≈ 2e-17).
pub fn golden_min(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let (mut a, mut b) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..80 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = f(b);
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_section_finds_a_parabola_minimum() {
        assert!((golden_min(|x| (x - 1.3).powi(2), -5.0, 5.0) - 1.3).abs() < 1e-6);
    }
}
