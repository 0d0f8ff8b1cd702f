//! Reference sigmoid and softmax attention with bias, ALiBi and causal masking, forward and
//! backward, materialised in f64: the oracle for the flash kernels.
//!
//! q, k, v, o: (BH, n, d) row-major, head h = z mod heads; p: (BH, n, n).

/// The attention problem.
#[derive(Clone, Copy, Debug)]
pub struct AttnSpec {
    /// Batch × heads.
    pub bh: usize,
    /// Heads (for the ALiBi slope of z mod heads).
    pub heads: usize,
    /// Sequence length.
    pub n: usize,
    /// Head dimension.
    pub d: usize,
    /// Mask keys after the query.
    pub causal: bool,
    /// Add −slope_h·|i − j|, slope_h = 2^(−8(h+1)/H).
    pub alibi: bool,
    /// σ instead of softmax.
    pub sigmoid: bool,
    /// Scalar logit bias b (sigmoid only).
    pub bias: f64,
}

impl AttnSpec {
    fn slope(&self, z: usize) -> f64 {
        if self.alibi { (-8.0 * ((z % self.heads) as f64 + 1.0) / self.heads as f64).exp2() } else { 0.0 }
    }

    fn visible(&self, i: usize, j: usize) -> bool {
        !self.causal || j <= i
    }
}

/// (o, p).
pub fn forward(s: &AttnSpec, q: &[f64], k: &[f64], v: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (s.n, s.d);
    let scale = 1.0 / (d as f64).sqrt();
    let mut p = vec![0.0; s.bh * n * n];
    let mut o = vec![0.0; s.bh * n * d];
    for z in 0..s.bh {
        let sl = s.slope(z);
        for i in 0..n {
            let row = &mut p[(z * n + i) * n..(z * n + i + 1) * n];
            let mut logits = vec![f64::NEG_INFINITY; n];
            for (j, lg) in logits.iter_mut().enumerate() {
                if s.visible(i, j) {
                    let dotv: f64 = (0..d).map(|c| q[(z * n + i) * d + c] * k[(z * n + j) * d + c]).sum();
                    *lg = scale * dotv - sl * (i as f64 - j as f64).abs() + if s.sigmoid { s.bias } else { 0.0 };
                }
            }
            if s.sigmoid {
                for j in 0..n {
                    row[j] = if s.visible(i, j) { 1.0 / (1.0 + (-logits[j]).exp()) } else { 0.0 };
                }
            } else {
                let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = logits.iter().map(|l| (l - m).exp()).sum();
                for j in 0..n {
                    row[j] = (logits[j] - m).exp() / sum;
                }
            }
            for c in 0..d {
                o[(z * n + i) * d + c] = (0..n).map(|j| row[j] * v[(z * n + j) * d + c]).sum();
            }
        }
    }
    (o, p)
}

/// (dq, dk, dv) from p of the forward pass.
pub fn backward(
    s: &AttnSpec,
    q: &[f64],
    k: &[f64],
    v: &[f64],
    p: &[f64],
    dout: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (n, d) = (s.n, s.d);
    let scale = 1.0 / (d as f64).sqrt();
    let (mut dq, mut dk, mut dv) = (vec![0.0; q.len()], vec![0.0; k.len()], vec![0.0; v.len()]);
    for z in 0..s.bh {
        for i in 0..n {
            let prow = &p[(z * n + i) * n..(z * n + i + 1) * n];
            let g = &dout[(z * n + i) * d..(z * n + i + 1) * d];
            let dp: Vec<f64> = (0..n).map(|j| (0..d).map(|c| g[c] * v[(z * n + j) * d + c]).sum()).collect();
            let rowsum: f64 = prow.iter().zip(&dp).map(|(a, b)| a * b).sum();
            for j in 0..n {
                let ds = if s.sigmoid { prow[j] * (1.0 - prow[j]) * dp[j] } else { prow[j] * (dp[j] - rowsum) };
                for c in 0..d {
                    dv[(z * n + j) * d + c] += prow[j] * g[c];
                    dq[(z * n + i) * d + c] += scale * ds * k[(z * n + j) * d + c];
                    dk[(z * n + j) * d + c] += scale * ds * q[(z * n + i) * d + c];
                }
            }
        }
    }
    (dq, dk, dv)
}

/// O, dQ, dK, dV for Q, K, V packed one after the other in `qkv` (each (BH, n, d)) and the output
/// gradient `dout`: what a flash kernel's forward and backward must produce.
pub fn forward_backward(s: &AttnSpec, qkv: &[f64], dout: &[f64]) -> [Vec<f64>; 4] {
    let one = s.bh * s.n * s.d;
    let (q, k, v) = (&qkv[..one], &qkv[one..2 * one], &qkv[2 * one..3 * one]);
    let (o, p) = forward(s, q, k, v);
    let (dq, dk, dv) = backward(s, q, k, v, &p, dout);
    [o, dq, dk, dv]
}
