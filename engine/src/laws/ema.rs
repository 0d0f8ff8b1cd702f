//! How to scale your EMA (Busbridge et al. 2023, arXiv 2307.13813): when the batch grows by κ,
//! an EMA θ_ema ← ρθ_ema + (1 − ρ)θ keeps its horizon in samples with ρ̂ = ρ^κ [V]; the
//! optimiser's hyperparameters move with it by the paper's pairing rules ([I] for Adam: the
//! SDE rules of Malladi et al. 2022, as docs/papers.md records them).

/// ρ̂ = ρ^κ. Example: ρ = 0.999, κ = 4 → 0.996006.
pub fn scale_ema(rho: f64, kappa: f64) -> f64 {
    rho.powf(kappa)
}

/// The optimiser whose rule pairs with the EMA rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Optimizer {
    /// SGD (with or without momentum, LARS): η̂ = κη [V for SGD].
    Sgd,
    /// Adam/AdamW: η̂ = √κ·η, 1 − β̂ = κ(1 − β), ε̂ = ε/√κ [I].
    Adam,
}

/// Hyperparameters of one run that the batch-size rule moves.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hyper {
    /// Batch size.
    pub batch: f64,
    /// Learning rate.
    pub lr: f64,
    /// EMA decay ρ.
    pub ema: f64,
    /// Adam's β1 (ignored for SGD).
    pub beta1: f64,
    /// Adam's β2 (ignored for SGD).
    pub beta2: f64,
    /// Adam's ε (ignored for SGD).
    pub eps: f64,
}

/// The hyperparameters for batch κB given those for B.
pub fn scale_hyper(h: &Hyper, kappa: f64, opt: Optimizer) -> Hyper {
    let ema = scale_ema(h.ema, kappa);
    match opt {
        Optimizer::Sgd => Hyper { batch: kappa * h.batch, lr: kappa * h.lr, ema, ..*h },
        Optimizer::Adam => Hyper {
            batch: kappa * h.batch,
            lr: kappa.sqrt() * h.lr,
            ema,
            beta1: (1.0 - kappa * (1.0 - h.beta1)).max(0.0),
            beta2: (1.0 - kappa * (1.0 - h.beta2)).max(0.0),
            eps: h.eps / kappa.sqrt(),
        },
    }
}
