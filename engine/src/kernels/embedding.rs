//! Launchers for `shaders/embedding.wgsl`: lookup by id and the gradient scatter.

use crate::cpu;
use crate::error::Result;
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_dtype, expect_shape, groups_for, u32_of};
use crate::recorder::{Exec, Recorder};
use crate::tensor::{DType, Tensor};

const FORWARD: KernelSpec = KernelSpec {
    shader: "embedding",
    entry: "embedding_forward",
    storage: &[(1, Access::Read), (2, Access::Read), (3, Access::ReadWrite)],
};
const BACKWARD: KernelSpec = KernelSpec {
    shader: "embedding",
    entry: "embedding_backward",
    storage: &[(1, Access::Read), (4, Access::Read), (5, Access::ReadWrite)],
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    dim: u32,
    vocab: u32,
    accumulate: u32,
}

fn setup(op: &'static str, ids: &Tensor, table: &Tensor, rows_t: &Tensor, accumulate: bool) -> Result<Params> {
    expect_dtype(op, "ids", ids, DType::U32)?;
    let (vocab, dim) = match table.shape() {
        [v, d] => (*v, *d),
        s => return Err(crate::Error::shape(op, "table", &[0, 0], s)),
    };
    expect_shape(op, "rows", rows_t, &[ids.len(), dim])?;
    Ok(Params {
        rows: u32_of(op, "rows", ids.len())?,
        dim: u32_of(op, "dim", dim)?,
        vocab: u32_of(op, "vocab", vocab)?,
        accumulate: accumulate as u32,
    })
}

/// `out[r] (+)= table[ids[r]]`; `out` is (ids.len(), dim).
pub fn embedding_forward(
    rec: &mut Recorder,
    ids: &Tensor,
    table: &Tensor,
    out: &Tensor,
    accumulate: bool,
) -> Result<()> {
    const OP: &str = "embedding_forward";
    let p = setup(OP, ids, table, out, accumulate)?;
    match rec.exec(OP, &[ids, table, out])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), out.len(), 256);
            g.dispatch(&FORWARD, &[], &p, &[ids.binding()?, table.binding()?, out.binding()?], groups)
        }
        Exec::Cpu => cpu::embedding::forward(ids, table, out, p.dim as usize, accumulate),
    }
}

/// `dtable[ids[r]] += dout[r]` for every row, deterministic.
pub fn embedding_backward(rec: &mut Recorder, ids: &Tensor, dout: &Tensor, dtable: &Tensor) -> Result<()> {
    const OP: &str = "embedding_backward";
    let p = setup(OP, ids, dtable, dout, true)?;
    match rec.exec(OP, &[ids, dout, dtable])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), dtable.len(), 256);
            g.dispatch(&BACKWARD, &[], &p, &[ids.binding()?, dout.binding()?, dtable.binding()?], groups)
        }
        Exec::Cpu => cpu::embedding::backward(ids, dout, dtable, p.dim as usize),
    }
}
