//! The CUDA device: a context on one card, its default stream, and the compiled kernel modules
//! (one per precision and head dimension, compiled by NVRTC on first use and kept).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cudarc::driver::sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream};

use super::compile::{self, Precision};
use super::driver_error;
use crate::error::{Error, Result};

/// What the card and the libraries are: printed at the top of every CUDA selftest and benchmark.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CudaInfo {
    /// Device name, e.g. "NVIDIA H200".
    pub name: String,
    /// Compute capability (major, minor): 9.0 for H100/H200.
    pub compute_capability: (i32, i32),
    /// Streaming multiprocessors.
    pub sms: i32,
    /// Device memory in GiB.
    pub memory_gib: f64,
    /// Driver API version, e.g. "12.8".
    pub driver: String,
    /// NVRTC version, e.g. "12.9".
    pub nvrtc: String,
}

/// The entry points every module has.
pub(crate) const ENTRIES: [&str; 7] = [
    "sigmoid_forward",
    "softmax_forward",
    "softmax_backward_prep",
    "sigmoid_backward_dq",
    "softmax_backward_dq",
    "sigmoid_backward_dkdv",
    "softmax_backward_dkdv",
];

/// One loaded module's functions by entry name.
pub(crate) struct Kernels {
    functions: HashMap<&'static str, CudaFunction>,
}

impl Kernels {
    pub(crate) fn get(&self, entry: &str) -> Result<&CudaFunction> {
        self.functions.get(entry).ok_or_else(|| Error::Cuda(format!("kernel `{entry}` missing from the module")))
    }
}

/// An open CUDA device.
pub struct Cuda {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    info: CudaInfo,
    modules: Mutex<HashMap<(Precision, usize), Arc<Kernels>>>,
}

impl Cuda {
    /// Opens card `ordinal` (0 = the first): one clear error when the driver, NVRTC or a card is
    /// missing, never a panic.
    pub fn open(ordinal: usize) -> Result<Cuda> {
        // SAFETY: only tries to load the library.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(Error::Cuda(
                "the NVIDIA driver library (libcuda.so) was not found: this machine has no NVIDIA GPU driver, so the \
                 CUDA path cannot run here (the WGSL kernels run with --device gpu)"
                    .into(),
            ));
        }
        let (nv_major, nv_minor) = compile::nvrtc_version()?;
        let count = CudaContext::device_count().map_err(|e| driver_error("listing CUDA devices", e))?;
        if ordinal as i32 >= count {
            return Err(Error::Cuda(format!(
                "CUDA device {ordinal} requested but the driver sees {count} (check CUDA_VISIBLE_DEVICES)"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| driver_error("opening the CUDA device", e))?;
        let attr = |a| ctx.attribute(a).map_err(|e| driver_error("device attribute", e));
        let sms = attr(cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?;
        let mut driver = 0;
        // SAFETY: valid out-pointer; the driver library is loaded.
        unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut driver) }
            .result()
            .map_err(|e| driver_error("driver version", e))?;
        let info = CudaInfo {
            name: ctx.name().map_err(|e| driver_error("device name", e))?,
            compute_capability: ctx.compute_capability().map_err(|e| driver_error("compute capability", e))?,
            sms,
            memory_gib: ctx.total_mem().map_err(|e| driver_error("device memory", e))? as f64 / (1u64 << 30) as f64,
            driver: format!("{}.{}", driver / 1000, driver % 1000 / 10),
            nvrtc: format!("{nv_major}.{nv_minor}"),
        };
        // One stream only: cudarc's cross-stream event tracking would add an event per launch.
        // SAFETY: nothing here uses a second stream.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.default_stream();
        Ok(Cuda { ctx, stream, info, modules: Mutex::new(HashMap::new()) })
    }

    /// The card and libraries.
    pub fn info(&self) -> &CudaInfo {
        &self.info
    }

    /// One line naming the card, for tables.
    pub fn label(&self) -> String {
        let (major, minor) = self.info.compute_capability;
        format!(
            "{} (sm_{major}{minor}, {} SMs, {:.0} GiB, driver {}, NVRTC {})",
            self.info.name, self.info.sms, self.info.memory_gib, self.info.driver, self.info.nvrtc
        )
    }

    pub(crate) fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The kernels of one precision and head dimension, compiled for this card on first use.
    pub(crate) fn kernels(&self, precision: Precision, d: usize) -> Result<Arc<Kernels>> {
        let mut modules = self.modules.lock().map_err(|_| Error::Cuda("module cache poisoned".into()))?;
        if let Some(k) = modules.get(&(precision, d)) {
            return Ok(k.clone());
        }
        let (major, minor) = self.info.compute_capability;
        let cubin = compile::compile(precision, d, (major * 10 + minor) as u32)?;
        let module = self
            .ctx
            .load_module(cudarc::nvrtc::Ptx::from_binary(cubin))
            .map_err(|e| driver_error("loading the compiled kernels", e))?;
        let mut functions = HashMap::new();
        for entry in ENTRIES {
            let f = module.load_function(entry).map_err(|e| driver_error(entry, e))?;
            let smem = super::attention::shared_bytes(precision, d, entry);
            if smem > 0 {
                f.set_attribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem as i32)
                    .map_err(|e| driver_error(&format!("{entry}: {smem} bytes of shared memory"), e))?;
            }
            functions.insert(entry, f);
        }
        let kernels = Arc::new(Kernels { functions });
        modules.insert((precision, d), kernels.clone());
        Ok(kernels)
    }

    /// Waits for everything queued.
    pub fn synchronize(&self) -> Result<()> {
        self.stream.synchronize().map_err(|e| driver_error("synchronize", e))
    }

    /// Seconds per call of `run` (which queues work on the stream): a warm-up call (kernels
    /// compile there), one timed call to size the run, then enough calls to take about `budget`
    /// seconds, timed with CUDA events.
    pub fn time(&self, budget: f64, mut run: impl FnMut() -> Result<()>) -> Result<f64> {
        run()?;
        self.synchronize()?;
        let t0 = Instant::now();
        run()?;
        self.synchronize()?;
        let first = t0.elapsed().as_secs_f64();
        let reps = (budget / first.max(1e-5)).clamp(3.0, 200.0) as usize;
        let flags = Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT);
        let start = self.ctx.new_event(flags).map_err(|e| driver_error("event", e))?;
        let end = self.ctx.new_event(flags).map_err(|e| driver_error("event", e))?;
        start.record(&self.stream).map_err(|e| driver_error("event record", e))?;
        for _ in 0..reps {
            run()?;
        }
        end.record(&self.stream).map_err(|e| driver_error("event record", e))?;
        let ms = start.elapsed_ms(&end).map_err(|e| driver_error("event timing", e))?;
        Ok(ms as f64 / 1e3 / reps as f64)
    }
}
