//! `sigmix bench`: kernel and training throughput on the CPU backend and the GPU adapter side
//! by side (or the one `--device` names), with the fraction of the device's peak where it is
//! known (MFU in the llm.c sense).

use std::sync::OnceLock;
use std::time::Instant;

use sigmix::kernels::{
    augment, byol, cross_entropy, distill, elementwise, embedding, entropy, matmul, norm, optim, softmax,
};
use sigmix::rng::Rng;
use sigmix::train::RunConfig;
use sigmix::{Device, DeviceChoice, Recorder, Result, Tensor};

/// What to benchmark.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// Square matmuls of 256, 512 and 1024.
    Matmul,
    /// The memory-bound kernels (softmax, norms, GELU and their backward passes, embeddings,
    /// cross-entropy, the entropy and BYOL losses, AdamW, augment).
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
struct Row {
    name: String,
    shape: String,
    ms: f64,
    /// Useful work rate: GFLOP/s for compute-bound rows, GB/s moved for memory-bound ones.
    rate: f64,
    unit: &'static str,
    /// Fraction of the device's f32 peak (compute rows only, when known).
    peak_fraction: Option<f64>,
}

/// Known f32 (non-tensor-core) peaks in GFLOP/s, by adapter-name substring.
const PEAKS: &[(&str, f64)] = &[
    ("H200", 66_900.0),
    ("H100", 66_900.0),
    ("A100", 19_500.0),
    ("4090", 82_600.0),
    ("3090", 35_600.0),
    ("L4", 30_300.0),
    ("T4", 8_100.0),
];

/// The f32 peak of the device: the table for GPUs; for the CPU backend and software adapters
/// the CPU's, measured by an 8-wide FMA loop on every core (the units `gemm`, the CPU
/// backend's loops and lavapipe's vector code run on), else estimated as cores × the clock
/// in /proc/cpuinfo × 32 FLOP/cycle (two 256-bit FMA units).
fn peak_gflops(device: &Device) -> Option<(f64, String)> {
    let name = device.info().name;
    if let Some((_, p)) = PEAKS.iter().find(|(k, _)| name.contains(k)) {
        return Some((*p, format!("{name} f32 peak {p:.0} GFLOP/s")));
    }
    if let Device::Gpu(g) = device
        && !g.is_software()
    {
        return None;
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if let Some(p) = cpu_fma_peak(cores) {
        return Some((p, format!("CPU peak measured {p:.0} GFLOP/s ({cores} threads of 8-wide FMA)")));
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz: f64 = cpuinfo.lines().find(|l| l.starts_with("cpu MHz"))?.split(':').nth(1)?.trim().parse().ok()?;
    let p = cores as f64 * mhz / 1000.0 * 32.0;
    Some((p, format!("CPU peak estimated {p:.0} GFLOP/s ({cores} cores × {mhz:.0} MHz × 32 FLOP/cycle)")))
}

/// The CPU's FMA peak, measured once per process: the CPU backend and a software adapter run
/// on the same cores, and `sigmix bench` on both would otherwise measure it twice.
fn cpu_fma_peak(cores: usize) -> Option<f64> {
    static PEAK: OnceLock<Option<f64>> = OnceLock::new();
    *PEAK.get_or_init(|| sigmix::cpu::peak::fma_peak_gflops(cores))
}

/// Something to time: records its commands into a recorder.
pub type Workload<'a> = Box<dyn FnMut(&mut Recorder) -> Result<()> + 'a>;

/// Seconds per run of `record`: after a warm-up, batches of enough repetitions to take ~0.5 s,
/// and the fastest batch of up to three (fewer once 3 s are spent), so one interruption by
/// other work on the machine does not make the row.
pub fn time(device: &Device, record: impl FnMut(&mut Recorder) -> Result<()>) -> Result<f64> {
    let mut work: [Workload<'_>; 1] = [Box::new(record)];
    Ok(time_interleaved(device, &mut work)?[0])
}

/// Seconds per run of each workload, timed in rounds that run a batch of each in turn (at
/// least two rounds when there are several), each workload's fastest batch kept: on a machine
/// whose speed drifts (shared hosts, turbo and thermal limits), a ratio between two of them
/// then compares runs made under the same conditions, not one fast phase with one slow one.
pub fn time_interleaved(device: &Device, work: &mut [Workload<'_>]) -> Result<Vec<f64>> {
    let run = |record: &mut Workload<'_>, reps: usize| -> Result<f64> {
        let t0 = Instant::now();
        for _ in 0..reps {
            let mut rec = Recorder::new(device);
            record(&mut rec)?;
            rec.submit()?;
        }
        device.wait()?;
        Ok(t0.elapsed().as_secs_f64() / reps as f64)
    };
    let mut reps = Vec::with_capacity(work.len());
    for record in work.iter_mut() {
        let first = run(record, 1)?; // warm-up: pipelines compile here
        reps.push((0.5 / first.max(1e-6)).clamp(1.0, 50.0) as usize);
    }
    let (mut best, mut spent) = (vec![f64::INFINITY; work.len()], 0.0);
    for round in 0..3 {
        for ((record, &n), best) in work.iter_mut().zip(&reps).zip(best.iter_mut()) {
            let t = run(record, n)?;
            *best = best.min(t);
            spent += t * n as f64;
        }
        if spent >= 3.0 && (round >= 1 || work.len() == 1) {
            break;
        }
    }
    Ok(best)
}

fn random(device: &Device, rng: &mut Rng, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_f32(device, "bench input", shape, &rng.uniform_vec(shape.iter().product(), -1.0, 1.0))
}

fn bench_matmul(device: &Device, peak: Option<f64>, rows: &mut Vec<Row>) -> Result<()> {
    let mut rng = Rng::new(1);
    for n in [256, 512, 1024] {
        let (a, b, c) = (
            random(device, &mut rng, &[n, n])?,
            random(device, &mut rng, &[n, n])?,
            random(device, &mut rng, &[n, n])?,
        );
        let s = time(device, |rec| matmul::matmul(rec, &a, &b, &c, Default::default()))?;
        let gflops = 2.0 * (n as f64).powi(3) / s / 1e9;
        rows.push(Row {
            name: "matmul".into(),
            shape: format!("{n}³"),
            ms: s * 1e3,
            rate: gflops,
            unit: "GFLOP/s",
            peak_fraction: peak.map(|p| gflops / p),
        });
    }
    Ok(())
}

fn bench_kernels(device: &Device, rows: &mut Vec<Row>) -> Result<()> {
    let mut rng = Rng::new(2);
    let (r, c) = (4096, 256);
    let x = random(device, &mut rng, &[r, c])?;
    let y = random(device, &mut rng, &[r, c])?;
    let z = random(device, &mut rng, &[r, c])?;
    let g = random(device, &mut rng, &[c])?;
    let stats = random(device, &mut rng, &[r, 2])?;
    let targets = Tensor::from_u32(device, "targets", &[r], &(0..r as u32).map(|i| i % c as u32).collect::<Vec<_>>())?;
    let losses = random(device, &mut rng, &[r])?;
    let mb = (r * c * 4) as f64;
    let mut add_row = |name: &str, bytes: f64, s: f64| {
        rows.push(Row {
            name: name.into(),
            shape: format!("{r}×{c}"),
            ms: s * 1e3,
            rate: bytes / s / 1e9,
            unit: "GB/s",
            peak_fraction: None,
        })
    };
    let opts = softmax::SoftmaxOpts { scale: 1.0, causal: false, q_len: c };
    add_row("softmax_forward", 2.0 * mb, time(device, |rec| softmax::softmax_forward(rec, &x, &y, opts))?);
    add_row(
        "layernorm_forward",
        2.0 * mb,
        time(device, |rec| norm::norm_forward(rec, norm::NormKind::LayerNorm, &x, &g, &g, &y, &stats, 1e-5))?,
    );
    add_row("bias_gelu", 3.0 * mb, time(device, |rec| elementwise::bias_gelu(rec, &x, &g, &y, &z))?);
    // The backward passes: y and dy (or x and dy) read, dx written.
    add_row("softmax_backward", 3.0 * mb, time(device, |rec| softmax::softmax_backward(rec, &x, &y, &z, opts))?);
    let (dgamma, dbeta) = (random(device, &mut rng, &[c])?, random(device, &mut rng, &[c])?);
    add_row(
        "layernorm_backward",
        3.0 * mb,
        time(device, |rec| {
            norm::norm_backward(rec, norm::NormKind::LayerNorm, &x, &g, &stats, &y, &z, &dgamma, &dbeta, false)
        })?,
    );
    add_row("gelu_backward", 3.0 * mb, time(device, |rec| elementwise::gelu_backward(rec, &x, &y, &z))?);
    // Embeddings: 4096 ids into a 256 × 256 table (gathered rows written; the gradient read back
    // into the table without atomics).
    let vocab = 256;
    let ids =
        Tensor::from_u32(device, "ids", &[r], &(0..r as u32).map(|i| (i * 7) % vocab as u32).collect::<Vec<_>>())?;
    let table = random(device, &mut rng, &[vocab, c])?;
    add_row(
        "embedding_forward",
        2.0 * mb,
        time(device, |rec| embedding::embedding_forward(rec, &ids, &table, &y, false))?,
    );
    add_row("embedding_backward", mb, time(device, |rec| embedding::embedding_backward(rec, &ids, &x, &table))?);
    add_row(
        "cross_entropy",
        2.0 * mb,
        time(device, |rec| cross_entropy::cross_entropy(rec, &x, &targets, &losses, Some(&y), 1.0))?,
    );
    // Student and teacher logits read, the student's gradient written.
    let kd = distill::DistillLoss { temperature: 2.0, lambda: 0.5 };
    add_row(
        "distill_loss",
        3.0 * mb,
        time(device, |rec| distill::distill_loss(rec, &x, &z, &targets, &losses, &y, kd, 1.0))?,
    );
    let terms = random(device, &mut rng, &[r, 2])?;
    let realm = entropy::TtaObjective::realm_default(c);
    add_row(
        "entropy_loss (realm)",
        2.0 * mb,
        time(device, |rec| entropy::entropy_loss(rec, &x, &terms, &y, realm, 1.0))?,
    );
    add_row("byol_loss", 3.0 * mb, time(device, |rec| byol::byol_loss(rec, &x, &z, &losses, &y, 2, 1.0))?);
    let n = r * c;
    let flat = |t: &Tensor| t.reshape(&[n]);
    let (p, gr, m) = (flat(&x)?, flat(&y)?, flat(&z)?);
    let v = Tensor::from_f32(device, "v", &[n], &vec![0.5; n])?;
    let partials = Tensor::from_f32(device, "partials", &[optim::NORM_PARTIALS], &[0.0; optim::NORM_PARTIALS])?;
    let norm_t = Tensor::from_f32(device, "norm", &[1], &[0.0])?;
    let step = optim::AdamWStep {
        lr: 1e-9,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.0,
        clip: 0.0,
        t: 1,
        n_decay: 0,
    };
    add_row(
        "global_norm + adamw",
        8.0 * mb,
        time(device, |rec| {
            optim::global_norm(rec, &gr, &partials, &norm_t)?;
            optim::adamw(rec, &p, &gr, &m, &v, &norm_t, &step)
        })?,
    );
    bench_augment(device, &mut rng, rows)
}

/// The augment kernel: 4096 views of 16×16 from 64 images of 24×24 (crop, flip, jitter, noise),
/// counted by the views written.
fn bench_augment(device: &Device, rng: &mut Rng, rows: &mut Vec<Row>) -> Result<()> {
    let (images, in_size, views, out_size) = (64, 24, 4096, 16);
    let pixels = random(device, rng, &[images, in_size * in_size * 3])?;
    let src = Tensor::from_u32(
        device,
        "sources",
        &[views],
        &(0..views as u32).map(|i| i % images as u32).collect::<Vec<_>>(),
    )?;
    let aug = augment::AugmentConfig::default();
    let params: Vec<f32> = (0..views).flat_map(|_| aug.draw(rng, in_size).to_floats()).collect();
    let view = Tensor::from_f32(device, "view parameters", &[views, augment::VIEW_PARAMS], &params)?;
    let out = random(device, rng, &[views, out_size * out_size * 3])?;
    let shape = augment::AugmentShape { views, in_size, out_size, noise_std: aug.noise_std, seed: 1 };
    let s = time(device, |rec| augment::augment(rec, &pixels, &src, &view, &out, &shape))?;
    rows.push(Row {
        name: "augment".into(),
        shape: format!("{views} views {in_size}²→{out_size}²"),
        ms: s * 1e3,
        rate: (views * out_size * out_size * 3 * 4) as f64 / s / 1e9,
        unit: "GB/s",
        peak_fraction: None,
    });
    Ok(())
}

fn bench_train(device: &Device, peak: Option<f64>, rows: &mut Vec<Row>) -> Result<()> {
    // The page's `#bench=train` measures the same way (sigmix::train::measure), so the two
    // numbers compare on one adapter.
    let (warm, timed) = if device.is_cpu() { (5, 95) } else { (4, 15) };
    let cfg = RunConfig::preset("tiny")?;
    let r = sigmix::train::measure(device, &cfg, warm, timed)?;
    let tokens_per_sec = r.tokens_per_sec;
    // 6·N FLOPs per token for the weights, plus attention (≈ 6·L·T·C per token, causal halved).
    let flops_per_token =
        6.0 * r.params as f64 + 6.0 * (cfg.model.n_layers * cfg.model.context * cfg.model.d_model) as f64;
    let gflops = tokens_per_sec * flops_per_token / 1e9;
    rows.push(Row {
        name: "train tiny (tokens/s)".into(),
        shape: format!("{} params, batch {}×{}", r.params, cfg.batch, cfg.model.context),
        ms: 1e3 * (cfg.batch * cfg.model.context) as f64 / tokens_per_sec,
        rate: tokens_per_sec,
        unit: "tokens/s",
        peak_fraction: peak.map(|p| gflops / p),
    });
    // What recording a step costs the host while the device works: where the device is fast,
    // the floor of a step.
    rows.push(Row {
        name: "train tiny: recording a step (host)".into(),
        shape: format!("{} kernels", r.kernels_per_step),
        ms: r.record_ms_per_step,
        rate: r.record_ms_per_step,
        unit: "ms",
        peak_fraction: None,
    });
    Ok(())
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
    attention: Vec<super::bench_attention::AttnRow>,
    contrastive: Vec<super::bench_contrastive::ContrastiveRow>,
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
        for (name, shape, ms, ktok) in super::bench_moe::bench_moe(device)? {
            rows.push(Row { name, shape, ms, rate: ktok, unit: "ktok/s", peak_fraction: None });
        }
    }
    // Attention and contrastive are suites of their own (minutes on software adapters): run them
    // when named.
    let attention = if args.suite == Suite::Attention {
        super::bench_attention::bench_attention(device, &args.n, attention_shapes(args))?
    } else {
        Vec::new()
    };
    let contrastive = if args.suite == Suite::Contrastive {
        super::bench_contrastive::bench_contrastive(device, &args.bm)?
    } else {
        Vec::new()
    };
    Ok(DeviceRows { device: device.info(), peak: peak.map(|p| p.1), rows, attention, contrastive })
}

fn attention_shapes(args: &Args) -> super::bench_attention::Shapes {
    super::bench_attention::Shapes { tokens: args.tokens, hidden: args.hidden }
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
    let report = super::bench_cuda::bench(cuda, &args.n, attention_shapes(args), &precisions)?;
    if args.json {
        let all = serde_json::json!({ "wgpu": wgpu, "cuda": report });
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    } else {
        super::bench_cuda::print_table(&report);
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
                    super::bench_attention::print_table(&r.attention);
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
            super::bench_attention::print_table(&r.attention);
        }
        if !r.contrastive.is_empty() {
            println!("\n{}", r.device.name);
            super::bench_contrastive::print_table(&r.contrastive);
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
    use super::*;
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
