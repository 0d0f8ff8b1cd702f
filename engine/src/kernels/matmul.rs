//! Launchers for `shaders/matmul.wgsl`: plain, transposed, batched and fully strided products.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_dtype, u32_of};
pub use crate::ops::matmul::{MatmulLayout, Strides};
use crate::recorder::{Exec, Recorder};
use crate::tensor::{DType, Tensor};

const MATMUL: KernelSpec = KernelSpec {
    shader: "matmul",
    entry: "matmul",
    storage: &[(1, Access::Read), (2, Access::Read), (3, Access::ReadWrite)],
};

const MATMUL_VEC4: KernelSpec = KernelSpec {
    shader: "matmul",
    entry: "matmul_vec4",
    storage: &[(3, Access::ReadWrite), (4, Access::Read), (5, Access::Read)],
};

const MATMUL_WIDE: KernelSpec = KernelSpec {
    shader: "matmul",
    entry: "matmul_wide",
    storage: &[(1, Access::Read), (2, Access::Read), (3, Access::ReadWrite), (4, Access::Read), (5, Access::Read)],
};

/// Outputs per workgroup along each axis (8 invocations × 4 outputs).
const TILE: usize = 32;

/// Rows and columns of C per workgroup of `matmul_wide` (8 × 8 invocations, each 8 × 16).
const WIDE_TILE: (usize, usize) = (64, 128);

/// Whether a product takes `matmul_wide`: C has at least 128 rows and 128 columns, so its
/// 64 × 128 workgroup tiles are mostly full and there are several of them. Its 8 × 16 register
/// tiles load 24 numbers per 128 multiply-adds (12 with B as vec4s), where the 4 × 4 ones load
/// 8 per 16 (or 8 vec4s per 64): 1.25-1.7x the GFLOP/s from 256³ up on lavapipe, 1.1x on
/// SwiftShader (README).
fn wide(l: &MatmulLayout) -> bool {
    l.m >= 128 && l.n >= 128
}

/// Whether `matmul_wide` reads B's 16 columns per step of k as four vec4s: B's rows run along n,
/// aligned (`vec4_layout`), and n is a multiple of 16, so no step reaches past a row's end.
/// (Where B's columns run along k instead, reading four steps at a time and transposing was
/// 1.2-1.8x slower on both software adapters: B stays scalar there.)
fn wide_b_vec4(l: &MatmulLayout) -> bool {
    l.n.is_multiple_of(16) && matches!(vec4_layout(l), Some([_, (_, b)]) if b == 0.0)
}

/// Whether `matmul_wide` reads A's 8 rows per step of k as two vec4s: A's columns run along m
/// (A is a transposed view, e.g. Aᵀ stored), aligned, and m is a multiple of 8.
fn wide_a_vec4(l: &MatmulLayout) -> bool {
    l.m.is_multiple_of(8) && matches!(vec4_layout(l), Some([(_, a), _]) if a == 0.0)
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch2: u32,
    a: [u32; 4],
    b: [u32; 4],
    c_rs: u32,
    c_bs1: u32,
    c_bs2: u32,
    accumulate: u32,
    alpha: f32,
    offsets: [u32; 3],
}

/// Options of the shaped `matmul`.
#[derive(Clone, Copy, Debug)]
pub struct MatmulOpts {
    /// Use Aᵀ: `a` is stored (…, k, m).
    pub trans_a: bool,
    /// Use Bᵀ: `b` is stored (…, n, k).
    pub trans_b: bool,
    /// Scale on the product.
    pub alpha: f32,
    /// Add into `c` instead of overwriting it.
    pub accumulate: bool,
}

impl Default for MatmulOpts {
    fn default() -> Self {
        MatmulOpts { trans_a: false, trans_b: false, alpha: 1.0, accumulate: false }
    }
}

/// The vec4 kernel's override constants for `l` (A_ALONG_K, B_ALONG_K), or `None` when an
/// operand has no contiguous, 16-byte-aligned run of four along k or along its other axis.
fn vec4_layout(l: &MatmulLayout) -> Option<[(&'static str, f64); 2]> {
    // Every element offset the kernel forms must be a multiple of 4; unused batch strides
    // do not count.
    let aligned = |s: &Strides, other: usize| {
        let b1 = if l.batch.0 > 1 { s.batch1 } else { 0 };
        let b2 = if l.batch.1 > 1 { s.batch2 } else { 0 };
        [s.offset, other, b1, b2].iter().all(|v| v.is_multiple_of(4))
    };
    // Some(true): runs of four along k; Some(false): along the operand's other axis, of
    // length `len`; None: neither.
    let runs = |s: &Strides, k_step: usize, other_step: usize, len: usize| {
        if k_step == 1 && aligned(s, other_step) {
            Some(true)
        } else if other_step == 1 && len.is_multiple_of(4) && aligned(s, k_step) {
            Some(false)
        } else {
            None
        }
    };
    if !l.k.is_multiple_of(4) {
        return None;
    }
    let a_along_k = runs(&l.a, l.a.col, l.a.row, l.m)?;
    let b_along_k = runs(&l.b, l.b.row, l.b.col, l.n)?;
    Some([("A_ALONG_K", a_along_k as u32 as f64), ("B_ALONG_K", b_along_k as u32 as f64)])
}

fn max_index(s: &Strides, rows: usize, cols: usize, batch: (usize, usize)) -> usize {
    s.offset + (batch.0 - 1) * s.batch1 + (batch.1 - 1) * s.batch2 + (rows - 1) * s.row + (cols - 1) * s.col
}

/// `C = alpha·op(A)·op(B) (+ C)` on shaped tensors: A (…, m, k), B (k, n) or (…, k, n), C (…, m, n)
/// where the leading batch dimensions of A and C match and B either matches them or has none.
pub fn matmul(rec: &mut Recorder, a: &Tensor, b: &Tensor, c: &Tensor, o: MatmulOpts) -> Result<()> {
    const OP: &str = "matmul";
    let (sa, sb, sc) = (a.shape(), b.shape(), c.shape());
    if sa.len() < 2 || sb.len() < 2 || sc.len() < 2 {
        return Err(Error::Config(format!("{OP}: operands must be at least 2-D, got {sa:?}, {sb:?}, {sc:?}")));
    }
    let batch_dims = &sa[..sa.len() - 2];
    let batch: usize = batch_dims.iter().product();
    let (ra, ca) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (m, k) = if o.trans_a { (ca, ra) } else { (ra, ca) };
    let (rb, cb) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let n = if o.trans_b { rb } else { cb };
    let want_b_mat = if o.trans_b { [n, k] } else { [k, n] };
    let b_batched = sb.len() > 2;
    let mut want_b: Vec<usize> = if b_batched { batch_dims.to_vec() } else { vec![] };
    want_b.extend_from_slice(&want_b_mat);
    if sb != want_b.as_slice() {
        return Err(Error::shape(OP, "b", &want_b, sb));
    }
    let mut want_c = batch_dims.to_vec();
    want_c.extend_from_slice(&[m, n]);
    if sc != want_c.as_slice() {
        return Err(Error::shape(OP, "c", &want_c, sc));
    }
    let a_str = if o.trans_a {
        Strides { row: 1, col: m, batch1: m * k, batch2: 0, offset: 0 }
    } else {
        Strides { row: k, col: 1, batch1: m * k, batch2: 0, offset: 0 }
    };
    let b_mat = if b_batched { k * n } else { 0 };
    let b_str = if o.trans_b {
        Strides { row: 1, col: k, batch1: b_mat, batch2: 0, offset: 0 }
    } else {
        Strides { row: n, col: 1, batch1: b_mat, batch2: 0, offset: 0 }
    };
    let c_str = Strides { row: n, col: 1, batch1: m * n, batch2: 0, offset: 0 };
    let layout = MatmulLayout {
        m,
        n,
        k,
        batch: (batch, 1),
        a: a_str,
        b: b_str,
        c: c_str,
        alpha: o.alpha,
        accumulate: o.accumulate,
    };
    matmul_strided(rec, a, b, c, &layout)
}

/// The general strided product; checks that every addressed element lies inside its tensor.
pub fn matmul_strided(rec: &mut Recorder, a: &Tensor, b: &Tensor, c: &Tensor, l: &MatmulLayout) -> Result<()> {
    const OP: &str = "matmul";
    for (what, t) in [("a", a), ("b", b), ("c", c)] {
        expect_dtype(OP, what, t, DType::F32)?;
    }
    if l.c.col != 1 {
        return Err(Error::Config(format!("{OP}: the output's column stride must be 1, got {}", l.c.col)));
    }
    if l.m == 0 || l.n == 0 || l.batch.0 == 0 || l.batch.1 == 0 {
        return Ok(());
    }
    if l.k == 0 {
        return Err(Error::Config(format!("{OP}: the shared dimension k is 0")));
    }
    for (what, t, s, rows, cols) in [("a", a, &l.a, l.m, l.k), ("b", b, &l.b, l.k, l.n), ("c", c, &l.c, l.m, l.n)] {
        let need = max_index(s, rows, cols, l.batch) + 1;
        if need > t.len() {
            return Err(Error::shape(OP, format!("{what} (addresses {need} elements)"), &[need], t.shape()));
        }
    }
    let batches = l.batch.0 * l.batch.1;
    let g = match rec.exec(OP, &[a, b, c])? {
        Exec::Gpu(g) => g,
        Exec::Cpu => return cpu::matmul::matmul(a, b, c, l),
    };
    let p = Params {
        m: u32_of(OP, "m", l.m)?,
        n: u32_of(OP, "n", l.n)?,
        k: u32_of(OP, "k", l.k)?,
        batch2: u32_of(OP, "batch", l.batch.1)?,
        a: [l.a.row as u32, l.a.col as u32, l.a.batch1 as u32, l.a.batch2 as u32],
        b: [l.b.row as u32, l.b.col as u32, l.b.batch1 as u32, l.b.batch2 as u32],
        c_rs: l.c.row as u32,
        c_bs1: l.c.batch1 as u32,
        c_bs2: l.c.batch2 as u32,
        accumulate: l.accumulate as u32,
        alpha: l.alpha,
        offsets: [l.a.offset as u32, l.b.offset as u32, l.c.offset as u32],
    };
    let max_wg = g.gpu().limits().max_compute_workgroups_per_dimension as usize;
    let groups = [l.n.div_ceil(TILE), l.m.div_ceil(TILE), batches];
    if groups.iter().any(|g| *g > max_wg) {
        return Err(Error::Config(format!(
            "{OP}: {}×{}×{} batches needs {groups:?} workgroups, over the adapter's {max_wg} per dimension",
            l.m, l.n, batches
        )));
    }
    let grid = [groups[0] as u32, groups[1] as u32, groups[2] as u32];
    if wide(l) {
        let grid = [l.n.div_ceil(WIDE_TILE.1) as u32, l.m.div_ceil(WIDE_TILE.0) as u32, grid[2]];
        let ov = [("WIDE_B_VEC4", wide_b_vec4(l) as u32 as f64), ("WIDE_A_VEC4", wide_a_vec4(l) as u32 as f64)];
        let bindings = [a.binding()?, b.binding()?, c.binding()?, a.binding()?, b.binding()?];
        return g.dispatch(&MATMUL_WIDE, &ov, &p, &bindings, grid);
    }
    match vec4_layout(l) {
        Some(ov) => g.dispatch(&MATMUL_VEC4, &ov, &p, &[c.binding()?, a.binding()?, b.binding()?], grid),
        None => g.dispatch(&MATMUL, &[], &p, &[a.binding()?, b.binding()?, c.binding()?], grid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(m: usize, n: usize, k: usize, ta: bool, tb: bool, batch: usize) -> MatmulLayout {
        let a = if ta {
            Strides { row: 1, col: m, ..Default::default() }
        } else {
            Strides { row: k, col: 1, ..Default::default() }
        };
        let b = if tb {
            Strides { row: 1, col: k, ..Default::default() }
        } else {
            Strides { row: n, col: 1, ..Default::default() }
        };
        let (a, b) = (Strides { batch1: m * k, ..a }, Strides { batch1: k * n, ..b });
        let c = Strides { row: n, col: 1, batch1: m * n, ..Default::default() };
        MatmulLayout { m, n, k, batch: (batch, 1), a, b, c, alpha: 1.0, accumulate: false }
    }

    fn modes(l: &MatmulLayout) -> Option<(bool, bool)> {
        vec4_layout(l).map(|[(_, a), (_, b)]| (a == 1.0, b == 1.0))
    }

    #[test]
    fn the_vec4_kernel_takes_every_transpose_when_rows_are_aligned() {
        // (A along k, B along k): A row-major reads along k, Aᵀ along m; B along n, Bᵀ along k.
        assert_eq!(modes(&layout(36, 44, 20, false, false, 3)), Some((true, false)));
        assert_eq!(modes(&layout(36, 44, 20, true, false, 3)), Some((false, false)));
        assert_eq!(modes(&layout(36, 44, 20, false, true, 3)), Some((true, true)));
        assert_eq!(modes(&layout(36, 44, 20, true, true, 3)), Some((false, true)));
        // Along k, the other axis may be ragged (edge rows and columns are clamped).
        assert_eq!(modes(&layout(37, 29, 20, false, true, 3)), Some((true, true)));
    }

    #[test]
    fn large_products_take_the_wide_tiles_whatever_their_layout() {
        assert!(wide(&layout(128, 128, 1, false, false, 1)));
        assert!(wide(&layout(131, 259, 37, true, true, 3)));
        assert!(!wide(&layout(127, 4096, 64, false, false, 1)), "too few rows");
        assert!(!wide(&layout(4096, 127, 64, false, true, 1)), "too few columns");
    }

    #[test]
    fn the_wide_tiles_read_b_as_vec4s_only_along_whole_rows() {
        assert!(wide_b_vec4(&layout(128, 256, 20, false, false, 2)));
        assert!(wide_b_vec4(&layout(128, 256, 20, true, false, 1)));
        assert!(!wide_b_vec4(&layout(128, 256, 20, false, true, 1)), "Bᵀ runs along k");
        assert!(!wide_b_vec4(&layout(128, 136, 20, false, false, 1)), "n not a multiple of 16");
        assert!(!wide_b_vec4(&layout(128, 256, 18, false, false, 1)), "B's rows not 16-byte aligned");
    }

    #[test]
    fn the_wide_tiles_read_a_as_vec4s_only_along_whole_columns() {
        assert!(wide_a_vec4(&layout(128, 256, 20, true, false, 2)));
        assert!(wide_a_vec4(&layout(136, 128, 20, true, true, 1)));
        assert!(!wide_a_vec4(&layout(128, 256, 20, false, false, 1)), "A's rows run along k");
        assert!(!wide_a_vec4(&layout(132, 256, 20, true, false, 1)), "m not a multiple of 8");
        assert!(!wide_a_vec4(&layout(128, 256, 18, true, false, 1)), "k not a multiple of 4");
    }

    #[test]
    fn misaligned_layouts_take_the_scalar_kernel() {
        assert_eq!(modes(&layout(36, 44, 30, false, false, 1)), None, "k not a multiple of 4");
        assert_eq!(modes(&layout(37, 44, 20, true, false, 1)), None, "Aᵀ needs m a multiple of 4");
        assert_eq!(modes(&layout(36, 45, 20, false, false, 1)), None, "B needs n a multiple of 4");
        let mut l = layout(36, 44, 20, false, false, 1);
        l.a.offset = 2;
        assert_eq!(modes(&l), None, "A's offset is not 16-byte aligned");
        let mut l = layout(36, 44, 20, false, true, 2);
        l.b.batch1 = 20 * 44 + 2;
        assert_eq!(modes(&l), None, "B's batch stride is not 16-byte aligned");
        // An unused batch stride does not count.
        l.batch = (1, 1);
        assert_eq!(modes(&l), Some((true, true)));
    }
}
