//! Host memory the CPU kernels work in beyond their tensors (accumulators, similarity tiles),
//! counted while it lives, so a benchmark can print a kernel's whole footprint and not only
//! the tensors it was given.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};

/// Scratch bytes alive now, and the most alive at once since the last reset (process-wide:
/// every CPU device shares the host's memory).
static IN_USE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

/// A zero-filled f32 buffer whose bytes count as scratch until it is dropped.
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    /// `len` zeros, counted.
    pub(crate) fn zeros(len: usize) -> Scratch {
        let now = IN_USE.fetch_add(bytes(len), Ordering::Relaxed) + bytes(len);
        PEAK.fetch_max(now, Ordering::Relaxed);
        Scratch(vec![0.0; len])
    }
}

fn bytes(len: usize) -> u64 {
    len as u64 * 4
}

impl Drop for Scratch {
    fn drop(&mut self) {
        IN_USE.fetch_sub(bytes(self.0.len()), Ordering::Relaxed);
    }
}

impl Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

/// The most scratch bytes alive at once since the last `reset_peak`.
pub(crate) fn peak_bytes() -> u64 {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak from what is alive now.
pub(crate) fn reset_peak() {
    PEAK.store(IN_USE.load(Ordering::Relaxed), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_counts_what_was_alive_together() {
        reset_peak();
        let base = peak_bytes();
        {
            let _a = Scratch::zeros(1000);
            let _b = Scratch::zeros(500);
        }
        let _c = Scratch::zeros(100);
        // Other tests may allocate scratch concurrently: the peak covers at least a and b.
        assert!(peak_bytes() >= base + 6000, "peak {} from {base}", peak_bytes());
    }
}
