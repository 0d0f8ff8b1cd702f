//! `sigmix bench`: kernel and training throughput on the CPU backend and the GPU adapter side
//! by side (or the one `--device` names), with the fraction of the device's peak where it is
//! known (MFU in the llm.c sense).

mod attention;
mod contrastive;
#[cfg(feature = "cuda")]
mod cuda;
mod harness;
mod kernels;
mod moe;

use sigmix::{Device, DeviceChoice, Result};

use harness::peak_gflops;
use kernels::{bench_kernels, bench_matmul, bench_train};

/// What to benchmark.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// Square matmuls of 256, 512 and 1024.
    Matmul,
    /// The memory-bound kernels (softmax, norms, GELU and their backward passes, embeddings,
    /// cross-entropy, the entropy and BYOL losses, AdamW, the Bayes-by-Backprop draw, backward and
    /// KL, augment).
    Kernels,
    /// Training tokens/s of the tiny preset.
    Train,
    /// Flash sigmoid vs softmax attention, forward and backward, n ∈ {256, 1024, 4096}.
    Attention,
    /// An MoE block (E ∈ {4, 8, 16}, K ∈ {1, 2}) against the dense MLP with its active parameters.
    Moe,
    /// The tiled contrastive loss against a matmul and a materialised loss, B·M from `--bm`.
    Contrastive,
    /// Everything.
    All,
}

/// Which implementation the attention suite times.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The WGSL kernels on the wgpu devices (`--device`).
    Wgpu,
    /// The CUDA kernels on the first NVIDIA card (a binary built with `--features cuda`).
    Cuda,
    /// Both, on the same shapes.
    All,
}

/// Options of `sigmix bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which benchmarks to run.
    #[arg(value_enum, default_value = "all")]
    suite: Suite,
    /// Print the rows as JSON.
    #[arg(long)]
    json: bool,
    /// Sequence lengths for the attention suite.
    #[arg(long, value_delimiter = ',', default_value = "256,1024,4096")]
    n: Vec<usize>,
    /// Rows B·M for the contrastive suite (d = 128, M = 4).
    #[arg(long, value_delimiter = ',', default_value = "1024,4096,16384")]
    bm: Vec<usize>,
    /// Attention: which kernels, the WGSL ones through wgpu, the CUDA ones, or both.
    #[arg(long, value_enum, default_value = "wgpu")]
    backend: Backend,
    /// Attention: tokens per row (B·n, so B = tokens / n); default B = 1, H = 4096 / n.
    #[arg(long)]
    tokens: Option<usize>,
    /// Attention: model width H·d (heads = hidden / d) when --tokens is given.
    #[arg(long, default_value_t = 2048)]
    hidden: usize,
    /// Attention on CUDA: element types, from bf16, f16 and f32.
    #[arg(long, value_delimiter = ',', default_value = "bf16")]
    precision: Vec<String>,
}

/// One benchmark result.
#[derive(serde::Serialize, Debug)]
pub(super) struct Row {
    pub(super) name: String,
    pub(super) shape: String,
    pub(super) ms: f64,
    /// Useful work rate: GFLOP/s for compute-bound rows, GB/s moved for memory-bound ones.
    pub(super) rate: f64,
    pub(super) unit: &'static str,
    /// Fraction of the device's f32 peak (compute rows only, when known).
    pub(super) peak_fraction: Option<f64>,
}

/// The devices to compare: both backends for `auto`, else the one named.
fn devices(choice: DeviceChoice) -> Result<Vec<Device>> {
    Ok(match choice {
        DeviceChoice::Auto => {
            let mut v = vec![Device::open(DeviceChoice::Cpu)?];
            match Device::open(DeviceChoice::Gpu) {
                Ok(g) => v.push(g),
                Err(e) => eprintln!("no GPU adapter to compare with: {e}"),
            }
            v
        }
        c => vec![Device::open(c)?],
    })
}

/// Rows of one device.
#[derive(serde::Serialize, Debug)]
struct DeviceRows {
    device: sigmix::gpu::GpuInfo,
    peak: Option<String>,
    rows: Vec<Row>,
    attention: Vec<attention::AttnRow>,
    contrastive: Vec<contrastive::ContrastiveRow>,
}

fn bench_device(device: &Device, args: &Args) -> Result<DeviceRows> {
    let peak = peak_gflops(device);
    let mut rows = Vec::new();
    let all = args.suite == Suite::All;
    if all || args.suite == Suite::Matmul {
        bench_matmul(device, peak.as_ref().map(|p| p.0), &mut rows)?;
    }
    if all || args.suite == Suite::Kernels {
        bench_kernels(device, &mut rows)?;
    }
    if all || args.suite == Suite::Train {
        bench_train(device, peak.as_ref().map(|p| p.0), &mut rows)?;
    }
    if all || args.suite == Suite::Moe {
        for (name, shape, ms, ktok) in moe::bench_moe(device)? {
            rows.push(Row { name, shape, ms, rate: ktok, unit: "ktok/s", peak_fraction: None });
        }
    }
    // Attention and contrastive are suites of their own (minutes on software adapters): run them
    // when named.
    let attention = if args.suite == Suite::Attention {
        attention::bench_attention(device, &args.n, attention_shapes(args))?
    } else {
        Vec::new()
    };
    let contrastive =
        if args.suite == Suite::Contrastive { contrastive::bench_contrastive(device, &args.bm)? } else { Vec::new() };
    Ok(DeviceRows { device: device.info(), peak: peak.map(|p| p.1), rows, attention, contrastive })
}

fn attention_shapes(args: &Args) -> attention::Shapes {
    attention::Shapes { tokens: args.tokens, hidden: args.hidden }
}

/// The open CUDA card (a stand-in without the `cuda` feature, which never opens).
#[cfg(feature = "cuda")]
type CudaCard = sigmix::cuda::Cuda;
#[cfg(not(feature = "cuda"))]
type CudaCard = std::convert::Infallible;

/// Opens the card first, so a missing one is reported before any WGSL row is computed.
fn open_cuda() -> Result<CudaCard> {
    #[cfg(feature = "cuda")]
    return sigmix::cuda::Cuda::open(0);
    #[cfg(not(feature = "cuda"))]
    Err(super::no_cuda())
}

/// The CUDA rows, printed (or as JSON, wrapped with the wgpu rows).
#[cfg(feature = "cuda")]
fn run_cuda(args: &Args, cuda: &CudaCard, wgpu: Option<Vec<DeviceRows>>) -> Result<()> {
    let precisions = args
        .precision
        .iter()
        .map(|p| match p.as_str() {
            "bf16" => Ok(sigmix::cuda::Precision::Bf16),
            "f16" => Ok(sigmix::cuda::Precision::F16),
            "f32" => Ok(sigmix::cuda::Precision::F32),
            other => Err(sigmix::Error::Config(format!("--precision {other}: use bf16, f16 or f32"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let report = cuda::bench(cuda, &args.n, attention_shapes(args), &precisions)?;
    if args.json {
        let all = serde_json::json!({ "wgpu": wgpu, "cuda": report });
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    } else {
        cuda::print_table(&report);
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn run_cuda(_args: &Args, cuda: &CudaCard, _wgpu: Option<Vec<DeviceRows>>) -> Result<()> {
    match *cuda {}
}

/// The chosen suite on each device `choice` names.
fn bench_devices(choice: DeviceChoice, args: &Args) -> Result<Vec<DeviceRows>> {
    let mut results = Vec::new();
    for device in devices(choice)? {
        eprintln!("benchmarking on {} …", device.label());
        results.push(bench_device(&device, args)?);
    }
    Ok(results)
}

/// Runs the chosen suite on each device and prints one table with a column per device.
pub fn run(args: Args, choice: DeviceChoice) -> Result<()> {
    if args.backend != Backend::Wgpu {
        if args.suite != Suite::Attention {
            return Err(sigmix::Error::Config(
                "--backend cuda|all times the attention suite only: `sigmix bench attention --backend …`".into(),
            ));
        }
        let cuda = open_cuda()?;
        let wgpu = if args.backend == Backend::All {
            let rows = bench_devices(choice, &args)?;
            if !args.json {
                for r in &rows {
                    println!("\n{} (WGSL, {})", r.device.name, r.device.backend);
                    attention::print_table(&r.attention);
                }
            }
            Some(rows)
        } else {
            None
        };
        return run_cuda(&args, &cuda, wgpu);
    }
    let results = bench_devices(choice, &args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
        return Ok(());
    }
    for r in &results {
        println!(
            "device: {} ({}, {}); peak: {}",
            r.device.name,
            r.device.backend,
            r.device.driver,
            r.peak.as_deref().unwrap_or("unknown")
        );
    }
    for r in &results {
        if !r.attention.is_empty() {
            println!("\n{}", r.device.name);
            attention::print_table(&r.attention);
        }
        if !r.contrastive.is_empty() {
            println!("\n{}", r.device.name);
            contrastive::print_table(&r.contrastive);
        }
    }
    let Some(first) = results.first() else {
        return Ok(());
    };
    if first.rows.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = results.iter().map(|r| r.device.name.clone()).collect();
    println!("| kernel | shape | {} |", names.join(" | "));
    println!("|---|---|{}", "---:|".repeat(names.len()));
    for (i, row) in first.rows.iter().enumerate() {
        let cells: Vec<String> = results
            .iter()
            .map(|r| match r.rows.get(i) {
                Some(x) => {
                    let frac = x.peak_fraction.map_or(String::new(), |f| format!(" ({:.1}%)", 100.0 * f));
                    format!("{:.2} {}{frac}", x.rate, x.unit)
                }
                None => "–".to_string(),
            })
            .collect();
        println!("| {} | {} | {} |", row.name, row.shape, cells.join(" | "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::harness::{Workload, time_interleaved};
    use super::*;
    use sigmix::Recorder;
    use std::cell::Cell;

    #[test]
    fn interleaved_timing_runs_every_workload_in_every_round() {
        let device = Device::open(DeviceChoice::Cpu).expect("the CPU backend opens");
        let order = std::cell::RefCell::new(Vec::new());
        let (quick, slow) = (Cell::new(0), Cell::new(0));
        let mut work: [Workload<'_>; 2] = [
            Box::new(|_: &mut Recorder| {
                quick.set(quick.get() + 1);
                order.borrow_mut().push('q');
                Ok(())
            }),
            Box::new(|_: &mut Recorder| {
                slow.set(slow.get() + 1);
                order.borrow_mut().push('s');
                std::thread::sleep(std::time::Duration::from_millis(300));
                Ok(())
            }),
        ];
        let t = time_interleaved(&device, &mut work).expect("times");
        drop(work);
        assert_eq!(t.len(), 2);
        assert!(t[1] >= 0.3 && t[0] < t[1], "{t:?}");
        // Warm-up, then at least two rounds, each running a batch of both in turn.
        assert!(slow.get() >= 3 && quick.get() >= 3, "{} / {}", quick.get(), slow.get());
        let order = order.into_inner();
        let first_round_slow = order.iter().skip(2).position(|&c| c == 's').expect("a slow run after warm-up");
        assert!(order[2..2 + first_round_slow].iter().all(|&c| c == 'q'), "{order:?}");
        assert!(order[2 + first_round_slow + 1..].contains(&'q'), "quick runs again after slow: {order:?}");
    }
}
