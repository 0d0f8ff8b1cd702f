//! `sigmix selftest --cuda`: every CUDA attention kernel against the same f64 reference as the
//! WGSL kernels (`reference::flash`), on awkward shapes (sequence lengths that are not multiples
//! of any tile, several heads, ALiBi, causal), computed on inputs rounded to the kernel's precision.
//! The same problems drive the CPU emulation test of the kernels (tests/tests/cuda.rs).

use super::attention::{CudaAttnBuffers, round_to};
use super::compile::Precision;
use super::device::Cuda;
use crate::error::Result;
use crate::kernels::attention::{AttnKind, AttnLayout, AttnOpts};
use crate::reference::{flash, rel_err, to_f64};
use crate::rng::Rng;
use crate::selftest::Check;

/// One attention problem of the selftest: [batch, heads, n, d], causal, ALiBi.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// [batch, heads, n, d].
    pub shape: [usize; 4],
    /// Causal mask.
    pub causal: bool,
    /// ALiBi bias.
    pub alibi: bool,
}

/// The problems each precision is checked on (n off every tile size: 64, 32).
pub fn cases(precision: Precision) -> Vec<Case> {
    let d_odd = if precision == Precision::F32 { 36 } else { 48 };
    vec![
        Case { shape: [2, 3, 65, 16], causal: true, alibi: false },
        Case { shape: [1, 2, 77, d_odd], causal: false, alibi: true },
        Case { shape: [2, 1, 130, 64], causal: true, alibi: true },
        Case { shape: [1, 2, 97, 128], causal: false, alibi: false },
    ]
}

/// A problem with its random inputs, already rounded to the precision.
pub struct Problem {
    /// Shape and masks.
    pub case: Case,
    /// Sigmoid or softmax.
    pub kind: AttnKind,
    /// Element type of the kernels.
    pub precision: Precision,
    /// Q, K, V packed (B, H, n, d) one after the other.
    pub qkv: Vec<f32>,
    /// The output gradient (B, H, n, d).
    pub dout: Vec<f32>,
}

impl Problem {
    /// Uniform inputs in [-1, 1], rounded to `precision`.
    pub fn random(rng: &mut Rng, precision: Precision, kind: AttnKind, case: Case) -> Problem {
        let one = case.shape.iter().product::<usize>();
        let qkv = round_to(precision, &rng.uniform_vec(3 * one, -1.0, 1.0));
        let dout = round_to(precision, &rng.uniform_vec(one, -1.0, 1.0));
        Problem { case, kind, precision, qkv, dout }
    }

    /// The packed layout.
    pub fn layout(&self) -> AttnLayout {
        let [batch, heads, n, d] = self.case.shape;
        AttnLayout::packed(batch, heads, n, d)
    }

    /// Kind and masks, with the default sigmoid bias −ln n.
    pub fn opts(&self) -> AttnOpts {
        AttnOpts { kind: self.kind, causal: self.case.causal, alibi: self.case.alibi, bias: None, tile: None }
    }

    /// O, dQ, dK, dV as computed by a kernel, each against the f64 reference.
    pub fn checks(&self, o: &[f32], dqkv: &[f32]) -> Vec<Check> {
        let [batch, heads, n, d] = self.case.shape;
        let one = batch * heads * n * d;
        let spec = flash::AttnSpec {
            bh: batch * heads,
            heads,
            n,
            d,
            causal: self.case.causal,
            alibi: self.case.alibi,
            sigmoid: self.kind == AttnKind::Sigmoid,
            bias: -(n as f64).ln(),
        };
        let [or, dq, dk, dv] = flash::forward_backward(&spec, &to_f64(&self.qkv), &to_f64(&self.dout));
        let shape = format!(
            "{batch}×{heads}×{n}×{d}{}{}",
            if self.case.causal { " causal" } else { "" },
            if self.case.alibi { " alibi" } else { "" }
        );
        let dqkv = if dqkv.len() == 3 * one { dqkv } else { &[][..] };
        let part = |i: usize| dqkv.get(i * one..(i + 1) * one).unwrap_or(&[]);
        let check = |what: &str, got: &[f32], reference: &[f64]| Check {
            kernel: format!("cuda {} {:?} {what}", self.precision.name(), self.kind).to_lowercase(),
            shape: shape.clone(),
            rel_err: rel_err(got, reference),
            tolerance: self.precision.tolerance(),
        };
        vec![check("O", o, &or), check("dQ", part(0), &dq), check("dK", part(1), &dk), check("dV", part(2), &dv)]
    }
}

/// Runs one problem's forward and backward on the card and checks the four outputs.
pub fn check_problem(cuda: &Cuda, problem: &Problem) -> Result<Vec<Check>> {
    let opts = problem.opts();
    let mut bufs = CudaAttnBuffers::new(cuda, problem.precision, problem.layout(), &problem.qkv, &problem.dout)?;
    bufs.forward(cuda, &opts)?;
    bufs.backward(cuda, &opts)?;
    Ok(problem.checks(&bufs.read_o(cuda)?, &bufs.read_dqkv(cuda)?))
}

/// Every precision the card supports (the tensor-core ones need compute capability 8.0), both
/// kinds, every case.
pub fn run_all(cuda: &Cuda, seed: u64) -> Result<Vec<Check>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let tensor_cores = cuda.info().compute_capability.0 >= 8;
    for precision in Precision::ALL {
        if precision != Precision::F32 && !tensor_cores {
            continue;
        }
        for kind in [AttnKind::Sigmoid, AttnKind::Softmax] {
            for case in cases(precision) {
                out.extend(check_problem(cuda, &Problem::random(&mut rng, precision, kind, case))?);
            }
        }
    }
    Ok(out)
}
