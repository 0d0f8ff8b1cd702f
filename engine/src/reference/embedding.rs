//! Reference embedding lookup and gradient.

/// out[r] = table[ids[r]] (0 for ids out of range).
pub fn embedding_forward(ids: &[u32], table: &[f64], dim: usize) -> Vec<f64> {
    let vocab = table.len() / dim;
    ids.iter()
        .flat_map(|&id| {
            let id = id as usize;
            (0..dim).map(move |c| if id < vocab { table[id * dim + c] } else { 0.0 })
        })
        .collect()
}

/// dtable[ids[r]] += dout[r].
pub fn embedding_backward(ids: &[u32], dout: &[f64], vocab: usize, dim: usize) -> Vec<f64> {
    let mut d = vec![0.0; vocab * dim];
    for (r, &id) in ids.iter().enumerate() {
        if (id as usize) < vocab {
            for c in 0..dim {
                d[id as usize * dim + c] += dout[r * dim + c];
            }
        }
    }
    d
}
