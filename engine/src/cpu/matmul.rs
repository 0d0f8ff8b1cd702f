//! CPU twin of `shaders/matmul.wgsl`: the strided, batched product, through the `gemm` crate
//! (packed, cache-blocked, runtime-dispatched SIMD micro-kernels, rayon-parallel).

use rayon::prelude::*;

use crate::cpu::kernel;
use crate::error::Result;
use crate::ops::matmul::MatmulLayout;
use crate::tensor::Tensor;

/// Below this many multiply-adds per batch, batches run in parallel with single-threaded
/// products (many small attention heads); above it, each product is parallel inside.
const SMALL_PRODUCT: usize = 1 << 18;

#[derive(Clone, Copy)]
struct Ptrs {
    a: *const f32,
    b: *const f32,
    c: *mut f32,
}

// SAFETY: batches handed to different tasks write disjoint parts of C (checked by
// `outputs_disjoint` before going parallel); A and B are only read.
unsafe impl Send for Ptrs {}
// SAFETY: as above.
unsafe impl Sync for Ptrs {}

fn base(s: &crate::ops::matmul::Strides, z1: usize, z2: usize) -> usize {
    s.offset + z1 * s.batch1 + z2 * s.batch2
}

/// True when the C blocks of different batches share no element.
fn outputs_disjoint(l: &MatmulLayout) -> bool {
    let span = (l.m - 1) * l.c.row + l.n;
    let mut starts: Vec<usize> =
        (0..l.batch.0).flat_map(|z1| (0..l.batch.1).map(move |z2| base(&l.c, z1, z2))).collect();
    starts.sort_unstable();
    starts.windows(2).all(|w| w[1] >= w[0] + span)
}

/// One product `C[z] = alpha·A[z]·B[z] (+ C[z])`.
///
/// # Safety
/// Every addressed element lies inside the slices the pointers came from (the launcher
/// checks this), and no other task touches this batch's C block.
unsafe fn product(l: &MatmulLayout, p: Ptrs, z1: usize, z2: usize, par: gemm::Parallelism) {
    let (a, b, c) = (base(&l.a, z1, z2), base(&l.b, z1, z2), base(&l.c, z1, z2));
    // SAFETY: per the function's contract.
    unsafe {
        gemm::gemm(
            l.m,
            l.n,
            l.k,
            p.c.add(c),
            1,
            l.c.row as isize,
            l.accumulate,
            p.a.add(a),
            l.a.col as isize,
            l.a.row as isize,
            p.b.add(b),
            l.b.col as isize,
            l.b.row as isize,
            1.0,
            l.alpha,
            false,
            false,
            false,
            par,
        );
    }
}

/// The strided product; the launcher has checked shapes and bounds.
pub(crate) fn matmul(a: &Tensor, b: &Tensor, c: &Tensor, l: &MatmulLayout) -> Result<()> {
    kernel("matmul", [a, b], [c], |[a, b], [c]| {
        let p = Ptrs { a: a.as_ptr(), b: b.as_ptr(), c: c.as_mut_ptr() };
        let batches = l.batch.0 * l.batch.1;
        let work = l.m * l.n * l.k;
        let threads = rayon::current_num_threads();
        if batches > 1 && work < SMALL_PRODUCT && threads > 1 && outputs_disjoint(l) {
            (0..batches).into_par_iter().for_each(|z| {
                let (z1, z2) = (z / l.batch.1, z % l.batch.1);
                // SAFETY: bounds checked by the launcher; batches write disjoint C blocks.
                unsafe { product(l, p, z1, z2, gemm::Parallelism::None) };
            });
        } else {
            let par = if work >= SMALL_PRODUCT && threads > 1 {
                gemm::Parallelism::Rayon(threads)
            } else {
                gemm::Parallelism::None
            };
            for z in 0..batches {
                // SAFETY: bounds checked by the launcher; batches run one after another.
                unsafe { product(l, p, z / l.batch.1, z % l.batch.1, par) };
            }
        }
    })
}

/// A matrix operand of `block_product`: base pointer, row stride and column stride (elements).
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub(crate) ptr: *const f32,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

/// `dst (m×n, row stride dst_rs) = alpha·lhs·rhs (+ dst)`, single-threaded.
///
/// # Safety
/// Every addressed element lies inside its allocation; no other thread writes `dst`'s elements.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn block_product(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
    alpha: f32,
) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // SAFETY: per the function's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.ptr,
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.ptr,
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
