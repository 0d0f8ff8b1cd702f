//! The CPU's f32 multiply-add rate, measured: the ceiling for the CPU backend's 8-wide loops
//! and `gemm`'s AVX2+FMA kernels (software GPU adapters run on the same units). A clock read
//! from /proc/cpuinfo is the nominal one in most VMs, not the boost clock the cores run at,
//! and can understate the peak by half.

#[cfg(target_arch = "x86_64")]
use std::time::{Duration, Instant};

/// Independent accumulators per thread: more than FMA latency × FMA units on current cores,
/// so the loop is bound by throughput, not by a dependency chain.
#[cfg(target_arch = "x86_64")]
const CHAINS: usize = 12;

/// GFLOP/s of 8-wide fused multiply-adds on `threads` threads at once (the fastest of five
/// runs of about 50 ms each: a shared host slows some of them), or `None` where the CPU has no
/// AVX2+FMA.
pub fn fma_peak_gflops(threads: usize) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        let threads = threads.max(1);
        // Iterations that take a few ms, then enough for ~50 ms.
        let probe = time_threads(threads, 20_000);
        let iters = (20_000.0 * 0.05 / probe.as_secs_f64().max(1e-6)).clamp(20_000.0, 5e8) as u64;
        let best = (0..5).map(|_| time_threads(threads, iters)).min()?;
        let flops = (threads as u64 * iters * CHAINS as u64 * 8 * 2) as f64;
        return Some(flops / best.as_secs_f64().max(1e-9) / 1e9);
    }
    let _ = threads;
    None
}

/// Wall time of `iters` loop iterations on each of `threads` threads started together.
#[cfg(target_arch = "x86_64")]
fn time_threads(threads: usize, iters: u64) -> Duration {
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            // SAFETY: fma_peak_gflops checked that the CPU has AVX2 and FMA.
            s.spawn(move || std::hint::black_box(unsafe { fma_chains(iters) }));
        }
    });
    t0.elapsed()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let x = _mm256_set1_ps(0.999_999);
    let y = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, x, y);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 floats, what an unaligned 256-bit store writes.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measured_peak_is_a_plausible_rate() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            assert!(fma_peak_gflops(1).is_some(), "AVX2+FMA present: the loop runs");
        }
        if let Some(g) = fma_peak_gflops(1) {
            // One core: between an old 1 GHz core (16 FLOP/cycle) and a 6 GHz one at 64.
            assert!((1.0..400.0).contains(&g), "{g} GFLOP/s on one thread");
        }
    }
}
