//! Reference matrix product.

/// C (m×n) = alpha·op(A)·op(B) (+ C) for one matrix; `a` is m×k (k×m when `ta`), `b` k×n (n×k when `tb`).
pub fn matmul(
    a: &[f64],
    b: &[f64],
    c: &mut [f64],
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    alpha: f64,
    accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for kk in 0..k {
                let av = if ta { a[kk * m + i] } else { a[i * k + kk] };
                let bv = if tb { b[j * k + kk] } else { b[kk * n + j] };
                s += av * bv;
            }
            let idx = i * n + j;
            c[idx] = alpha * s + if accumulate { c[idx] } else { 0.0 };
        }
    }
}
