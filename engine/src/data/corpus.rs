//! The generated corpora of all domains, split into training and held-out text.

use crate::data::TextDomain;
use crate::data::domains::{DOMAINS, Lexicon};

/// Train and eval bytes per domain, regenerated identically from the seed.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Domain names, in mixture order.
    pub names: Vec<String>,
    /// Training bytes per domain.
    pub train: Vec<Vec<u8>>,
    /// Held-out bytes per domain (generated from a different stream: no overlap).
    pub eval: Vec<Vec<u8>>,
}

impl Corpus {
    /// The built-in domains: `train_bytes` and `eval_bytes` of each.
    pub fn builtin(seed: u64, train_bytes: usize, eval_bytes: usize) -> Corpus {
        let lexicon = Lexicon::new(seed, 400);
        let mut c = Corpus { names: Vec::new(), train: Vec::new(), eval: Vec::new() };
        for (i, d) in DOMAINS.iter().enumerate() {
            let s = seed.wrapping_mul(31).wrapping_add(i as u64 * 1000);
            c.names.push(d.name().to_string());
            c.train.push(d.generate(&lexicon, s + 1, train_bytes).into_bytes());
            c.eval.push(d.generate(&lexicon, s + 2, eval_bytes).into_bytes());
        }
        c
    }

    /// The built-in domains, then each of `texts` (its training part, and its last tenth
    /// held out).
    pub fn with_texts(seed: u64, train_bytes: usize, eval_bytes: usize, texts: &[TextDomain]) -> Corpus {
        let mut c = Self::builtin(seed, train_bytes, eval_bytes);
        for t in texts {
            let (train, eval) = t.split();
            c.names.push(t.name().to_string());
            c.train.push(train.to_vec());
            c.eval.push(eval.to_vec());
        }
        c
    }

    /// Number of domains.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no domains.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Entropy (nats per byte) of the byte unigram distribution of the mixture `h` of the
    /// training text: the loss of the best model that ignores context.
    pub fn unigram_entropy(&self, h: &[f64]) -> f64 {
        let mut p = [0.0f64; 256];
        for (text, w) in self.train.iter().zip(h) {
            let n = text.len().max(1) as f64;
            for &b in text {
                p[b as usize] += w / n;
            }
        }
        let total: f64 = p.iter().sum();
        p.iter().filter(|v| **v > 0.0).map(|v| v / total).map(|q| -q * q.ln()).sum()
    }
}
