//! Four procedural text domains that share a vocabulary of invented words, so training on
//! one transfers partly to the others and the mixture matters.
//!
//! - prose: sentences from a word-level Markov chain over a Zipf-distributed vocabulary;
//! - code: nested function bodies with keywords, identifiers from the same words, and braces
//!   that always balance;
//! - arithmetic: additions, subtractions and products with correct results;
//! - records: key=value lines whose names and cities come from the shared words.

use crate::rng::Rng;

/// A built-in domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// Markov-chain prose.
    Prose,
    /// Code-like text with nesting.
    Code,
    /// Arithmetic with correct results.
    Arithmetic,
    /// Key-value records.
    Records,
}

/// All built-in domains, in the order mixture weights refer to them.
pub const DOMAINS: [Domain; 4] = [Domain::Prose, Domain::Code, Domain::Arithmetic, Domain::Records];

impl Domain {
    /// Short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Domain::Prose => "prose",
            Domain::Code => "code",
            Domain::Arithmetic => "arithmetic",
            Domain::Records => "records",
        }
    }

    /// At least `bytes` bytes of this domain's text, deterministic in `seed` and `words`.
    pub fn generate(self, words: &Lexicon, seed: u64, bytes: usize) -> String {
        let mut rng = Rng::new(seed);
        let mut out = String::with_capacity(bytes + 256);
        while out.len() < bytes {
            match self {
                Domain::Prose => prose_sentence(words, &mut rng, &mut out),
                Domain::Code => code_function(words, &mut rng, &mut out),
                Domain::Arithmetic => arithmetic_line(&mut rng, &mut out),
                Domain::Records => record_line(words, &mut rng, &mut out),
            }
        }
        out
    }
}

/// The shared invented vocabulary with Zipf weights and a sparse bigram chain.
pub struct Lexicon {
    words: Vec<String>,
    zipf: Vec<f64>,
    next: Vec<Vec<usize>>,
}

impl Lexicon {
    /// `n` words built from syllables, each with a handful of likely successors.
    pub fn new(seed: u64, n: usize) -> Lexicon {
        const ONSETS: [&str; 16] = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "th"];
        const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
        let mut rng = Rng::new(seed ^ 0xC0FFEE);
        let mut words = Vec::with_capacity(n);
        while words.len() < n {
            let syllables = 1 + rng.below(3);
            let w: String =
                (0..syllables).map(|_| format!("{}{}", ONSETS[rng.below(16)], VOWELS[rng.below(6)])).collect();
            if !words.contains(&w) {
                words.push(w);
            }
        }
        let zipf: Vec<f64> = (0..n).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let next = (0..n).map(|_| (0..6).map(|_| rng.weighted(&zipf)).collect()).collect();
        Lexicon { words, zipf, next }
    }

    pub(crate) fn zipf_word(&self, rng: &mut Rng) -> usize {
        rng.weighted(&self.zipf)
    }

    pub(crate) fn word(&self, i: usize) -> &str {
        &self.words[i]
    }
}

fn prose_sentence(lx: &Lexicon, rng: &mut Rng, out: &mut String) {
    let len = rng.range(4, 12);
    let mut w = lx.zipf_word(rng);
    for i in 0..len {
        let word = lx.word(w);
        if i == 0 {
            let mut c = word.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(word);
        }
        // Mostly follow the chain; sometimes jump, as topics drift.
        w = if rng.uniform() < 0.8 { lx.next[w][rng.below(6)] } else { lx.zipf_word(rng) };
    }
    out.push_str(if rng.uniform() < 0.85 { ". " } else { "? " });
    if rng.uniform() < 0.15 {
        out.push('\n');
    }
}

fn code_block(lx: &Lexicon, rng: &mut Rng, out: &mut String, depth: usize, vars: &mut Vec<String>) {
    let pad = "    ".repeat(depth);
    for _ in 0..rng.range(1, 3) {
        let v = lx.word(lx.zipf_word(rng)).to_string();
        match rng.below(if depth < 3 { 4 } else { 2 }) {
            0 => {
                let src = vars.get(rng.below(vars.len().max(1))).cloned().unwrap_or_else(|| "0".into());
                out.push_str(&format!("{pad}let {v} = {src} + {};\n", rng.below(100)));
                vars.push(v);
            }
            1 => {
                let a = vars.get(rng.below(vars.len().max(1))).cloned().unwrap_or_else(|| "1".into());
                out.push_str(&format!("{pad}{a} = {a} * {};\n", rng.range(2, 9)));
            }
            2 => {
                let a = vars.get(rng.below(vars.len().max(1))).cloned().unwrap_or_else(|| "x".into());
                out.push_str(&format!("{pad}if {a} > {} {{\n", rng.below(50)));
                code_block(lx, rng, out, depth + 1, vars);
                out.push_str(&format!("{pad}}}\n"));
            }
            _ => {
                out.push_str(&format!("{pad}for i in 0..{} {{\n", rng.range(2, 20)));
                code_block(lx, rng, out, depth + 1, vars);
                out.push_str(&format!("{pad}}}\n"));
            }
        }
    }
}

fn code_function(lx: &Lexicon, rng: &mut Rng, out: &mut String) {
    let name = lx.word(lx.zipf_word(rng)).to_string();
    let mut vars: Vec<String> = (0..rng.range(1, 3)).map(|_| lx.word(lx.zipf_word(rng)).to_string()).collect();
    out.push_str(&format!("fn {name}({}) {{\n", vars.join(", ")));
    code_block(lx, rng, out, 1, &mut vars);
    let ret = vars.last().cloned().unwrap_or_default();
    out.push_str(&format!("    return {ret};\n}}\n\n"));
}

fn arithmetic_line(rng: &mut Rng, out: &mut String) {
    let a = rng.below(1000) as i64;
    let b = rng.below(1000) as i64;
    let line = match rng.below(3) {
        0 => format!("{a}+{b}={}\n", a + b),
        1 => format!("{a}-{b}={}\n", a - b),
        _ => {
            let (a, b) = (a % 100, b % 100);
            format!("{a}*{b}={}\n", a * b)
        }
    };
    out.push_str(&line);
}

fn record_line(lx: &Lexicon, rng: &mut Rng, out: &mut String) {
    let name = lx.word(lx.zipf_word(rng));
    let city = lx.word(lx.zipf_word(rng) % 40);
    out.push_str(&format!(
        "id={};name={name};age={};city={city};score={}.{}\n",
        rng.range(1000, 9999),
        rng.range(18, 90),
        rng.below(100),
        rng.below(10)
    ));
}
