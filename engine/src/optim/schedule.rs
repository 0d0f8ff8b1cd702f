//! Learning-rate schedule: linear warmup, then cosine decay to a floor.

/// Warmup + cosine.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub lr: f32,
    /// Steps of linear warmup from lr/warmup to lr.
    pub warmup: usize,
    /// Final learning rate as a fraction of the peak.
    pub min_ratio: f32,
}

impl Default for LrSchedule {
    fn default() -> Self {
        LrSchedule { lr: 3e-3, warmup: 20, min_ratio: 0.1 }
    }
}

impl LrSchedule {
    /// Learning rate at 0-based `step` of `total`.
    pub fn at(&self, step: usize, total: usize) -> f32 {
        if step < self.warmup {
            return self.lr * (step + 1) as f32 / self.warmup as f32;
        }
        let span = total.saturating_sub(self.warmup).max(1);
        let progress = ((step - self.warmup) as f32 / span as f32).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f32::consts::PI * progress).cos());
        self.lr * (self.min_ratio + (1.0 - self.min_ratio) * cosine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_to_floor() {
        let s = LrSchedule { lr: 1.0, warmup: 10, min_ratio: 0.1 };
        assert!((s.at(0, 100) - 0.1).abs() < 1e-6);
        assert!((s.at(9, 100) - 1.0).abs() < 1e-6);
        assert!((s.at(10, 100) - 1.0).abs() < 1e-6);
        assert!((s.at(100, 100) - 0.1).abs() < 1e-6);
        assert!(s.at(50, 100) < s.at(30, 100));
    }
}
