//! `sigmix bench attention --backend cuda`: the CUDA kernels (FlashSigmoid and the softmax
//! flash baseline, tensor cores) on the first NVIDIA card, on the same shapes as the WGSL rows,
//! timed with CUDA events; TFLOP/s and the sigmoid/softmax speed ratio.

use sigmix::Result;
use sigmix::cuda::{Cuda, CudaAttnBuffers, CudaInfo, Precision};
use sigmix::kernels::attention::{AttnKind, AttnLayout, AttnOpts};
use sigmix::rng::Rng;

use super::attention::Shapes;

/// One CUDA attention row.
#[derive(serde::Serialize, Debug)]
pub struct CudaAttnRow {
    n: usize,
    d: usize,
    batch: usize,
    heads: usize,
    causal: bool,
    precision: Precision,
    /// Forward, backward and forward+backward milliseconds.
    sigmoid_ms: [f64; 3],
    softmax_ms: [f64; 3],
    /// TFLOP/s of forward, backward, both (FLOPs as in the WGSL rows).
    sigmoid_tflops: [f64; 3],
    softmax_tflops: [f64; 3],
    /// softmax time / sigmoid time: > 1 means sigmoid is faster.
    speedup: [f64; 3],
}

/// The card and its rows.
#[derive(serde::Serialize, Debug)]
pub struct CudaReport {
    device: CudaInfo,
    label: String,
    rows: Vec<CudaAttnRow>,
}

/// Seconds each timing aims for (after a warm-up call).
const BUDGET: f64 = 0.25;

fn times(cuda: &Cuda, bufs: &mut CudaAttnBuffers, kind: AttnKind, causal: bool) -> Result<[f64; 3]> {
    let opts = AttnOpts { kind, causal, alibi: false, bias: None, tile: None };
    let fwd = cuda.time(BUDGET, || bufs.forward(cuda, &opts))?;
    // The backward reads the forward's O (and LSE): one forward first, then the backward alone.
    bufs.forward(cuda, &opts)?;
    let bwd = cuda.time(BUDGET, || bufs.backward(cuda, &opts))?;
    let both = cuda.time(BUDGET, || {
        bufs.forward(cuda, &opts)?;
        bufs.backward(cuda, &opts)
    })?;
    Ok([fwd, bwd, both])
}

/// Runs every n in `ns`, d ∈ {64, 128}, full and causal, in each precision.
pub fn bench(cuda: &Cuda, ns: &[usize], shapes: Shapes, precisions: &[Precision]) -> Result<CudaReport> {
    eprintln!("benchmarking CUDA on {} …", cuda.label());
    let mut rng = Rng::new(3);
    let mut rows = Vec::new();
    for &precision in precisions {
        for &n in ns {
            for d in [64, 128] {
                let (batch, heads) = shapes.dims(n, d);
                let layout = AttnLayout::packed(batch, heads, n, d);
                let one = batch * heads * n * d;
                let qkv = rng.uniform_vec(3 * one, -1.0, 1.0);
                let dout = rng.uniform_vec(one, -1.0, 1.0);
                let mut bufs = CudaAttnBuffers::new(cuda, precision, layout, &qkv, &dout)?;
                for causal in [false, true] {
                    let sig = times(cuda, &mut bufs, AttnKind::Sigmoid, causal)?;
                    let soft = times(cuda, &mut bufs, AttnKind::Softmax, causal)?;
                    let flops = Shapes::flops(batch, heads, n, d, causal);
                    let rate = |s: &[f64; 3]| [0, 1, 2].map(|i| flops[i] / s[i] / 1e12);
                    rows.push(CudaAttnRow {
                        n,
                        d,
                        batch,
                        heads,
                        causal,
                        precision,
                        sigmoid_ms: sig.map(|s| s * 1e3),
                        softmax_ms: soft.map(|s| s * 1e3),
                        sigmoid_tflops: rate(&sig),
                        softmax_tflops: rate(&soft),
                        speedup: [0, 1, 2].map(|i| soft[i] / sig[i]),
                    });
                }
            }
        }
    }
    Ok(CudaReport { device: cuda.info().clone(), label: cuda.label(), rows })
}

/// Prints the rows as a Markdown table.
pub fn print_table(report: &CudaReport) {
    println!("\n{}", report.label);
    println!(
        "| n | d | B×H | mask | type | sigmoid fwd / bwd / both (TFLOP/s) | softmax fwd / bwd / both (TFLOP/s) | sigmoid speed-up fwd / bwd / both |"
    );
    println!("|---:|---:|---:|---|---|---|---|---|");
    for r in &report.rows {
        let t = |v: &[f64; 3]| format!("{:.1} / {:.1} / {:.1}", v[0], v[1], v[2]);
        println!(
            "| {} | {} | {}×{} | {} | {} | {} | {} | {:.2}× / {:.2}× / {:.2}× |",
            r.n,
            r.d,
            r.batch,
            r.heads,
            if r.causal { "causal" } else { "full" },
            r.precision.name(),
            t(&r.sigmoid_tflops),
            t(&r.softmax_tflops),
            r.speedup[0],
            r.speedup[1],
            r.speedup[2]
        );
    }
}
