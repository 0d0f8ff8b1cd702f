//! Launchers of the CUDA attention kernels: one problem's device buffers in one precision, the
//! forward and backward passes with the WGSL kernels' semantics, and reading results back.

use cudarc::driver::{CudaSlice, DeviceRepr, LaunchConfig, PushKernelArg};

use super::compile::Precision;
use super::device::Cuda;
use super::driver_error;
use crate::error::{Error, Result};
use crate::kernels::attention::{AttnKind, AttnLayout, AttnOpts};

/// Must match `struct AttnParams` in kernels/attention_common.cuh field for field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct AttnParams {
    n: i32,
    d: i32,
    heads: i32,
    causal: i32,
    alibi: i32,
    pad0: i32,
    scale: f32,
    bias: f32,
    st: i64,
    sh: i64,
    sb: i64,
    q_off: i64,
    k_off: i64,
    v_off: i64,
    o_st: i64,
    o_sh: i64,
    o_sb: i64,
}

// SAFETY: plain old data with C layout, passed by value to the kernels.
unsafe impl DeviceRepr for AttnParams {}

/// Query rows per block of every attention kernel (F32_ROWS, FWD_BQ and BWD_BKV in the sources).
const BLOCK_ROWS: usize = 64;

/// Dynamic shared memory, in bytes, of kernel `entry` (0 for f32 and the prep kernel, whose
/// shared memory is static). Mirrors the tile constants of attention_mma.cu; public so the CPU
/// emulation of the kernels allocates exactly what a launch gets.
pub fn shared_bytes(precision: Precision, d: usize, entry: &str) -> usize {
    if precision == Precision::F32 {
        return 0;
    }
    let row = d + 8;
    let elems = match entry {
        // Two buffers of K and V, 64 keys each.
        "sigmoid_forward" | "softmax_forward" => 2 * 2 * 64 * row,
        // Two buffers of K and V.
        "sigmoid_backward_dq" | "softmax_backward_dq" => 2 * 2 * 32 * row,
        // K, V; two buffers of Q and dO; two of LSE and D (f32: two elements each).
        "sigmoid_backward_dkdv" | "softmax_backward_dkdv" => 2 * 64 * row + 2 * 2 * 32 * row + 2 * 2 * 32 * 2,
        _ => 0,
    };
    2 * elems
}

/// A device buffer in the problem's precision.
enum Buf {
    F32(CudaSlice<f32>),
    Half(CudaSlice<u16>),
}

/// `values` rounded to `precision`, as f32: what the kernels see, so the f64 reference can be
/// computed on the same inputs.
pub fn round_to(precision: Precision, values: &[f32]) -> Vec<f32> {
    match precision {
        Precision::F32 => values.to_vec(),
        _ => from_bits(precision, &to_bits(precision, values)),
    }
}

fn to_bits(precision: Precision, values: &[f32]) -> Vec<u16> {
    match precision {
        Precision::F16 => values.iter().map(|v| half::f16::from_f32(*v).to_bits()).collect(),
        _ => values.iter().map(|v| half::bf16::from_f32(*v).to_bits()).collect(),
    }
}

fn from_bits(precision: Precision, bits: &[u16]) -> Vec<f32> {
    match precision {
        Precision::F16 => bits.iter().map(|b| half::f16::from_bits(*b).to_f32()).collect(),
        _ => bits.iter().map(|b| half::bf16::from_bits(*b).to_f32()).collect(),
    }
}

impl Buf {
    fn upload(cuda: &Cuda, precision: Precision, values: &[f32]) -> Result<Buf> {
        let s = cuda.stream();
        Ok(match precision {
            Precision::F32 => Buf::F32(s.clone_htod(values).map_err(|e| driver_error("upload", e))?),
            _ => Buf::Half(s.clone_htod(&to_bits(precision, values)).map_err(|e| driver_error("upload", e))?),
        })
    }

    fn read(&self, cuda: &Cuda, precision: Precision) -> Result<Vec<f32>> {
        let s = cuda.stream();
        match self {
            Buf::F32(b) => s.clone_dtoh(b).map_err(|e| driver_error("download", e)),
            Buf::Half(b) => Ok(from_bits(precision, &s.clone_dtoh(b).map_err(|e| driver_error("download", e))?)),
        }
    }
}

/// One attention problem on the card: QKV, O, dO, dQKV in the chosen precision, and the softmax
/// statistics (LSE, D) in f32. O and dQKV start as NaN, so an element a kernel forgets to write
/// fails the check.
pub struct CudaAttnBuffers {
    precision: Precision,
    layout: AttnLayout,
    qkv: Buf,
    o: Buf,
    dout: Buf,
    dqkv: Buf,
    lse: CudaSlice<f32>,
    delta: CudaSlice<f32>,
}

impl CudaAttnBuffers {
    /// Uploads `qkv` (laid out as `layout` says) and `dout`; checks the shape against what the
    /// precision's kernels support.
    pub fn new(cuda: &Cuda, precision: Precision, layout: AttnLayout, qkv: &[f32], dout: &[f32]) -> Result<Self> {
        validate(precision, &layout)?;
        let (qkv_len, o_len) = (layout.qkv_len(), layout.o_len());
        if qkv.len() < qkv_len || dout.len() < o_len {
            return Err(Error::Config(format!(
                "CUDA attention: the layout addresses {qkv_len} QKV and {o_len} dO elements, got {} and {}",
                qkv.len(),
                dout.len()
            )));
        }
        let stats = layout.stats_len();
        let s = cuda.stream();
        Ok(CudaAttnBuffers {
            precision,
            layout,
            qkv: Buf::upload(cuda, precision, qkv)?,
            o: Buf::upload(cuda, precision, &vec![f32::NAN; o_len])?,
            dout: Buf::upload(cuda, precision, dout)?,
            dqkv: Buf::upload(cuda, precision, &vec![f32::NAN; qkv.len()])?,
            lse: s.clone_htod(&vec![f32::NAN; stats]).map_err(|e| driver_error("upload", e))?,
            delta: s.clone_htod(&vec![f32::NAN; stats]).map_err(|e| driver_error("upload", e))?,
        })
    }

    /// The precision of the buffers.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// O after a forward pass.
    pub fn read_o(&self, cuda: &Cuda) -> Result<Vec<f32>> {
        self.o.read(cuda, self.precision)
    }

    /// dQ, dK, dV (in QKV's layout) after a backward pass.
    pub fn read_dqkv(&self, cuda: &Cuda) -> Result<Vec<f32>> {
        self.dqkv.read(cuda, self.precision)
    }

    fn params(&self, opts: &AttnOpts) -> AttnParams {
        let l = &self.layout;
        let [st, sh, sb] = l.qkv_strides.map(|v| v as i64);
        let [q_off, k_off, v_off] = l.qkv_offsets.map(|v| v as i64);
        let [o_st, o_sh, o_sb] = l.o_strides.map(|v| v as i64);
        let bias = match opts.kind {
            AttnKind::Sigmoid => opts.bias.unwrap_or(-(l.n as f32).ln()),
            AttnKind::Softmax => 0.0,
        };
        AttnParams {
            n: l.n as i32,
            d: l.d as i32,
            heads: l.heads as i32,
            causal: opts.causal as i32,
            alibi: opts.alibi as i32,
            pad0: 0,
            scale: 1.0 / (l.d as f32).sqrt(),
            bias,
            st,
            sh,
            sb,
            q_off,
            k_off,
            v_off,
            o_st,
            o_sh,
            o_sb,
        }
    }

    fn config(&self, entry: &str, rows_per_block: usize, threads: u32) -> LaunchConfig {
        let l = &self.layout;
        LaunchConfig {
            grid_dim: (l.n.div_ceil(rows_per_block) as u32, (l.batch * l.heads) as u32, 1),
            block_dim: (threads, 1, 1),
            shared_mem_bytes: shared_bytes(self.precision, l.d, entry) as u32,
        }
    }

    /// Queues the forward pass: O, and for softmax the row log-sum-exp.
    pub fn forward(&mut self, cuda: &Cuda, opts: &AttnOpts) -> Result<()> {
        let kernels = cuda.kernels(self.precision, self.layout.d)?;
        let entry = if opts.kind == AttnKind::Sigmoid { "sigmoid_forward" } else { "softmax_forward" };
        let f = kernels.get(entry)?;
        let p = self.params(opts);
        let cfg = self.config(entry, BLOCK_ROWS, self.precision.threads());
        let mut b = cuda.stream().launch_builder(f);
        match (&self.qkv, &mut self.o) {
            (Buf::F32(qkv), Buf::F32(o)) => b.arg(qkv).arg(o),
            (Buf::Half(qkv), Buf::Half(o)) => b.arg(qkv).arg(o),
            _ => return Err(Error::Cuda("mixed precisions in one problem".into())),
        };
        b.arg(&mut self.lse).arg(&p);
        // SAFETY: argument types and order match the kernel's signature; the grid covers the
        // layout that `new` checked against the buffer sizes.
        unsafe { b.launch(cfg) }.map_err(|e| driver_error(entry, e))?;
        Ok(())
    }

    /// Queues the backward pass (after a forward with the same options): dQ, dK, dV into dQKV.
    pub fn backward(&mut self, cuda: &Cuda, opts: &AttnOpts) -> Result<()> {
        let kernels = cuda.kernels(self.precision, self.layout.d)?;
        let p = self.params(opts);
        let sigmoid = opts.kind == AttnKind::Sigmoid;
        if !sigmoid {
            let entry = "softmax_backward_prep";
            let f = kernels.get(entry)?;
            let cfg = self.config(entry, 128, 128);
            let mut b = cuda.stream().launch_builder(f);
            match (&self.o, &self.dout) {
                (Buf::F32(o), Buf::F32(g)) => b.arg(o).arg(g),
                (Buf::Half(o), Buf::Half(g)) => b.arg(o).arg(g),
                _ => return Err(Error::Cuda("mixed precisions in one problem".into())),
            };
            b.arg(&mut self.delta).arg(&p);
            // SAFETY: as in `forward`.
            unsafe { b.launch(cfg) }.map_err(|e| driver_error(entry, e))?;
        }
        let names = if sigmoid {
            ["sigmoid_backward_dq", "sigmoid_backward_dkdv"]
        } else {
            ["softmax_backward_dq", "softmax_backward_dkdv"]
        };
        for entry in names {
            let f = kernels.get(entry)?;
            let cfg = self.config(entry, BLOCK_ROWS, self.precision.threads());
            let mut b = cuda.stream().launch_builder(f);
            match (&self.qkv, &self.dout, &mut self.dqkv) {
                (Buf::F32(qkv), Buf::F32(g), Buf::F32(dqkv)) => b.arg(qkv).arg(g).arg(dqkv),
                (Buf::Half(qkv), Buf::Half(g), Buf::Half(dqkv)) => b.arg(qkv).arg(g).arg(dqkv),
                _ => return Err(Error::Cuda("mixed precisions in one problem".into())),
            };
            b.arg(&self.lse).arg(&self.delta).arg(&p);
            // SAFETY: as in `forward`.
            unsafe { b.launch(cfg) }.map_err(|e| driver_error(entry, e))?;
        }
        Ok(())
    }
}

/// What the kernels of `precision` accept, as one error naming the problem.
pub(crate) fn validate(precision: Precision, l: &AttnLayout) -> Result<()> {
    if l.n == 0 || l.batch == 0 || l.heads == 0 {
        return Err(Error::Config(format!("CUDA attention: empty problem {l:?}")));
    }
    precision.check_head_dim(l.d)?;
    let bh = l.batch * l.heads;
    if bh > 65_535 || l.n > i32::MAX as usize {
        return Err(Error::Config(format!("CUDA attention: batch × heads = {bh} exceeds the grid's 65,535")));
    }
    if precision != Precision::F32 {
        let all = l.qkv_strides.iter().chain(&l.qkv_offsets).chain(&l.o_strides);
        if all.clone().any(|v| !v.is_multiple_of(8)) {
            return Err(Error::Config(format!(
                "CUDA {} attention loads 16 bytes at a time: strides and offsets must be multiples of 8 elements, \
                 got {l:?}",
                precision.name()
            )));
        }
    }
    Ok(())
}
