//! `sigmix bench attention`: flash sigmoid vs flash softmax (and the materialised forward)
//! on the same adapter, forward, backward and both, with the sigmoid/softmax speed ratio.

use sigmix::kernels::attention::{AttnKind, AttnLayout, AttnOpts, SoftmaxStats, attention_backward, attention_forward};
use sigmix::kernels::matmul::{MatmulLayout, Strides, matmul_strided};
use sigmix::kernels::softmax::{SoftmaxOpts, softmax_forward};
use sigmix::rng::Rng;
use sigmix::{Device, Recorder, Result, Tensor};

use super::harness::{Workload, time, time_interleaved};

/// How many sequences and heads each benchmark row runs.
#[derive(Clone, Copy, Debug)]
pub struct Shapes {
    /// Tokens per row, B·n (`--tokens`); `None`: B = 1 and H = 4096 / n (4096 query rows).
    pub tokens: Option<usize>,
    /// Model width H·d (`--hidden`), so heads = hidden / d.
    pub hidden: usize,
}

impl Shapes {
    /// (batch, heads) for sequence length n and head dimension d.
    pub fn dims(&self, n: usize, d: usize) -> (usize, usize) {
        match self.tokens {
            Some(tokens) => ((tokens / n).max(1), (self.hidden / d).max(1)),
            None => (1, (4096 / n).max(1)),
        }
    }

    /// FLOPs of forward, backward and both (the FlashAttention convention: 4·B·H·n²·d forward,
    /// 2.5× that backward, halved when causal).
    pub fn flops(batch: usize, heads: usize, n: usize, d: usize, causal: bool) -> [f64; 3] {
        let fwd = 4.0 * (batch * heads) as f64 * (n * n * d) as f64 * if causal { 0.5 } else { 1.0 };
        [fwd, 2.5 * fwd, 3.5 * fwd]
    }
}

/// One attention benchmark row.
#[derive(serde::Serialize, Debug)]
pub struct AttnRow {
    n: usize,
    d: usize,
    batch: usize,
    heads: usize,
    batch_heads: usize,
    causal: bool,
    /// Forward, backward and forward+backward milliseconds: sigmoid then softmax.
    sigmoid_ms: [f64; 3],
    softmax_ms: [f64; 3],
    /// GFLOP/s of forward, backward, both (FLOPs = 4·BH·n²·d forward, 2.5× backward, halved causal).
    sigmoid_gflops: [f64; 3],
    softmax_gflops: [f64; 3],
    /// softmax time / sigmoid time: > 1 means sigmoid is faster.
    speedup: [f64; 3],
    /// Materialised softmax forward (QKᵀ, softmax, PV) and the memory its n×n buffers need.
    materialised_fwd_ms: Option<f64>,
    materialised_mib: f64,
}

/// Forward, backward and both for sigmoid, then for softmax, all six timed in interleaved
/// rounds so the speed-up compares the two kinds under the same machine conditions.
fn flash_times(device: &Device, l: &AttnLayout, causal: bool, t: &Buffers) -> Result<[[f64; 3]; 2]> {
    let opts = [AttnKind::Sigmoid, AttnKind::Softmax].map(|kind| AttnOpts {
        kind,
        causal,
        alibi: false,
        bias: None,
        tile: None,
    });
    // Each backward reads a forward's O and LSE: each kind has its own and gets one forward first.
    let mut rec = Recorder::new(device);
    for (o, out) in opts.iter().zip(&t.outputs) {
        attention_forward(&mut rec, &t.qkv, &out.o, Some(&out.lse), l, o)?;
    }
    rec.submit()?;
    let mut work: Vec<Workload<'_>> = Vec::new();
    for (o, out) in opts.iter().zip(&t.outputs) {
        let stats = move || (o.kind == AttnKind::Softmax).then_some(SoftmaxStats { lse: &out.lse, delta: &t.delta });
        let forward = move |rec: &mut Recorder| attention_forward(rec, &t.qkv, &out.o, Some(&out.lse), l, o);
        let backward =
            move |rec: &mut Recorder| attention_backward(rec, &t.qkv, &out.o, &t.dout, &t.dqkv, stats(), l, o);
        work.push(Box::new(forward));
        work.push(Box::new(backward));
        work.push(Box::new(move |rec: &mut Recorder| {
            forward(rec)?;
            backward(rec)
        }));
    }
    let s = time_interleaved(device, &mut work)?;
    Ok([[s[0], s[1], s[2]], [s[3], s[4], s[5]]])
}

/// One attention kind's output and its row statistics.
struct Outputs {
    o: Tensor,
    lse: Tensor,
}

struct Buffers {
    qkv: Tensor,
    dout: Tensor,
    dqkv: Tensor,
    delta: Tensor,
    /// Sigmoid's, then softmax's.
    outputs: [Outputs; 2],
}

fn materialised_forward(device: &Device, l: &AttnLayout, causal: bool, t: &Buffers) -> Result<Option<f64>> {
    let (bh, n, d) = (l.batch * l.heads, l.n, l.d);
    let bytes = (bh * n * n * 4) as u64;
    if bytes > device.max_tensor_bytes() {
        return Ok(None);
    }
    let s = Tensor::empty(device, "scores", &[bh * n, n], sigmix::DType::F32)?;
    let p = Tensor::empty(device, "probs", &[bh * n, n], sigmix::DType::F32)?;
    let one = bh * n * d;
    let head = |off: usize| Strides { offset: off, row: d, col: 1, batch1: n * d, batch2: 0 };
    let kt = Strides { offset: one, row: 1, col: d, batch1: n * d, batch2: 0 };
    let sq = Strides { offset: 0, row: n, col: 1, batch1: n * n, batch2: 0 };
    let qk = MatmulLayout { m: n, n, k: d, batch: (bh, 1), a: head(0), b: kt, c: sq, alpha: 1.0, accumulate: false };
    let pv = MatmulLayout {
        m: n,
        n: d,
        k: n,
        batch: (bh, 1),
        a: sq,
        b: head(2 * one),
        c: head(0),
        alpha: 1.0,
        accumulate: false,
    };
    let sm = SoftmaxOpts { scale: 1.0 / (d as f32).sqrt(), causal, q_len: n };
    Ok(Some(time(device, |rec| {
        matmul_strided(rec, &t.qkv, &t.qkv, &s, &qk)?;
        softmax_forward(rec, &s, &p, sm)?;
        matmul_strided(rec, &p, &t.qkv, &t.outputs[1].o, &pv)
    })?))
}

/// Runs the attention benchmark over n ∈ `ns`, d ∈ {64, 128}, full and causal, with batch and
/// heads from `shapes` (the batch halved until QKV fits the adapter's largest buffer).
pub fn bench_attention(device: &Device, ns: &[usize], shapes: Shapes) -> Result<Vec<AttnRow>> {
    let mut rows = Vec::new();
    let mut rng = Rng::new(3);
    for &n in ns {
        for d in [64, 128] {
            let (mut batch, heads) = shapes.dims(n, d);
            while batch > 1 && (3 * batch * heads * n * d * 4) as u64 > device.max_tensor_bytes() {
                batch /= 2;
            }
            let bh = batch * heads;
            let l = AttnLayout::packed(batch, heads, n, d);
            let one = bh * n * d;
            let rand =
                |rng: &mut Rng, len: usize| Tensor::from_f32(device, "bench", &[len], &rng.uniform_vec(len, -1.0, 1.0));
            let mut outputs =
                || -> Result<Outputs> { Ok(Outputs { o: rand(&mut rng, one)?, lse: rand(&mut rng, l.stats_len())? }) };
            let outputs = [outputs()?, outputs()?];
            let t = Buffers {
                qkv: rand(&mut rng, 3 * one)?,
                dout: rand(&mut rng, one)?,
                dqkv: rand(&mut rng, 3 * one)?,
                delta: rand(&mut rng, l.stats_len())?,
                outputs,
            };
            for causal in [false, true] {
                let [sig, soft] = flash_times(device, &l, causal, &t)?;
                let flops = Shapes::flops(batch, heads, n, d, causal);
                let rate = |ms: &[f64; 3]| [0, 1, 2].map(|i| flops[i] / ms[i] / 1e9);
                rows.push(AttnRow {
                    n,
                    d,
                    batch,
                    heads,
                    batch_heads: bh,
                    causal,
                    sigmoid_ms: sig.map(|s| s * 1e3),
                    softmax_ms: soft.map(|s| s * 1e3),
                    sigmoid_gflops: rate(&sig),
                    softmax_gflops: rate(&soft),
                    speedup: [0, 1, 2].map(|i| soft[i] / sig[i]),
                    materialised_fwd_ms: materialised_forward(device, &l, causal, &t)?.map(|s| s * 1e3),
                    materialised_mib: (2 * bh * n * n * 4) as f64 / (1 << 20) as f64,
                });
            }
        }
    }
    Ok(rows)
}

/// Prints the rows as a Markdown table.
pub fn print_table(rows: &[AttnRow]) {
    println!(
        "| n | d | B·H | mask | sigmoid fwd / bwd / both (GFLOP/s) | softmax fwd / bwd / both (GFLOP/s) | sigmoid speed-up fwd / bwd / both | materialised fwd ms (n×n MiB) |"
    );
    println!("|---:|---:|---:|---|---|---|---|---|");
    for r in rows {
        let g = |v: &[f64; 3]| format!("{:.2} / {:.2} / {:.2}", v[0], v[1], v[2]);
        let mat = r.materialised_fwd_ms.map_or("over the buffer limit".to_string(), |ms| format!("{ms:.1}"));
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2}× / {:.2}× / {:.2}× | {} ({:.0}) |",
            r.n,
            r.d,
            r.batch_heads,
            if r.causal { "causal" } else { "full" },
            g(&r.sigmoid_gflops),
            g(&r.softmax_gflops),
            r.speedup[0],
            r.speedup[1],
            r.speedup[2],
            mat,
            r.materialised_mib
        );
    }
}
