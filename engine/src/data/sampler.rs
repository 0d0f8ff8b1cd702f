//! Draws training sequences from the domains in proportion to mixture weights h.

use crate::data::Corpus;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// One batch of token ids and next-token targets, (batch·T) each, plus each row's domain.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Input ids.
    pub tokens: Vec<u32>,
    /// Target ids (inputs shifted by one).
    pub targets: Vec<u32>,
    /// Domain index of each sequence.
    pub domains: Vec<usize>,
}

/// Samples sequences: domain by weight, then a uniform window of that domain's text.
pub struct MixtureSampler {
    weights: Vec<f64>,
    rng: Rng,
}

impl MixtureSampler {
    /// A sampler over `corpus` with weights `h` (normalised here; must be ≥ 0, not all 0).
    pub fn new(corpus: &Corpus, h: &[f64], seed: u64) -> Result<MixtureSampler> {
        if h.len() != corpus.len() {
            return Err(Error::Config(format!(
                "the mixture has {} weights but there are {} domains ({})",
                h.len(),
                corpus.len(),
                corpus.names.join(", ")
            )));
        }
        let total: f64 = h.iter().sum();
        if h.iter().any(|w| !w.is_finite() || *w < 0.0) || total <= 0.0 {
            return Err(Error::Config(format!("mixture weights must be non-negative and not all zero, got {h:?}")));
        }
        Ok(MixtureSampler { weights: h.iter().map(|w| w / total).collect(), rng: Rng::new(seed) })
    }

    /// The normalised weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// `batch` training windows of `context` tokens.
    pub fn sample(&mut self, corpus: &Corpus, batch: usize, context: usize) -> Batch {
        let mut b = Batch::default();
        for _ in 0..batch {
            let d = self.rng.weighted(&self.weights);
            push_window(&corpus.train[d], self.rng.next_u64(), context, &mut b);
            b.domains.push(d);
        }
        b
    }
}

/// Deterministic held-out windows of one domain: `batch` windows spread over its eval text.
pub fn eval_batch(corpus: &Corpus, domain: usize, batch: usize, context: usize, index: usize) -> Batch {
    let mut b = Batch::default();
    for i in 0..batch {
        push_window(&corpus.eval[domain], ((index * batch + i) as u64).wrapping_mul(0x9E37_79B9), context, &mut b);
        b.domains.push(domain);
    }
    b
}

fn push_window(text: &[u8], r: u64, context: usize, b: &mut Batch) {
    let span = text.len().saturating_sub(context + 1).max(1);
    let start = (r % span as u64) as usize;
    for t in 0..context {
        let tok = |i: usize| text.get(i).copied().unwrap_or(b'\n') as u32;
        b.tokens.push(tok(start + t));
        b.targets.push(tok(start + t + 1));
    }
}
