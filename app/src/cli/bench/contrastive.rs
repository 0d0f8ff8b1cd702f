//! `sigmix bench contrastive`: the tiled contrastive loss (forward, backward, both) against one
//! (B·M)×d · d×(B·M) matmul and a materialised version, with the memory each needs.

use sigmix::kernels::contrastive::{
    ContrastiveLoss, ContrastiveOpts, ContrastiveShape, ContrastiveState, contrastive_backward, contrastive_forward,
};
use sigmix::kernels::matmul::{MatmulLayout, Strides, matmul_strided};
use sigmix::kernels::softmax::{SoftmaxOpts, softmax_forward};
use sigmix::rng::Rng;
use sigmix::{DType, Device, Recorder, Result, Tensor};

use super::harness::{Workload, time, time_interleaved};

/// Embedding width and views of every row (the benchmark point: d = 128).
const DIM: usize = 128;
const VIEWS: usize = 4;
/// Largest similarity block the matmul and materialised rows allocate.
const BLOCK_BYTES: u64 = 256 << 20;

/// One benchmark row.
#[derive(serde::Serialize, Debug)]
pub struct ContrastiveRow {
    rows: usize,
    dim: usize,
    views: usize,
    /// Tiled forward, backward and forward+backward, milliseconds.
    tiled_ms: [f64; 3],
    /// Memory of the tiled loss, measured: its tensors (input, gradient and state) plus the
    /// most working memory its kernels held at once (`scratch_mib`).
    tiled_mib: f64,
    /// The kernels' working memory beyond tensors at its peak (the CPU backend's accumulators
    /// and similarity tiles; 0 on a GPU).
    scratch_mib: f64,
    /// One N×d · d×N product with both operands read from a stored Zᵀ (computed in
    /// `matmul_blocks` row blocks when N×N is too large).
    matmul_ms: f64,
    /// The same product from Z's rows, Zᵀ as a view (no transposed copy).
    matmul_view_ms: f64,
    matmul_blocks: usize,
    /// Tiled forward+backward time over the faster of the two matmuls.
    ratio: f64,
    /// Materialised S = Z·Zᵀ, row softmax, P·Z (the cost shape of a plain implementation),
    /// when its two N×N buffers fit.
    materialised_ms: Option<f64>,
    materialised_mib: f64,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Where the matmul reads its operands: both from Zᵀ stored as a d×N tensor (Z as a view of it,
/// Zᵀ itself: runs along N on both sides, which the wide kernel reads as vec4s), or both from Z
/// (Zᵀ as a view: what S = Z·Zᵀ costs without a transposed copy).
enum Operands<'a> {
    TransposedCopy(&'a Tensor),
    Rows(&'a Tensor),
}

/// The output block of the matmuls: as many rows of N×N as fit `BLOCK_BYTES`.
fn similarity_block(device: &Device, n: usize) -> Result<Tensor> {
    let limit = BLOCK_BYTES.min(device.max_tensor_bytes());
    let rows_per_block = ((limit / (4 * n as u64)) as usize).clamp(1, n);
    Tensor::empty(device, "similarity block", &[rows_per_block, n], DType::F32)
}

/// One N×d · d×N product, in row blocks of `out`, and how many blocks that takes.
fn matmul_workload<'a>(operands: Operands<'a>, out: &'a Tensor, n: usize) -> (Workload<'a>, usize) {
    let rows_per_block = out.shape()[0];
    let blocks = n.div_ceil(rows_per_block);
    // (tensor, A's step along m, along k; B's step along k, along n)
    let (t, a_steps, b_steps) = match operands {
        Operands::TransposedCopy(zt) => (zt, (1, n), (n, 1)),
        Operands::Rows(z) => (z, (DIM, 1), (1, DIM)),
    };
    let work = Box::new(move |rec: &mut Recorder| {
        for block in 0..blocks {
            let r0 = block * rows_per_block;
            let l = MatmulLayout {
                m: rows_per_block.min(n - r0),
                n,
                k: DIM,
                batch: (1, 1),
                a: Strides { offset: r0 * a_steps.0, row: a_steps.0, col: a_steps.1, batch1: 0, batch2: 0 },
                b: Strides { offset: 0, row: b_steps.0, col: b_steps.1, batch1: 0, batch2: 0 },
                c: Strides { offset: 0, row: n, col: 1, batch1: 0, batch2: 0 },
                alpha: 1.0,
                accumulate: false,
            };
            matmul_strided(rec, t, t, out, &l)?;
        }
        Ok(())
    });
    (work, blocks)
}

fn materialised_ms(device: &Device, z: &Tensor, dx: &Tensor, n: usize) -> Result<Option<f64>> {
    if (4 * n * n) as u64 > BLOCK_BYTES.min(device.max_tensor_bytes()) {
        return Ok(None);
    }
    let s = Tensor::empty(device, "similarities", &[n, n], DType::F32)?;
    let p = Tensor::empty(device, "probabilities", &[n, n], DType::F32)?;
    let zt = Strides { offset: 0, row: 1, col: DIM, batch1: 0, batch2: 0 };
    let rows = |cols: usize| Strides { offset: 0, row: cols, col: 1, batch1: 0, batch2: 0 };
    let zzt =
        MatmulLayout { m: n, n, k: DIM, batch: (1, 1), a: rows(DIM), b: zt, c: rows(n), alpha: 1.0, accumulate: false };
    let pz = MatmulLayout { m: n, n: DIM, k: n, batch: (1, 1), a: rows(n), b: rows(DIM), c: rows(DIM), ..zzt };
    let sm = SoftmaxOpts { scale: 5.0, causal: false, q_len: n };
    let t = time(device, |rec| {
        matmul_strided(rec, z, z, &s, &zzt)?;
        softmax_forward(rec, &s, &p, sm)?;
        matmul_strided(rec, &p, z, dx, &pz)
    })?;
    Ok(Some(1e3 * t))
}

/// Runs the benchmark at each B·M in `ns` (d = 128, M = 4, geometric loss, τ = 0.2).
pub fn bench_contrastive(device: &Device, ns: &[usize]) -> Result<Vec<ContrastiveRow>> {
    let mut rng = Rng::new(5);
    let mut out = Vec::new();
    for &n in ns {
        let shape = ContrastiveShape { samples: n.div_ceil(VIEWS).max(2), views: VIEWS, dim: DIM };
        let n = shape.rows();
        let before = device.bytes_created();
        let x = Tensor::from_f32(device, "embeddings", &[n, DIM], &rng.uniform_vec(n * DIM, -1.0, 1.0))?;
        let dx = Tensor::empty(device, "embedding gradient", &[n, DIM], DType::F32)?;
        let st = ContrastiveState::new(device, shape)?;
        let tensor_bytes = device.bytes_created() - before;
        let o = ContrastiveOpts { loss: ContrastiveLoss::Geometric, temperature: 0.2 };
        // Timed in interleaved rounds, so the ratio's two sides see the same machine.
        let zt = Tensor::from_f32(device, "embeddings transposed", &[DIM, n], &rng.uniform_vec(n * DIM, -1.0, 1.0))?;
        let block = similarity_block(device, n)?;
        let (matmul, matmul_blocks) = matmul_workload(Operands::TransposedCopy(&zt), &block, n);
        let (matmul_view, _) = matmul_workload(Operands::Rows(&st.z), &block, n);
        let mut work: [Workload<'_>; 5] = [
            Box::new(|rec: &mut Recorder| contrastive_forward(rec, &x, &st, &shape, &o)),
            Box::new(|rec: &mut Recorder| contrastive_backward(rec, &st, &dx, &shape, &o)),
            Box::new(|rec: &mut Recorder| {
                contrastive_forward(rec, &x, &st, &shape, &o)?;
                contrastive_backward(rec, &st, &dx, &shape, &o)
            }),
            matmul,
            matmul_view,
        ];
        device.reset_scratch_peak();
        let ms: Vec<f64> = time_interleaved(device, &mut work)?.into_iter().map(|s| 1e3 * s).collect();
        let scratch = device.scratch_peak_bytes();
        drop(work);
        drop(block); // frees the similarity block before the materialised loss allocates its own
        let (tiled_ms, matmul_ms, matmul_view_ms) = ([ms[0], ms[1], ms[2]], ms[3], ms[4]);
        out.push(ContrastiveRow {
            rows: n,
            dim: DIM,
            views: VIEWS,
            tiled_ms,
            tiled_mib: mib(tensor_bytes + scratch),
            scratch_mib: mib(scratch),
            matmul_ms,
            matmul_view_ms,
            matmul_blocks,
            ratio: tiled_ms[2] / matmul_ms.min(matmul_view_ms),
            materialised_ms: materialised_ms(device, &st.z, &dx, n)?,
            materialised_mib: mib(2 * 4 * (n * n) as u64),
        });
    }
    Ok(out)
}

/// Three significant digits (tiny shapes take microseconds and kilobytes).
fn sig3(v: f64) -> String {
    if v > 0.0 && v < 1e-3 {
        return format!("{v:.2e}");
    }
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else if v >= 1.0 {
        2
    } else {
        3
    };
    format!("{v:.decimals$}")
}

/// Prints the rows as a Markdown table.
pub fn print_table(rows: &[ContrastiveRow]) {
    println!(
        "| B·M | d | M | tiled fwd / bwd / both (ms) | tiled memory (MiB; scratch) | N×d·d×N matmul (ms): from Zᵀ / from Z | both / matmul | materialised (ms) | materialised N×N (MiB) |"
    );
    println!("|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let t = r.tiled_ms.map(sig3);
        let blocks = if r.matmul_blocks > 1 { format!(" ({} blocks)", r.matmul_blocks) } else { String::new() };
        let mat = r.materialised_ms.map_or("over the buffer limit".to_string(), sig3);
        println!(
            "| {} | {} | {} | {} / {} / {} | {} ({}) | {} / {}{blocks} | {:.2}× | {mat} | {} |",
            r.rows,
            r.dim,
            r.views,
            t[0],
            t[1],
            t[2],
            sig3(r.tiled_mib),
            sig3(r.scratch_mib),
            sig3(r.matmul_ms),
            sig3(r.matmul_view_ms),
            r.ratio,
            sig3(r.materialised_mib)
        );
    }
}
