//! CPU twins of `shaders/elementwise.wgsl`: residual add, bias add, fused bias+GELU and their
//! gradients (tanh-approximated GELU, as in the shader, through the vectorisable `math`).

use rayon::prelude::*;

use crate::cpu::{kernel, rows};
use crate::error::Result;
use crate::tensor::Tensor;

/// Elements per rayon task for streaming loops (big enough to amortise the task).
const CHUNK: usize = 1 << 14;

/// `out = x + y`.
pub(crate) fn add(x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    kernel("add", [x, y], [out], |[x, y], [out]| {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, o)| {
            let base = c * CHUNK;
            for (i, v) in o.iter_mut().enumerate() {
                *v = x[base + i] + y[base + i];
            }
        });
    })
}

/// `out[r, c] = x[r, c] + bias[c]`.
pub(crate) fn bias_add(x: &Tensor, bias: &Tensor, out: &Tensor) -> Result<()> {
    let cols = bias.len().max(1);
    kernel("bias_add", [x, bias], [out], |[x, b], [out]| {
        out.par_chunks_mut(cols).zip(x.par_chunks(cols)).for_each(|(o, xr)| {
            for ((o, x), b) in o.iter_mut().zip(xr).zip(b) {
                *o = x + b;
            }
        });
    })
}

/// `pre = x + bias`, `out = gelu(pre)`.
pub(crate) fn bias_gelu(x: &Tensor, bias: &Tensor, out: &Tensor, pre: &Tensor) -> Result<()> {
    let cols = bias.len().max(1);
    kernel("bias_gelu", [x, bias], [out, pre], |[x, b], [out, pre]| {
        out.par_chunks_mut(cols).zip(pre.par_chunks_mut(cols)).zip(x.par_chunks(cols)).for_each(|((o, p), xr)| {
            rows::bias_gelu(xr, b, o, p);
        });
    })
}

/// `dpre = dout · gelu'(pre)`.
pub(crate) fn gelu_backward(pre: &Tensor, dout: &Tensor, dpre: &Tensor) -> Result<()> {
    kernel("gelu_backward", [pre, dout], [dpre], |[pre, dout], [dpre]| {
        dpre.par_chunks_mut(CHUNK).enumerate().for_each(|(c, d)| {
            let base = c * CHUNK;
            rows::gelu_backward(&pre[base..base + d.len()], &dout[base..base + d.len()], d);
        });
    })
}

/// `dbias[c] += Σ_r dy[r, c]`, summed in row order for every column (deterministic).
pub(crate) fn bias_grad(dy: &Tensor, dbias: &Tensor, cols: usize) -> Result<()> {
    kernel("bias_grad", [dy], [dbias], |[dy], [db]| {
        // Columns in parallel blocks; each block walks the rows, so reads stay sequential
        // within a row segment.
        const COLS_PER_TASK: usize = 64;
        db.par_chunks_mut(COLS_PER_TASK).enumerate().for_each(|(blk, d)| {
            let c0 = blk * COLS_PER_TASK;
            for row in dy.chunks(cols.max(1)) {
                for (v, g) in d.iter_mut().zip(&row[c0..]) {
                    *v += g;
                }
            }
        });
    })
}
