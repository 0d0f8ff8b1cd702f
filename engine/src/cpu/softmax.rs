//! CPU twin of `shaders/softmax.wgsl`: scaled, optionally causal row softmax and its gradient.

use rayon::prelude::*;

use crate::cpu::{kernel, rows, rows_per_task};
use crate::error::Result;
use crate::ops::softmax::SoftmaxOpts;
use crate::tensor::Tensor;

/// Keys row `r` may see: all of them, or under the causal mask those up to its query
/// position (queries aligned to the end of the keys), as in the shader.
fn visible(r: usize, cols: usize, o: &SoftmaxOpts) -> usize {
    if o.causal { cols.min(r % o.q_len + 1 + (cols - o.q_len)) } else { cols }
}

/// `y = softmax(scale·x)` per row; masked entries are exactly 0.
pub(crate) fn forward(x: &Tensor, y: &Tensor, cols: usize, o: &SoftmaxOpts) -> Result<()> {
    let rows = x.len() / cols.max(1);
    let per = rows_per_task(rows, cols, 4096);
    kernel("softmax_forward", [x], [y], |[x], [y]| {
        y.par_chunks_mut(per * cols).enumerate().for_each(|(t, yb)| {
            for (k, yr) in yb.chunks_mut(cols).enumerate() {
                let r = t * per + k;
                let xr = &x[r * cols..(r + 1) * cols];
                rows::softmax(xr, o.scale, visible(r, cols, o), yr);
            }
        });
    })
}

/// `dx = scale · y ⊙ (dy − rowsum(y ⊙ dy))`.
pub(crate) fn backward(y: &Tensor, dy: &Tensor, dx: &Tensor, cols: usize, scale: f32) -> Result<()> {
    let rows = y.len() / cols.max(1);
    let per = rows_per_task(rows, cols, 4096);
    kernel("softmax_backward", [y, dy], [dx], |[y, dy], [dx]| {
        dx.par_chunks_mut(per * cols).enumerate().for_each(|(t, db)| {
            for (k, dr) in db.chunks_mut(cols).enumerate() {
                let r = t * per + k;
                let (yr, gr) = (&y[r * cols..(r + 1) * cols], &dy[r * cols..(r + 1) * cols]);
                rows::softmax_backward(yr, gr, scale, dr);
            }
        });
    })
}
