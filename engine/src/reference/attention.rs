//! Reference materialised softmax attention, forward and backward, per (batch·head).
//!
//! q, k, v, o: (BH, T, d) row-major; p: (BH, T, T). Scale 1/√d, optional causal mask.

/// (o, p) with p = softmax(q·kᵀ/√d) (masked), o = p·v.
pub fn attention_forward(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    bh: usize,
    t: usize,
    d: usize,
    causal: bool,
) -> (Vec<f64>, Vec<f64>) {
    let scale = 1.0 / (d as f64).sqrt();
    let mut s = vec![0.0; bh * t * t];
    for z in 0..bh {
        let (qz, kz) = (&q[z * t * d..], &k[z * t * d..]);
        super::matmul::matmul(qz, kz, &mut s[z * t * t..(z + 1) * t * t], t, t, d, false, true, 1.0, false);
    }
    let p = super::softmax::softmax_forward(&s, t, scale, causal, t);
    let mut o = vec![0.0; bh * t * d];
    for z in 0..bh {
        super::matmul::matmul(
            &p[z * t * t..],
            &v[z * t * d..],
            &mut o[z * t * d..(z + 1) * t * d],
            t,
            d,
            t,
            false,
            false,
            1.0,
            false,
        );
    }
    (o, p)
}

/// (dq, dk, dv) given p from the forward and the output gradient `dout`.
pub fn attention_backward(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    p: &[f64],
    dout: &[f64],
    bh: usize,
    t: usize,
    d: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let scale = 1.0 / (d as f64).sqrt();
    let (mut dq, mut dk, mut dv) = (vec![0.0; q.len()], vec![0.0; k.len()], vec![0.0; v.len()]);
    let mut dp = vec![0.0; p.len()];
    for z in 0..bh {
        let (pz, dz) = (&p[z * t * t..(z + 1) * t * t], &dout[z * t * d..(z + 1) * t * d]);
        super::matmul::matmul(
            dz,
            &v[z * t * d..],
            &mut dp[z * t * t..(z + 1) * t * t],
            t,
            t,
            d,
            false,
            true,
            1.0,
            false,
        );
        super::matmul::matmul(pz, dz, &mut dv[z * t * d..(z + 1) * t * d], t, d, t, true, false, 1.0, false);
    }
    let ds = super::softmax::softmax_backward(p, &dp, t, scale);
    for z in 0..bh {
        let dsz = &ds[z * t * t..(z + 1) * t * t];
        super::matmul::matmul(
            dsz,
            &k[z * t * d..],
            &mut dq[z * t * d..(z + 1) * t * d],
            t,
            d,
            t,
            false,
            false,
            1.0,
            false,
        );
        super::matmul::matmul(
            dsz,
            &q[z * t * d..],
            &mut dk[z * t * d..(z + 1) * t * d],
            t,
            d,
            t,
            true,
            false,
            1.0,
            false,
        );
    }
    (dq, dk, dv)
}
