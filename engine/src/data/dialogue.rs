//! A procedural finetuning domain outside the four of the mixture: question-and-answer
//! dialogue over the same invented words. It shares their vocabulary and bytes (so
//! pretraining helps) but not their structure (speaker tags, questions answered by repeating
//! their words), so finetuning on it pulls a small model away from what it learnt before: the
//! forgetting that a forgetting sweep measures. It travels as a text domain (`dialogue`) that any run can name
//! without a file: `resolve_texts` regenerates it from its reference.

use crate::data::TextDomain;
use crate::data::domains::Lexicon;
use crate::error::Result;
use crate::rng::Rng;

/// The name the dialogue domain goes by in mixtures and loss columns.
pub const DIALOGUE: &str = "dialogue";

/// Seed of the dialogue text: fixed, so its reference (size and fingerprint) names one text.
const DIALOGUE_SEED: u64 = 0xD1A1_0605;

/// `bytes` bytes of dialogue (cut at exactly that length), as a text domain.
pub fn dialogue(bytes: usize) -> Result<TextDomain> {
    let lexicon = Lexicon::new(DIALOGUE_SEED, 400);
    let mut rng = Rng::new(DIALOGUE_SEED ^ 0x5EED);
    let mut out = String::with_capacity(bytes + 256);
    while out.len() < bytes {
        exchange(&lexicon, &mut rng, &mut out);
    }
    out.truncate(bytes);
    TextDomain::new(DIALOGUE, out.into_bytes())
}

fn word(lx: &Lexicon, rng: &mut Rng) -> String {
    lx.word(lx.zipf_word(rng)).to_string()
}

/// One question and its answer; the answer repeats the question's words, as replies do, so
/// a model that reads the question can predict much of the answer.
fn exchange(lx: &Lexicon, rng: &mut Rng, out: &mut String) {
    let (a, b, c) = (word(lx, rng), word(lx, rng), word(lx, rng));
    let n = rng.range(2, 40);
    let (q, r) = match rng.below(4) {
        0 => (format!("where is {a}?"), format!("{a} is in {b}, near {c}.")),
        1 => (format!("who saw {a}?"), format!("{b} saw {a} with {c}.")),
        2 => (format!("how many {a} does {b} have?"), format!("{b} has {n} {a}.")),
        _ => (
            format!("is {a} {b}?"),
            if rng.below(2) == 0 { format!("yes, {a} is {b}.") } else { format!("no, {a} is {c}.") },
        ),
    };
    out.push_str(&format!("Q: {q}\nA: {r}\n"));
    if rng.below(5) == 0 {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialogue_is_deterministic_tagged_and_exactly_sized() {
        let a = dialogue(6000).expect("dialogue");
        let b = dialogue(6000).expect("dialogue");
        assert_eq!(a.reference(), b.reference());
        assert_eq!(a.len(), 6000);
        assert_eq!(a.name(), DIALOGUE);
        let (train, _) = a.split();
        let text = String::from_utf8_lossy(train);
        assert!(text.starts_with("Q: "), "{}", &text[..40]);
        assert!(text.contains("\nA: "));
        let capitals: std::collections::BTreeSet<u8> = text.bytes().filter(u8::is_ascii_uppercase).collect();
        assert_eq!(capitals, [b'A', b'Q'].into(), "the speaker tags are its only capitals");
        assert_ne!(dialogue(6001).expect("dialogue").reference().fingerprint, a.reference().fingerprint);
    }
}
