//! The EMA scaling rule (Busbridge et al. 2023, arXiv 2307.13813) [V]: when the batch size
//! is scaled by κ, keep the EMA's memory in samples by using ρ̂ = ρ^κ. The EMA update itself
//! is the `ema` kernel in `kernels::optim`.

/// ρ̂ = ρ^κ. Example: ρ = 0.999, κ = 4 → 0.996006.
pub fn scale_ema_decay(rho: f64, kappa: f64) -> f64 {
    rho.powf(kappa)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_papers_example() {
        assert!((super::scale_ema_decay(0.999, 4.0) - 0.996006).abs() < 1e-6);
    }
}
