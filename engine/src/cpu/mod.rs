//! The native CPU backend: a fast f32 twin of every WGSL kernel.
//!
//! Software GPUs (lavapipe, a browser's software WebGPU) prove the kernels correct but train
//! about 100× slower than the cores can. This backend runs the same launchers on host memory:
//! matmuls through the `gemm` crate, everything else as cache-friendly loops spread over the
//! cores with rayon. It is tested against the f64 oracle in `reference/` exactly as the WGSL
//! kernels are; it is never the oracle itself.
//!
//! Memory model: a CPU tensor is a view into a `CpuBuffer`. Every access (a kernel, an upload,
//! a read-back) holds the device's lock and borrows disjoint ranges, checked before the
//! kernel runs, so no two live borrows of one element exist with one of them mutable. Kernel
//! bodies never launch kernels themselves, and nothing that takes the lock runs on a rayon
//! worker, so a worker can never block on the lock while another holds it and waits for it.

pub(crate) mod attention;
pub(crate) mod augment;
pub(crate) mod bayes;
pub(crate) mod byol;
pub(crate) mod contrastive;
pub(crate) mod cross_entropy;
pub(crate) mod distill;
pub(crate) mod elementwise;
pub(crate) mod embedding;
pub(crate) mod entropy;
pub(crate) mod math;
pub(crate) mod matmul;
pub(crate) mod moe;
pub(crate) mod norm;
pub(crate) mod optim;
pub mod peak;
pub(crate) mod rows;
pub(crate) mod scratch;
pub(crate) mod softmax;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::gpu::GpuInfo;
use crate::tensor::Tensor;

/// Largest single tensor the CPU backend allocates (bytes): a guard against typos, far above
/// any model this project trains.
const MAX_TENSOR_BYTES: u64 = 1 << 36;

/// The CPU device: its worker count, the lock that orders accesses, and allocation counters.
pub struct Cpu {
    lock: Mutex<()>,
    threads: usize,
    buffers_created: AtomicU64,
    bytes_created: AtomicU64,
}

impl std::fmt::Debug for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cpu").field("threads", &self.threads).finish()
    }
}

impl Cpu {
    /// Opens the CPU backend on rayon's global pool (all cores unless RAYON_NUM_THREADS says).
    pub fn new() -> Arc<Cpu> {
        Arc::new(Cpu {
            lock: Mutex::new(()),
            threads: rayon::current_num_threads(),
            buffers_created: AtomicU64::new(0),
            bytes_created: AtomicU64::new(0),
        })
    }

    /// Worker threads kernels spread over.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// A description in the same shape as a GPU adapter's, for run records and the UI.
    pub fn info(&self) -> GpuInfo {
        GpuInfo {
            name: format!("CPU ({} thread{})", self.threads, if self.threads == 1 { "" } else { "s" }),
            backend: "cpu".to_string(),
            device_type: "Cpu".to_string(),
            driver: format!("sigmix native f32, {}", simd_level()),
        }
    }

    /// Largest buffer a single tensor may occupy.
    pub fn max_tensor_bytes(&self) -> u64 {
        MAX_TENSOR_BYTES
    }

    /// Buffers allocated so far (a training step must not add any).
    pub fn buffers_created(&self) -> u64 {
        self.buffers_created.load(Ordering::Relaxed)
    }

    /// Bytes of all buffers allocated so far.
    pub fn bytes_created(&self) -> u64 {
        self.bytes_created.load(Ordering::Relaxed)
    }

    /// The most host memory the kernels held beyond their tensors at once since the last
    /// `reset_scratch_peak`, as counted by the kernels that report a footprint (the
    /// contrastive loss).
    pub fn scratch_peak_bytes(&self) -> u64 {
        scratch::peak_bytes()
    }

    /// Starts a new scratch peak from what is held now.
    pub fn reset_scratch_peak(&self) {
        scratch::reset_peak()
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        // A panic inside a kernel leaves the data as it was written so far; the lock only
        // orders accesses, so a poisoned one is still safe to take.
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allocates a zero-filled buffer of `len` f32 words, or says why it cannot.
    pub(crate) fn alloc(&self, what: &str, len: usize) -> Result<Arc<CpuBuffer>> {
        let bytes = (len as u64).saturating_mul(4);
        if bytes > MAX_TENSOR_BYTES {
            return Err(Error::TooLarge {
                what: what.to_string(),
                bytes,
                limit: MAX_TENSOR_BYTES,
                adapter: "CPU".to_string(),
            });
        }
        let mut v: Vec<f32> = Vec::new();
        v.try_reserve_exact(len).map_err(|_| Error::TooLarge {
            what: format!("{what} (host memory exhausted)"),
            bytes,
            limit: bytes.saturating_sub(1),
            adapter: "CPU".to_string(),
        })?;
        v.resize(len, 0.0);
        self.buffers_created.fetch_add(1, Ordering::Relaxed);
        self.bytes_created.fetch_add(bytes, Ordering::Relaxed);
        Ok(Arc::new(CpuBuffer { data: UnsafeCell::new(v.into_boxed_slice()) }))
    }
}

/// The instruction-set level the f32 loops were compiled for and `gemm` dispatches to.
fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return "AVX2+FMA";
        }
        "SSE2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON"
    }
    #[cfg(target_arch = "wasm32")]
    {
        "wasm32"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "wasm32")))]
    {
        "scalar"
    }
}

/// Host memory behind CPU tensors. Accessed only through `kernel` (and the tensor upload and
/// read-back helpers), which hold the device lock and hand out non-overlapping borrows.
pub struct CpuBuffer {
    data: UnsafeCell<Box<[f32]>>,
}

// SAFETY: all access goes through `kernel`, `read` and `write`, which serialise on the owning
// device's lock and never hand out overlapping mutable borrows.
unsafe impl Sync for CpuBuffer {}
// SAFETY: the buffer owns plain f32 data.
unsafe impl Send for CpuBuffer {}

impl std::fmt::Debug for CpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuBuffer").finish_non_exhaustive()
    }
}

impl CpuBuffer {
    fn base(&self) -> *mut f32 {
        // SAFETY: only the pointer is taken; borrows are made by the callers under the lock.
        unsafe { (*self.data.get()).as_mut_ptr() }
    }

    fn len(&self) -> usize {
        // SAFETY: the length of the boxed slice never changes after allocation.
        unsafe { (&(*self.data.get())).len() }
    }
}

/// Where one CPU tensor's elements are.
struct Span<'a> {
    cpu: &'a Arc<Cpu>,
    buffer: &'a Arc<CpuBuffer>,
    start: usize,
    len: usize,
}

fn span<'a>(op: &'static str, t: &'a Tensor) -> Result<Span<'a>> {
    let Some((cpu, buffer, start)) = t.cpu_parts() else {
        return Err(Error::Config(format!("{op}: a GPU tensor was passed to the CPU backend")));
    };
    let len = t.len();
    if start + len > buffer.len() {
        return Err(Error::Config(format!("{op}: a view runs past the end of its buffer")));
    }
    Ok(Span { cpu, buffer, start, len })
}

fn overlaps(a: &Span<'_>, b: &Span<'_>) -> bool {
    Arc::ptr_eq(a.buffer, b.buffer) && a.len > 0 && b.len > 0 && a.start < b.start + b.len && b.start < a.start + a.len
}

/// Runs one kernel body with shared borrows of `reads` and exclusive borrows of `writes`,
/// after checking that no output overlaps another operand (the rule wgpu enforces too).
pub(crate) fn kernel<const R: usize, const W: usize, T>(
    op: &'static str,
    reads: [&Tensor; R],
    writes: [&Tensor; W],
    body: impl FnOnce([&[f32]; R], [&mut [f32]; W]) -> T,
) -> Result<T> {
    let mut rs = Vec::with_capacity(R);
    for t in reads {
        rs.push(span(op, t)?);
    }
    let mut ws = Vec::with_capacity(W);
    for t in writes {
        ws.push(span(op, t)?);
    }
    for (i, w) in ws.iter().enumerate() {
        let clash = rs.iter().any(|r| overlaps(w, r)) || ws.iter().enumerate().any(|(j, o)| j != i && overlaps(w, o));
        if clash {
            return Err(Error::Config(format!(
                "{op}: output {} shares memory with another operand; give it its own tensor",
                i + 1
            )));
        }
    }
    let Some(cpu) = rs.first().or(ws.first()).map(|s| s.cpu) else {
        return Ok(body(std::array::from_fn(|_| &[][..]), std::array::from_fn(|_| &mut [][..])));
    };
    if rs.iter().chain(&ws).any(|s| !Arc::ptr_eq(s.cpu, cpu)) {
        return Err(Error::Config(format!("{op}: operands live on different devices")));
    }
    let _guard = cpu.guard();
    // SAFETY: every span lies inside its buffer (checked in `span`); outputs overlap nothing
    // else (checked above); the device lock keeps other threads out for the body's duration.
    let read: [&[f32]; R] =
        std::array::from_fn(|i| unsafe { std::slice::from_raw_parts(rs[i].buffer.base().add(rs[i].start), rs[i].len) });
    let write: [&mut [f32]; W] = std::array::from_fn(|i| unsafe {
        std::slice::from_raw_parts_mut(ws[i].buffer.base().add(ws[i].start), ws[i].len)
    });
    Ok(body(read, write))
}

/// Copies `data` into a CPU tensor's elements.
pub(crate) fn write(t: &Tensor, data: &[f32]) -> Result<()> {
    kernel("upload", [], [t], |_, [out]| out.copy_from_slice(data))
}

/// Copies a CPU tensor's elements out.
pub(crate) fn read(t: &Tensor) -> Result<Vec<f32>> {
    kernel("read-back", [t], [], |[x], _| x.to_vec())
}

/// A pointer into an output that parallel tasks write at provably disjoint indices (strided
/// layouts, where `chunks_mut` cannot express the split).
#[derive(Clone, Copy)]
pub(crate) struct SharedOut {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: tasks sharing a `SharedOut` write disjoint indices (each user documents why).
unsafe impl Send for SharedOut {}
// SAFETY: as above.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// Wraps an exclusive borrow; the borrow must outlive every use.
    pub(crate) fn new(s: &mut [f32]) -> SharedOut {
        SharedOut { ptr: s.as_mut_ptr(), len: s.len() }
    }

    /// Writes element `i`.
    ///
    /// # Safety
    /// No other task reads or writes index `i` concurrently.
    pub(crate) unsafe fn set(&self, i: usize, v: f32) {
        assert!(i < self.len, "SharedOut index {i} out of {}", self.len);
        // SAFETY: in bounds (asserted); exclusive per the caller's contract.
        unsafe { *self.ptr.add(i) = v }
    }

    /// An exclusive view of elements `start..start + len`.
    ///
    /// # Safety
    /// No other task touches these elements while the returned slice lives.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.len, "SharedOut range {start}+{len} out of {}", self.len);
        // SAFETY: in bounds (asserted); exclusive per the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

/// Rows per rayon task so each task has at least `min_work` elements of work.
pub(crate) fn rows_per_task(rows: usize, cols: usize, min_work: usize) -> usize {
    (min_work / cols.max(1)).clamp(1, rows.max(1))
}
