//! Reference LayerNorm / RMSNorm forward and backward.

/// y, and per-row (mean, rstd).
pub fn norm_forward(x: &[f64], gamma: &[f64], beta: &[f64], rms: bool, eps: f64) -> (Vec<f64>, Vec<f64>) {
    let cols = gamma.len();
    let mut y = vec![0.0; x.len()];
    let mut stats = Vec::new();
    for (xr, yr) in x.chunks(cols).zip(y.chunks_mut(cols)) {
        let n = cols as f64;
        let mean = if rms { 0.0 } else { xr.iter().sum::<f64>() / n };
        let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let rstd = 1.0 / (var + eps).sqrt();
        for j in 0..cols {
            let b = if rms { 0.0 } else { beta[j] };
            yr[j] = (xr[j] - mean) * rstd * gamma[j] + b;
        }
        stats.extend([mean, rstd]);
    }
    (y, stats)
}

/// (dx, dgamma, dbeta) given the forward's stats.
pub fn norm_backward(x: &[f64], gamma: &[f64], stats: &[f64], dy: &[f64], rms: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let cols = gamma.len();
    let mut dx = vec![0.0; x.len()];
    let mut dg = vec![0.0; cols];
    let mut db = vec![0.0; cols];
    for (r, ((xr, dyr), dxr)) in x.chunks(cols).zip(dy.chunks(cols)).zip(dx.chunks_mut(cols)).enumerate() {
        let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
        let xh: Vec<f64> = xr.iter().map(|v| (v - mean) * rstd).collect();
        let g: Vec<f64> = (0..cols).map(|j| gamma[j] * dyr[j]).collect();
        let n = cols as f64;
        let mg = if rms { 0.0 } else { g.iter().sum::<f64>() / n };
        let mgx = g.iter().zip(&xh).map(|(a, b)| a * b).sum::<f64>() / n;
        for j in 0..cols {
            dxr[j] = rstd * (g[j] - mg - xh[j] * mgx);
            dg[j] += dyr[j] * xh[j];
            db[j] += dyr[j];
        }
    }
    if rms {
        db.iter_mut().for_each(|v| *v = 0.0);
    }
    (dx, dg, db)
}
