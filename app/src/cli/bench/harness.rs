//! How `sigmix bench` times things and what it compares them with: the device's f32 peak
//! (known GPUs, or the CPU's measured FMA peak), warm-up then the fastest of a few batches, and
//! interleaved rounds for the rows that form a ratio.

use std::sync::OnceLock;
use std::time::Instant;

use sigmix::rng::Rng;
use sigmix::{Device, Recorder, Result, Tensor};

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
pub(super) fn peak_gflops(device: &Device) -> Option<(f64, String)> {
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
pub(super) fn cpu_fma_peak(cores: usize) -> Option<f64> {
    static PEAK: OnceLock<Option<f64>> = OnceLock::new();
    *PEAK.get_or_init(|| sigmix::cpu::peak::fma_peak_gflops(cores))
}

/// Something to time: records its commands into a recorder.
pub(super) type Workload<'a> = Box<dyn FnMut(&mut Recorder) -> Result<()> + 'a>;

/// Seconds per run of `record`: after a warm-up, batches of enough repetitions to take ~0.5 s,
/// and the fastest batch of up to three (fewer once 3 s are spent), so one interruption by
/// other work on the machine does not make the row.
pub(super) fn time(device: &Device, record: impl FnMut(&mut Recorder) -> Result<()>) -> Result<f64> {
    let mut work: [Workload<'_>; 1] = [Box::new(record)];
    Ok(time_interleaved(device, &mut work)?[0])
}

/// Seconds per run of each workload, timed in rounds that run a batch of each in turn (at
/// least two rounds when there are several), each workload's fastest batch kept: on a machine
/// whose speed drifts (shared hosts, turbo and thermal limits), a ratio between two of them
/// then compares runs made under the same conditions, not one fast phase with one slow one.
pub(super) fn time_interleaved(device: &Device, work: &mut [Workload<'_>]) -> Result<Vec<f64>> {
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

pub(super) fn random(device: &Device, rng: &mut Rng, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_f32(device, "bench input", shape, &rng.uniform_vec(shape.iter().product(), -1.0, 1.0))
}
