//! CPU twin of `shaders/embedding.wgsl`: lookup by id and the deterministic gradient scatter.

use rayon::prelude::*;

use crate::cpu::kernel;
use crate::error::Result;
use crate::tensor::Tensor;

/// `out[r] (+)= table[ids[r]]`; ids out of range give zeros (as in the shader).
pub(crate) fn forward(ids: &Tensor, table: &Tensor, out: &Tensor, dim: usize, accumulate: bool) -> Result<()> {
    kernel("embedding_forward", [ids, table], [out], |[ids, table], [out]| {
        let ids: &[u32] = bytemuck::cast_slice(ids);
        let vocab = table.len() / dim.max(1);
        out.par_chunks_mut(dim.max(1)).zip(ids.par_iter()).for_each(|(o, &id)| {
            let id = id as usize;
            let src = if id < vocab { Some(&table[id * dim..(id + 1) * dim]) } else { None };
            match (src, accumulate) {
                (Some(s), true) => o.iter_mut().zip(s).for_each(|(o, s)| *o += s),
                (Some(s), false) => o.copy_from_slice(s),
                (None, true) => {}
                (None, false) => o.fill(0.0),
            }
        });
    })
}

/// `dtable[ids[r]] += dout[r]`: rows are grouped by id, then each table row sums its rows in
/// increasing order, so the result does not depend on the thread count.
pub(crate) fn backward(ids: &Tensor, dout: &Tensor, dtable: &Tensor, dim: usize) -> Result<()> {
    kernel("embedding_backward", [ids, dout], [dtable], |[ids, dout], [dtable]| {
        let ids: &[u32] = bytemuck::cast_slice(ids);
        let dim = dim.max(1);
        let vocab = dtable.len() / dim;
        // Counting sort of row indices by id: start[v]..start[v + 1] lists the rows of id v.
        let mut start = vec![0usize; vocab + 1];
        for &id in ids {
            if (id as usize) < vocab {
                start[id as usize + 1] += 1;
            }
        }
        for v in 0..vocab {
            start[v + 1] += start[v];
        }
        let mut fill = start.clone();
        let mut order = vec![0usize; start[vocab]];
        for (r, &id) in ids.iter().enumerate() {
            let id = id as usize;
            if id < vocab {
                order[fill[id]] = r;
                fill[id] += 1;
            }
        }
        dtable.par_chunks_mut(dim).enumerate().for_each(|(v, d)| {
            for &r in &order[start[v]..start[v + 1]] {
                d.iter_mut().zip(&dout[r * dim..(r + 1) * dim]).for_each(|(d, g)| *d += g);
            }
        });
    })
}
