//! Launchers for `shaders/attention_sigmoid.wgsl` and `shaders/attention_softmax.wgsl`:
//! flash-style attention forward and backward, never materialising the n×n matrix.

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, u32_of};
pub use crate::ops::attention::{AttnKind, AttnLayout, AttnOpts};
use crate::recorder::{Exec, Recorder};
use crate::tensor::Tensor;

const R: Access = Access::Read;
const W: Access = Access::ReadWrite;
const SIG_FWD: KernelSpec =
    KernelSpec { shader: "attention_sigmoid", entry: "sigmoid_forward", storage: &[(1, R), (2, W)] };
const SIG_DQ: KernelSpec =
    KernelSpec { shader: "attention_sigmoid", entry: "sigmoid_backward_dq", storage: &[(1, R), (4, R), (5, W)] };
const SIG_DKDV: KernelSpec =
    KernelSpec { shader: "attention_sigmoid", entry: "sigmoid_backward_dkdv", storage: &[(1, R), (4, R), (5, W)] };
const SM_FWD: KernelSpec =
    KernelSpec { shader: "attention_softmax", entry: "softmax_forward", storage: &[(1, R), (2, W), (6, W)] };
const SM_PREP: KernelSpec =
    KernelSpec { shader: "attention_softmax", entry: "softmax_backward_prep", storage: &[(3, R), (4, R), (8, W)] };
const SM_DQ: KernelSpec = KernelSpec {
    shader: "attention_softmax",
    entry: "softmax_backward_dq",
    storage: &[(1, R), (4, R), (5, W), (7, R), (9, R)],
};
const SM_DKDV: KernelSpec = KernelSpec {
    shader: "attention_softmax",
    entry: "softmax_backward_dkdv",
    storage: &[(1, R), (4, R), (5, W), (7, R), (9, R)],
};

/// Rows per workgroup (the shaders' BQ override).
const BLOCK: usize = 32;

/// On the CPU a tile size has no meaning, but a malformed one is still a mistake worth naming.
fn overrides_valid(opts: &AttnOpts) -> Result<()> {
    match opts.tile {
        Some(t) if t < 64 || !t.is_multiple_of(16) => {
            Err(Error::Config(format!("attention: tile of {t} vec4s must be a multiple of 16, at least 64")))
        }
        _ => Ok(()),
    }
}

/// Keys (or queries) per shared tile at most: the shaders' MAX_TILE_ROWS.
const MAX_TILE_ROWS: usize = 128;

/// Override constants for `gpu` and `l`: BQ, and the shared tile (in vec4s). By default the
/// tile holds what one pass over the keys can use, min(n, 128) rows of d, capped by the largest
/// such that two tiles plus 1 KiB of row statistics fit the adapter's workgroup memory (480 at
/// the 16 KiB WebGPU floor, 992 on 32 KiB), and at 1024. Declaring no more than a shape uses
/// matters: WebGPU zero-fills workgroup memory at the start of every workgroup (in Chromium on
/// its software adapter, full-size tiles cost a fifth of a training step and ten seconds of
/// compilation), and on a real GPU a smaller footprint lets more workgroups share a compute
/// unit.
fn overrides(gpu: &crate::Gpu, l: &AttnLayout, opts: &AttnOpts) -> Result<[(&'static str, f64); 2]> {
    let limit = gpu.limits().max_compute_workgroup_storage_size as usize;
    let largest = (limit.saturating_sub(1024) / 32 / 16 * 16).clamp(64, 1024);
    let needed = (l.n.clamp(1, MAX_TILE_ROWS) * l.d / 4).next_multiple_of(16).max(64);
    let tile = opts.tile.unwrap_or(largest.min(needed));
    if !(64..=largest).contains(&tile) || !tile.is_multiple_of(16) {
        return Err(Error::Config(format!(
            "attention: tile of {tile} vec4s must be a multiple of 16 in 64..={largest} on this adapter"
        )));
    }
    Ok([("BQ", BLOCK as f64), ("TILE_VEC4", tile as f64)])
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    d: u32,
    heads: u32,
    causal: u32,
    alibi: u32,
    _p0: [u32; 3],
    scale: f32,
    bias: f32,
    _f: [f32; 2],
    st: u32,
    sh: u32,
    sb: u32,
    _p3: u32,
    q_off: u32,
    k_off: u32,
    v_off: u32,
    _p4: u32,
    o_st: u32,
    o_sh: u32,
    o_sb: u32,
    o_off: u32,
}

fn params(op: &'static str, l: &AttnLayout, o: &AttnOpts) -> Result<Params> {
    if l.d < 16 || l.d > 128 || !l.d.is_multiple_of(4) {
        return Err(Error::Config(format!(
            "{op}: head dimension {} unsupported; use a multiple of 4 in 16..=128",
            l.d
        )));
    }
    if l.n == 0 || l.batch == 0 || l.heads == 0 {
        return Err(Error::Config(format!("{op}: empty problem {l:?}")));
    }
    let u = |what: &str, v: usize| u32_of(op, what, v);
    Ok(Params {
        n: u("n", l.n)?,
        d: u("d", l.d)?,
        heads: u("heads", l.heads)?,
        causal: o.causal as u32,
        alibi: o.alibi as u32,
        scale: 1.0 / (l.d as f32).sqrt(),
        bias: o.bias.unwrap_or(-(l.n as f32).ln()),
        st: u("stride", l.qkv_strides[0])?,
        sh: u("stride", l.qkv_strides[1])?,
        sb: u("stride", l.qkv_strides[2])?,
        q_off: u("offset", l.qkv_offsets[0])?,
        k_off: u("offset", l.qkv_offsets[1])?,
        v_off: u("offset", l.qkv_offsets[2])?,
        o_st: u("stride", l.o_strides[0])?,
        o_sh: u("stride", l.o_strides[1])?,
        o_sb: u("stride", l.o_strides[2])?,
        ..Default::default()
    })
}

fn check_fits(op: &'static str, what: &str, t: &Tensor, need: usize) -> Result<()> {
    if need + 1 > t.len() {
        return Err(Error::shape(
            op,
            format!("{what} (layout addresses {} elements)", need + 1),
            &[need + 1],
            t.shape(),
        ));
    }
    Ok(())
}

fn check_layout(op: &'static str, l: &AttnLayout, qkv: &Tensor, os: &[(&str, &Tensor)]) -> Result<()> {
    check_fits(op, "qkv", qkv, l.qkv_len() - 1)?;
    for (what, t) in os {
        check_fits(op, what, t, l.o_len() - 1)?;
    }
    Ok(())
}

fn grid(gpu: &crate::Gpu, l: &AttnLayout) -> Result<[u32; 3]> {
    let bh = l.batch * l.heads;
    let max = gpu.limits().max_compute_workgroups_per_dimension as usize;
    if bh > max {
        return Err(Error::Config(format!(
            "attention: batch × heads = {bh} exceeds the adapter's {max} workgroups per dimension"
        )));
    }
    Ok([l.n.div_ceil(BLOCK) as u32, bh as u32, 1])
}

/// Forward pass: writes O; softmax also writes the row log-sum-exp `lse` (B·H·n), which
/// its backward needs. Sigmoid needs no statistics (`lse` may be `None`).
pub fn attention_forward(
    rec: &mut Recorder,
    qkv: &Tensor,
    o: &Tensor,
    lse: Option<&Tensor>,
    l: &AttnLayout,
    opts: &AttnOpts,
) -> Result<()> {
    const OP: &str = "attention_forward";
    let p = params(OP, l, opts)?;
    check_layout(OP, l, qkv, &[("o", o)])?;
    if opts.kind == AttnKind::Softmax {
        let Some(lse) = lse else {
            return Err(Error::Config(format!(
                "{OP}: softmax attention needs an lse tensor of {} elements",
                l.stats_len()
            )));
        };
        expect_shape(OP, "lse", lse, &[l.stats_len()])?;
    }
    let lse = if opts.kind == AttnKind::Softmax { lse } else { None };
    let mut operands = vec![qkv, o];
    operands.extend(lse);
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            let grid = grid(g.gpu(), l)?;
            let ov = overrides(g.gpu(), l, opts)?;
            match lse {
                None => g.dispatch(&SIG_FWD, &ov, &p, &[qkv.binding()?, o.binding()?], grid),
                Some(lse) => g.dispatch(&SM_FWD, &ov, &p, &[qkv.binding()?, o.binding()?, lse.binding()?], grid),
            }
        }
        Exec::Cpu => {
            overrides_valid(opts)?;
            cpu::attention::forward(qkv, o, lse, l, opts)
        }
    }
}

/// Statistics the softmax backward needs: the forward's LSE and a D scratch, both (B·H·n).
pub struct SoftmaxStats<'a> {
    /// Row log-sum-exp written by the forward pass.
    pub lse: &'a Tensor,
    /// Scratch for D = rowsum(dO ∘ O).
    pub delta: &'a Tensor,
}

/// Backward pass: writes dQ, dK, dV into `dqkv` (same layout as `qkv`, every Q/K/V element
/// overwritten). Softmax needs `o` and its statistics; sigmoid needs neither.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    rec: &mut Recorder,
    qkv: &Tensor,
    o: &Tensor,
    dout: &Tensor,
    dqkv: &Tensor,
    stats: Option<SoftmaxStats<'_>>,
    l: &AttnLayout,
    opts: &AttnOpts,
) -> Result<()> {
    const OP: &str = "attention_backward";
    let p = params(OP, l, opts)?;
    check_layout(OP, l, qkv, &[("o", o), ("dout", dout)])?;
    check_layout(OP, l, dqkv, &[])?;
    let stats = match (opts.kind, stats) {
        (AttnKind::Sigmoid, _) => None,
        (AttnKind::Softmax, None) => {
            return Err(Error::Config(format!("{OP}: softmax attention needs its forward LSE and a D scratch")));
        }
        (AttnKind::Softmax, Some(s)) => {
            expect_shape(OP, "lse", s.lse, &[l.stats_len()])?;
            expect_shape(OP, "delta", s.delta, &[l.stats_len()])?;
            Some(s)
        }
    };
    let mut operands = vec![qkv, o, dout, dqkv];
    if let Some(s) = &stats {
        operands.extend([s.lse, s.delta]);
    }
    match rec.exec(OP, &operands)? {
        Exec::Gpu(g) => {
            let grid = grid(g.gpu(), l)?;
            let ov = overrides(g.gpu(), l, opts)?;
            match stats {
                None => {
                    let b = [qkv.binding()?, dout.binding()?, dqkv.binding()?];
                    g.dispatch(&SIG_DQ, &ov, &p, &b, grid)?;
                    g.dispatch(&SIG_DKDV, &ov, &p, &b, grid)
                }
                Some(s) => {
                    let prep = [o.binding()?, dout.binding()?, s.delta.binding()?];
                    g.dispatch(&SM_PREP, &ov, &p, &prep, grid)?;
                    let b = [qkv.binding()?, dout.binding()?, dqkv.binding()?, s.lse.binding()?, s.delta.binding()?];
                    g.dispatch(&SM_DQ, &ov, &p, &b, grid)?;
                    g.dispatch(&SM_DKDV, &ov, &p, &b, grid)
                }
            }
        }
        Exec::Cpu => {
            overrides_valid(opts)?;
            cpu::attention::backward(qkv, o, dout, dqkv, stats.map(|s| (s.lse, s.delta)), l, opts)
        }
    }
}
