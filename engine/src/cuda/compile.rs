//! NVRTC: the kernel sources, and their compilation to a CUBIN for one architecture, head
//! dimension and precision. Needs only `libnvrtc` (no GPU): the tests compile every variant
//! wherever the library is found, which runs ptxas on the tensor-core assembly too.

use std::ffi::{CStr, CString};

use crate::error::{Error, Result};

/// Shared declarations: the parameter block, masks, logit.
const COMMON: &str = include_str!("kernels/attention_common.cuh");
/// f32 kernels on CUDA cores.
const F32_SOURCE: &str = include_str!("kernels/attention_f32.cu");
/// bf16/f16 kernels on tensor cores.
const MMA_SOURCE: &str = include_str!("kernels/attention_mma.cu");
/// The entry points, appended to either.
const ENTRIES: &str = include_str!("kernels/attention_entries.cuh");

/// Element type of a kernel variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 in, f32 out, CUDA cores: the checking variant.
    F32,
    /// bfloat16 in and out, tensor-core MMA, f32 accumulation.
    Bf16,
    /// float16 in and out, tensor-core MMA, f32 accumulation.
    F16,
}

impl Precision {
    /// All variants, in the order the selftest and benchmark report them.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::Bf16, Precision::F16];

    /// Short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }

    /// Relative-error bar against the f64 reference (on inputs rounded to this precision):
    /// f32 as the WGSL kernels; the halves carry 8 (bf16) or 11 (f16) significant bits.
    pub fn tolerance(self) -> f64 {
        match self {
            Precision::F32 => 1e-5,
            Precision::Bf16 => 1e-2,
            Precision::F16 => 5e-3,
        }
    }

    /// Bytes per element.
    pub fn bytes(self) -> usize {
        if self == Precision::F32 { 4 } else { 2 }
    }

    /// Head dimensions this variant compiles for: f32 any multiple of 4 in 16..=128 (as WGSL),
    /// the tensor-core kernels multiples of 16 in 16..=128.
    pub fn supports_head_dim(self, d: usize) -> bool {
        (16..=128).contains(&d) && d.is_multiple_of(self.head_dim_step())
    }

    fn head_dim_step(self) -> usize {
        if self == Precision::F32 { 4 } else { 16 }
    }

    /// `supports_head_dim` as the error a user reads.
    pub fn check_head_dim(self, d: usize) -> Result<()> {
        if self.supports_head_dim(d) {
            return Ok(());
        }
        Err(Error::Config(format!(
            "CUDA {} attention: head dimension {d} unsupported; use a multiple of {} in 16..=128",
            self.name(),
            self.head_dim_step()
        )))
    }

    /// Threads per block of this variant's attention kernels.
    pub(crate) fn threads(self) -> u32 {
        if self == Precision::F32 { 64 } else { 128 }
    }
}

/// The full source of a variant (common declarations, the kernels, their entry points):
/// `SIGMIX_CUDA_DIR`, when set, names a folder whose `attention_common.cuh`, `attention_f32.cu`,
/// `attention_mma.cu` and `attention_entries.cuh` replace the built-in copies (for editing
/// kernels on a GPU machine without a Rust toolchain).
pub fn source(precision: Precision) -> Result<String> {
    let file = if precision == Precision::F32 { "attention_f32.cu" } else { "attention_mma.cu" };
    let built_in = if precision == Precision::F32 { F32_SOURCE } else { MMA_SOURCE };
    let parts = match std::env::var_os("SIGMIX_CUDA_DIR") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            let read = |name: &str| {
                let path = dir.join(name);
                std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
            };
            [read("attention_common.cuh")?, read(file)?, read("attention_entries.cuh")?]
        }
        None => [COMMON.to_string(), built_in.to_string(), ENTRIES.to_string()],
    };
    let [common, body, entries] = parts;
    Ok(format!("{common}\n#line 1 \"{file}\"\n{body}\n#line 1 \"attention_entries.cuh\"\n{entries}"))
}

/// Whether `libnvrtc` can be loaded, as its version; otherwise an error saying where to get it.
pub fn nvrtc_version() -> Result<(i32, i32)> {
    let found = cudarc::get_lib_name_candidates("nvrtc")
        .iter()
        // SAFETY: loading NVRTC runs only its (side-effect free) library constructors.
        .any(|name| unsafe { libloading::Library::new(name) }.is_ok());
    if !found {
        return Err(Error::Cuda(
            "libnvrtc was not found: install the CUDA toolkit or `pip install nvidia-cuda-nvrtc-cu12`, then put \
             the folder holding libnvrtc.so* on LD_LIBRARY_PATH (bench/gpu.sh finds PyTorch's copy)"
                .into(),
        ));
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: two valid out-pointers; the library is present.
    unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| Error::Cuda(format!("nvrtcVersion: {e:?}")))?;
    Ok((major, minor))
}

/// Compiles the `precision` kernels for head dimension `d` to a CUBIN for `sm_{arch}` (e.g. 90
/// for H100/H200). The tensor-core variant needs arch ≥ 80.
pub fn compile(precision: Precision, d: usize, arch: u32) -> Result<Vec<u8>> {
    precision.check_head_dim(d)?;
    if precision != Precision::F32 && arch < 80 {
        return Err(Error::Cuda(format!(
            "the {} tensor-core kernels need compute capability 8.0 or newer (this card is sm_{arch}); use \
             --precision f32",
            precision.name()
        )));
    }
    nvrtc_version()?;
    let name = format!("attention_{}_d{d}_sm{arch}", precision.name());
    let src = CString::new(source(precision)?).map_err(|_| Error::Cuda("kernel source holds a NUL byte".into()))?;
    let cname = CString::new(name.clone()).map_err(|_| Error::Cuda("bad program name".into()))?;
    let mut options = vec![
        format!("--gpu-architecture=sm_{arch}"),
        format!("-DHEAD_DIM={d}"),
        "--std=c++17".to_string(),
        "-lineinfo".to_string(),
    ];
    if precision == Precision::F16 {
        options.push("-DELEM_F16".to_string());
    }
    // SIGMIX_CUDA_VERBOSE=1: ptxas reports registers, spills and shared memory per kernel.
    let verbose = std::env::var("SIGMIX_CUDA_VERBOSE").is_ok_and(|v| v == "1");
    if verbose {
        options.push("--ptxas-options=-v".to_string());
    }
    let nv = |what: &str, e: cudarc::nvrtc::result::NvrtcError| Error::Cuda(format!("{name}: {what}: {e:?}"));
    let prog = cudarc::nvrtc::result::create_program(&src, Some(&cname)).map_err(|e| nv("create", e))?;
    // SAFETY: `prog` is live until the destroy below; `src` and `cname` outlive it.
    let built = unsafe { build(prog, &options) };
    // SAFETY: created above, destroyed once.
    let destroyed = unsafe { cudarc::nvrtc::result::destroy_program(prog) };
    let (cubin, log) = built.map_err(|(what, log)| Error::Cuda(format!("{name}: {what}\n{log}")))?;
    destroyed.map_err(|e| nv("destroy", e))?;
    if verbose {
        eprintln!("== {name}\n{log}");
    }
    Ok(cubin)
}

/// Compiles `prog` and returns its CUBIN and NVRTC's log, or what failed with the log.
///
/// # Safety
/// `prog` must be a live program from `create_program`.
unsafe fn build(
    prog: cudarc::nvrtc::sys::nvrtcProgram,
    options: &[String],
) -> Result<(Vec<u8>, String), (String, String)> {
    use cudarc::nvrtc::{result, sys};
    // SAFETY: forwarded from the caller; the log is NUL-terminated.
    let compiled = unsafe { result::compile_program(prog, options) };
    let log = unsafe { result::get_program_log(prog) }
        .map(|raw| unsafe { CStr::from_ptr(raw.as_ptr()) }.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Err(e) = compiled {
        return Err((format!("compile failed ({e:?}) with {options:?}"), log));
    }
    let mut size = 0usize;
    // SAFETY: valid out-pointer, compiled program.
    unsafe { sys::nvrtcGetCUBINSize(prog, &mut size) }
        .result()
        .map_err(|e| (format!("CUBIN size: {e:?}"), String::new()))?;
    let mut cubin = vec![0u8; size];
    // SAFETY: `cubin` holds exactly the size NVRTC reported.
    unsafe { sys::nvrtcGetCUBIN(prog, cubin.as_mut_ptr().cast()) }
        .result()
        .map_err(|e| (format!("CUBIN: {e:?}"), String::new()))?;
    Ok((cubin, log))
}
