//! The user's own text as a training domain: a file from disk, or one dropped onto the
//! browser page (where it never leaves the visitor's machine). A configuration names the text
//! by a `TextRef` (name, size, fingerprint), so sweep rows stay small and a run can check that
//! it was given the same text; the bytes travel beside the configuration.

use std::sync::Arc;

use crate::data::DOMAINS;
use crate::error::{Error, Result};

/// A text domain: its name (a lowercase identifier) and its bytes.
#[derive(Clone, Debug)]
pub struct TextDomain {
    name: String,
    bytes: Arc<[u8]>,
}

/// How a configuration names a text domain: enough to refuse a different text of the same name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TextRef {
    /// The domain's name (its loss column is `<name>_loss`, its weight `weight_<name>`).
    pub name: String,
    /// Its size in bytes.
    pub bytes: usize,
    /// FNV-1a 64 of its bytes, in hex.
    pub fingerprint: String,
}

impl TextDomain {
    /// The smallest text accepted: its last tenth is held out for evaluation, and both parts
    /// must hold many training windows.
    pub const MIN_BYTES: usize = 4096;

    /// A domain named after `name` (a file name: its stem, lowercased, other characters as
    /// `_`) holding `bytes`.
    pub fn new(name: &str, bytes: Vec<u8>) -> Result<TextDomain> {
        let stem = std::path::Path::new(name).file_stem().map_or(name.into(), |s| s.to_string_lossy());
        let clean: String = stem
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .trim_matches('_')
            .to_string();
        if clean.is_empty() {
            return Err(Error::Config(format!("`{name}`: a text domain needs a name with letters or digits")));
        }
        if DOMAINS.iter().any(|d| d.name() == clean) || clean == "mean" {
            return Err(Error::Config(format!(
                "`{name}`: `{clean}` is a built-in domain's name; rename the file to add it as a domain of its own"
            )));
        }
        if bytes.len() < Self::MIN_BYTES {
            return Err(Error::Config(format!(
                "`{name}` holds {} bytes; a text domain needs at least {} (its last tenth is held out to measure the loss)",
                bytes.len(),
                Self::MIN_BYTES
            )));
        }
        Ok(TextDomain { name: clean, bytes: bytes.into() })
    }

    /// Reads a file as a text domain named after it.
    pub fn read(path: &std::path::Path) -> Result<TextDomain> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Self::new(&path.to_string_lossy(), bytes)
    }

    /// The domain's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it holds no bytes (never, once made).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// How configurations name it.
    pub fn reference(&self) -> TextRef {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.bytes.iter() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        TextRef { name: self.name.clone(), bytes: self.bytes.len(), fingerprint: format!("{h:016x}") }
    }

    /// (training, held-out) bytes: the last tenth is held out.
    pub fn split(&self) -> (&[u8], &[u8]) {
        self.bytes.split_at(self.bytes.len() - Self::held_out(self.bytes.len()))
    }

    /// Bytes held out of a text of `len` bytes: its last tenth.
    pub fn held_out(len: usize) -> usize {
        len / 10
    }
}

/// The texts `refs` names, taken from `given`: each must be there with the same fingerprint.
/// The procedural `dialogue` domain needs no file: when not given, it is generated at the
/// size its reference names.
pub fn resolve_texts(refs: &[TextRef], given: &[TextDomain]) -> Result<Vec<TextDomain>> {
    refs.iter()
        .map(|r| {
            let procedural = || (r.name == crate::data::DIALOGUE).then(|| crate::data::dialogue(r.bytes));
            let t = match given.iter().find(|t| t.name == r.name) {
                Some(t) => t.clone(),
                None => procedural().transpose()?.ok_or_else(|| {
                    Error::Config(format!(
                        "the configuration trains on the text domain `{}` ({} bytes), which was not given: add the file (--text {}.txt, or drop it onto the lab)",
                        r.name, r.bytes, r.name
                    ))
                })?,
            };
            let have = t.reference();
            if have != *r {
                return Err(Error::Config(format!(
                    "the text domain `{}` given ({} bytes, fingerprint {}) is not the one the configuration was made with ({} bytes, fingerprint {})",
                    r.name, have.bytes, have.fingerprint, r.bytes, r.fingerprint
                )));
            }
            Ok(t)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sizes_and_fingerprints_are_checked() {
        let text = |n: usize| (0..n).map(|i| b"abc de\n"[i % 7]).collect::<Vec<u8>>();
        let t = TextDomain::new("My Notes (2024).txt", text(5000)).expect("a fine text");
        assert_eq!(t.name(), "my_notes__2024");
        let (train, eval) = t.split();
        assert_eq!((train.len(), eval.len()), (4500, 500));
        assert!(TextDomain::new("code.txt", text(5000)).is_err(), "a built-in name");
        assert!(TextDomain::new("???.txt", text(5000)).is_err(), "no name");
        let small = TextDomain::new("small.txt", text(100)).expect_err("too small").to_string();
        assert!(small.contains("100 bytes") && small.contains("4096"), "{small}");

        let r = t.reference();
        assert_eq!(resolve_texts(std::slice::from_ref(&r), std::slice::from_ref(&t)).expect("resolves").len(), 1);
        let other = TextDomain::new("my notes (2024).md", text(5001)).expect("same name, other text");
        let e = resolve_texts(std::slice::from_ref(&r), &[other]).expect_err("another text").to_string();
        assert!(e.contains("not the one"), "{e}");
        let e = resolve_texts(&[r], &[]).expect_err("missing").to_string();
        assert!(e.contains("was not given"), "{e}");
    }
}
