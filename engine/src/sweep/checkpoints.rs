//! The weights a sweep hands from run to run (a distillation sweep's teachers, a forgetting
//! sweep's pretrained models): trained once, kept in memory and (natively) in files beside the
//! sweep's JSONL, so a resumed sweep distils from, or finetunes, the same models without
//! training them again.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::Result;

/// The weights a sweep holds, by run id.
#[derive(Default)]
pub(crate) struct Checkpoints {
    /// Where the weights are kept between calls (`None` in the browser: memory only).
    dir: Option<PathBuf>,
    memory: HashMap<String, Vec<f32>>,
}

impl Checkpoints {
    /// Weights kept in `dir` (and memory), or in memory alone.
    pub(crate) fn new(dir: Option<PathBuf>) -> Checkpoints {
        Checkpoints { dir, memory: HashMap::new() }
    }

    fn file(&self, id: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{id}.f32")))
    }

    /// The weights of run `id`, if held and of the expected `len` (a file of another length
    /// is stale and ignored).
    pub(crate) fn get(&mut self, id: &str, len: usize) -> Option<Vec<f32>> {
        if let Some(w) = self.memory.get(id).filter(|w| w.len() == len) {
            return Some(w.clone());
        }
        let bytes = std::fs::read(self.file(id)?).ok().filter(|b| b.len() == 4 * len)?;
        let w: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        self.memory.insert(id.into(), w.clone());
        Some(w)
    }

    /// Keeps run `id`'s weights: in memory, and written atomically to its file.
    pub(crate) fn keep(&mut self, id: &str, weights: Vec<f32>) -> Result<()> {
        if let Some(path) = self.file(id) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|source| crate::error::Error::Io { path: dir.into(), source })?;
            }
            let bytes: Vec<u8> = weights.iter().flat_map(|v| v.to_le_bytes()).collect();
            crate::files::write_bytes_atomic(&path, &bytes)?;
        }
        self.memory.insert(id.into(), weights);
        Ok(())
    }
}
