//! Launchers for `shaders/moe_matmul.wgsl`: the experts' FFN products over tokens grouped by
//! the routing (`kernels::moe`), forward and weight/bias gradients.

use crate::cpu;
use crate::error::Result;
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, u32_of};
pub use crate::ops::moe::GroupedOpts;
use crate::ops::moe::MoeRouting;
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

/// Parameters of `shaders/moe_matmul.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct GroupedParams {
    rows: u32,
    k_in: u32,
    n: u32,
    experts: u32,
    trans_w: u32,
    accumulate: u32,
    has_bias: u32,
    pad: u32,
}

const fn mm_spec(entry: &'static str, storage: &'static [(u32, Access)]) -> KernelSpec {
    KernelSpec { shader: "moe_matmul", entry, storage }
}
const GROUPED: KernelSpec = mm_spec(
    "moe_matmul",
    &[(1, Access::Read), (2, Access::Read), (3, Access::Read), (4, Access::Read), (5, Access::ReadWrite)],
);
const WGRAD: KernelSpec =
    mm_spec("moe_matmul_wgrad", &[(1, Access::Read), (2, Access::Read), (6, Access::Read), (7, Access::ReadWrite)]);
const BGRAD: KernelSpec = mm_spec("moe_bias_grad", &[(1, Access::Read), (6, Access::Read), (7, Access::ReadWrite)]);
/// 8×16 register tiles (`wide_tiles`); w also as vec4s (9) where its rows run along n.
const GROUPED_WIDE: KernelSpec = mm_spec(
    "moe_matmul_wide",
    &[
        (1, Access::Read),
        (2, Access::Read),
        (3, Access::Read),
        (4, Access::Read),
        (5, Access::ReadWrite),
        (9, Access::Read),
    ],
);
/// The vec4 twins: a (8) and w (9) or b (10) read four elements at a time.
const GROUPED_VEC4: KernelSpec = mm_spec(
    "moe_matmul_vec4",
    &[(1, Access::Read), (4, Access::Read), (5, Access::ReadWrite), (8, Access::Read), (9, Access::Read)],
);
const WGRAD_VEC4: KernelSpec = mm_spec(
    "moe_matmul_wgrad_vec4",
    &[(1, Access::Read), (7, Access::ReadWrite), (8, Access::Read), (10, Access::Read)],
);

/// Whether the grouped product takes `moe_matmul_wide`'s 8×16 tiles: C at least 128 columns
/// wide and at least 128 grouped rows in all (as matmul's wide tiles: smaller products leave
/// too many of a 64 × 128 block's lanes idle).
fn wide_tiles(rows: usize, n: usize) -> bool {
    rows >= 128 && n >= 128
}

fn grouped_params(op: &'static str, r: &MoeRouting, k_in: usize, n: usize, flags: [bool; 3]) -> Result<GroupedParams> {
    Ok(GroupedParams {
        rows: u32_of(op, "rows", r.tokens * r.top_k)?,
        k_in: u32_of(op, "k_in", k_in)?,
        n: u32_of(op, "n", n)?,
        experts: u32_of(op, "experts", r.experts_n)?,
        trans_w: flags[0] as u32,
        accumulate: flags[1] as u32,
        has_bias: flags[2] as u32,
        pad: 0,
    })
}

/// The expert FFN matmul over tokens grouped by `r`: for each grouped row of expert e,
/// c (+)= a · op(W_e) (+ bias_e). `w` is (E, k_in, n), or (E, n, k_in) with `trans_w`;
/// `a` is (T·K, k_in), `c` (T·K, n); rows past the kept total are not touched.
pub fn moe_matmul(
    rec: &mut Recorder,
    a: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    c: &Tensor,
    r: &MoeRouting,
    opts: GroupedOpts,
) -> Result<()> {
    const OP: &str = "moe_matmul";
    let GroupedOpts { trans_w, accumulate } = opts;
    let rows = r.tokens * r.top_k;
    let k_in = a.shape().get(1).copied().unwrap_or(0);
    let n = c.shape().get(1).copied().unwrap_or(0);
    expect_shape(OP, "a", a, &[rows, k_in])?;
    expect_shape(OP, "c", c, &[rows, n])?;
    let w_shape = if trans_w { [r.experts_n, n, k_in] } else { [r.experts_n, k_in, n] };
    expect_shape(OP, "w", w, &w_shape)?;
    if let Some(b) = bias {
        expect_shape(OP, "bias", b, &[r.experts_n, n])?;
    }
    let p = grouped_params(OP, r, k_in, n, [trans_w, accumulate, bias.is_some()])?;
    let mut operands = vec![a, w, c, &r.offsets];
    operands.extend(bias);
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            // Without a bias the bias slot is bound to w (never read: has_bias = 0).
            let bias = bias.unwrap_or(w).binding()?;
            if wide_tiles(rows, n) {
                let groups = [n.div_ceil(128) as u32, rows.div_ceil(64) as u32, p.experts];
                let w_vec4 = !trans_w && n.is_multiple_of(16);
                let ov = [("WIDE_W_VEC4", w_vec4 as u32 as f64)];
                let b = [r.offsets.binding()?, a.binding()?, w.binding()?, bias, c.binding()?, w.binding()?];
                return g.dispatch(&GROUPED_WIDE, &ov, &p, &b, groups);
            }
            let groups = [n.div_ceil(32) as u32, rows.div_ceil(32) as u32, p.experts];
            // Rows of a (and of W where it is read along n) that are multiples of 4: vec4 loads.
            if k_in.is_multiple_of(4) && (trans_w || n.is_multiple_of(4)) {
                let b = [r.offsets.binding()?, bias, c.binding()?, a.binding()?, w.binding()?];
                g.dispatch(&GROUPED_VEC4, &[], &p, &b, groups)
            } else {
                let b = [r.offsets.binding()?, a.binding()?, w.binding()?, bias, c.binding()?];
                g.dispatch(&GROUPED, &[], &p, &b, groups)
            }
        }
        Exec::Cpu => cpu::moe::grouped_matmul(a, w, bias, c, &r.offsets, (k_in, n), opts),
    }
}

/// Weight and bias gradients of the grouped matmul: dw (E, k_in, n) (+)= a_eᵀ · b_e and,
/// when given, db (E, n) (+)= Σ rows of b_e, over each expert's grouped rows.
pub fn moe_matmul_wgrad(
    rec: &mut Recorder,
    a: &Tensor,
    b: &Tensor,
    dw: &Tensor,
    db: Option<&Tensor>,
    r: &MoeRouting,
    accumulate: bool,
) -> Result<()> {
    const OP: &str = "moe_matmul_wgrad";
    let rows = r.tokens * r.top_k;
    let k_in = a.shape().get(1).copied().unwrap_or(0);
    let n = b.shape().get(1).copied().unwrap_or(0);
    expect_shape(OP, "a", a, &[rows, k_in])?;
    expect_shape(OP, "b", b, &[rows, n])?;
    expect_shape(OP, "dw", dw, &[r.experts_n, k_in, n])?;
    if let Some(db) = db {
        expect_shape(OP, "db", db, &[r.experts_n, n])?;
    }
    let p = grouped_params(OP, r, k_in, n, [false, accumulate, false])?;
    let mut operands = vec![a, b, dw, &r.offsets];
    operands.extend(db);
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            let groups = [n.div_ceil(32) as u32, k_in.div_ceil(32) as u32, p.experts];
            if k_in.is_multiple_of(4) && n.is_multiple_of(4) {
                let bind = [r.offsets.binding()?, dw.binding()?, a.binding()?, b.binding()?];
                g.dispatch(&WGRAD_VEC4, &[], &p, &bind, groups)?;
            } else {
                let bind = [r.offsets.binding()?, a.binding()?, b.binding()?, dw.binding()?];
                g.dispatch(&WGRAD, &[], &p, &bind, groups)?;
            }
            if let Some(db) = db {
                let bind = [r.offsets.binding()?, b.binding()?, db.binding()?];
                g.dispatch(&BGRAD, &[], &p, &bind, [n.div_ceil(64) as u32, p.experts, 1])?;
            }
            Ok(())
        }
        Exec::Cpu => {
            cpu::moe::grouped_wgrad(a, b, dw, &r.offsets, k_in, n, accumulate)?;
            match db {
                Some(db) => cpu::moe::bias_grad(b, db, &r.offsets, n, accumulate),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_products_take_the_wide_tiles_only_when_large_both_ways() {
        assert!(wide_tiles(128, 128));
        assert!(wide_tiles(4096, 256));
        assert!(!wide_tiles(127, 4096), "too few grouped rows");
        assert!(!wide_tiles(4096, 64), "C too narrow");
    }
}
