//! `sigmix bench moe`: an MoE block (router, dispatch, grouped expert MLPs, combine, forward
//! and backward) against a dense GELU MLP with the same active parameters per token (hidden
//! width K·H), in tokens per second on the same device.

use sigmix::nn::{Mlp, Moe, MoeConfig, ParamBuilder};
use sigmix::rng::Rng;
use sigmix::{DType, Device, Recorder, Result, Tensor};

use super::harness::{Workload, time_interleaved};

/// Tokens per timed step, model width and expert hidden width.
const TOKENS: usize = 2048;
const DIM: usize = 64;
const HIDDEN: usize = 256;

/// One row: (name, shape, milliseconds, thousand tokens per second).
pub type MoeRow = (String, String, f64, f64);

/// Forward + backward of one block, MoE at several (E, K) and the matching dense MLPs; each
/// K's dense MLP and its MoE blocks are timed in interleaved rounds, so the ratios between them
/// compare runs made under the same machine conditions.
pub fn bench_moe(device: &Device) -> Result<Vec<MoeRow>> {
    let mut rng = Rng::new(9);
    let x = Tensor::from_f32(device, "x", &[TOKENS, DIM], &rng.uniform_vec(TOKENS * DIM, -1.0, 1.0))?;
    let dy = Tensor::from_f32(device, "dy", &[TOKENS, DIM], &rng.uniform_vec(TOKENS * DIM, -1.0, 1.0))?;
    let y = Tensor::empty(device, "y", &[TOKENS, DIM], DType::F32)?;
    let dx = Tensor::empty(device, "dx", &[TOKENS, DIM], DType::F32)?;
    let mut rows = Vec::new();
    let rate = |s: f64| TOKENS as f64 / s / 1e3;
    for k in [1, 2] {
        let mut pb = ParamBuilder::default();
        let mlp = Mlp::new(device, &mut pb, "dense", TOKENS, DIM, k * HIDDEN, 0.02, 0.02)?;
        let mlp_weights = pb.build(device, 1)?;
        let mut names = vec![format!("dense MLP, hidden {}", k * HIDDEN)];
        let mut blocks = Vec::new();
        for e in [4, 8, 16] {
            let cfg = MoeConfig { experts: e, top_k: k, ..Default::default() };
            let mut pb = ParamBuilder::default();
            let moe = Moe::new(device, &mut pb, "moe", TOKENS, DIM, HIDDEN, &cfg, 0.02, 0.02)?;
            blocks.push((moe, pb.build(device, 1)?));
            names.push(format!("MoE E={e} K={k}, hidden {HIDDEN}"));
        }
        let mut work: Vec<Workload<'_>> = vec![Box::new(|rec: &mut Recorder| {
            mlp.forward(rec, &mlp_weights, &x, &y)?;
            mlp.backward(rec, &mlp_weights, &x, &dy, &dx, false)
        })];
        for (moe, w) in &blocks {
            work.push(Box::new(|rec: &mut Recorder| {
                moe.forward(rec, w, &x, &y)?;
                moe.backward(rec, w, &x, &dy, &dx, false)
            }));
        }
        let seconds = time_interleaved(device, &mut work)?;
        for (name, s) in names.into_iter().zip(seconds) {
            rows.push((name, format!("{TOKENS}×{DIM}"), 1e3 * s, rate(s)));
        }
    }
    Ok(rows)
}
