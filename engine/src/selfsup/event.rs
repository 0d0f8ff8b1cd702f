//! The progress events every self-supervised run reports.

/// Progress of a self-supervised run (poly-view or BYOL), for progress bars and live curves.
#[derive(Clone, Debug)]
pub enum SelfsupEvent {
    /// Built; `params` weights.
    Started {
        /// Encoder and head parameters.
        params: usize,
    },
    /// After optimiser step `step` (1-based); `loss` when it was read back.
    Step {
        /// Steps done.
        step: usize,
        /// Mean loss of this step, when read.
        loss: Option<f32>,
    },
    /// A linear probe's held-out accuracy.
    Probe {
        /// Steps done when it was taken (0: before training).
        step: usize,
        /// Test accuracy (of the online encoder, for BYOL).
        accuracy: f64,
        /// BYOL: the target encoder's test accuracy at the same step (poly-view: none).
        target: Option<f64>,
    },
}
