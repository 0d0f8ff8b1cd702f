//! Reference row softmax with scale and causal mask.

/// Keys visible to row `r` (see shaders/softmax.wgsl).
pub fn visible(r: usize, cols: usize, q_len: usize, causal: bool) -> usize {
    if causal { cols.min(r % q_len + 1 + (cols - q_len)) } else { cols }
}

/// y = softmax(scale·x) per row; masked entries 0.
pub fn softmax_forward(x: &[f64], cols: usize, scale: f64, causal: bool, q_len: usize) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (r, (xr, yr)) in x.chunks(cols).zip(y.chunks_mut(cols)).enumerate() {
        let n = visible(r, cols, q_len, causal);
        let m = xr[..n].iter().map(|v| scale * v).fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = xr[..n].iter().map(|v| (scale * v - m).exp()).sum();
        for j in 0..n {
            yr[j] = (scale * xr[j] - m).exp() / s;
        }
    }
    y
}

/// dx = scale·y⊙(dy − Σ y·dy) per row.
pub fn softmax_backward(y: &[f64], dy: &[f64], cols: usize, scale: f64) -> Vec<f64> {
    let mut dx = vec![0.0; y.len()];
    for ((yr, dyr), dxr) in y.chunks(cols).zip(dy.chunks(cols)).zip(dx.chunks_mut(cols)) {
        let d: f64 = yr.iter().zip(dyr).map(|(a, b)| a * b).sum();
        for j in 0..cols {
            dxr[j] = scale * yr[j] * (dyr[j] - d);
        }
    }
    dx
}
