// norm.wgsl — LayerNorm and RMSNorm over the last dimension, forward and backward.
// (row_reduce.wgsl, concatenated in front, gives WG, reduce_max and reduce_sum.)
//
//   layernorm_forward   y = (x − μ)·rstd·γ + β,  rstd = 1/√(var + eps); saves (μ, rstd)
//   rmsnorm_forward     y = x·rstd·γ,            rstd = 1/√(mean(x²) + eps); saves (0, rstd)
//   norm_backward_input dx (+)= rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = γ·dy
//                       (RMSNorm: `rms` = 1 drops the mean(g) term and uses x̂ = x·rstd)
//   layernorm_backward_params  dγ += Σ_r dy·x̂,  dβ += Σ_r dy
//   rmsnorm_backward_params    dγ += Σ_r dy·x̂
//                       one invocation per column, rows in order: deterministic sums.
// Row kernels use one workgroup of 64 invocations per row (strided loads + tree reduction).
// stats holds two floats per row: (mean, rstd), mean = 0 for RMSNorm. x, y, dy and dx share
// one row layout (see Params), so rows may be strided slices of a wider matrix.

struct Params {
    rows: u32,
    cols: u32,
    rms: u32,         // 1 = RMSNorm, 0 = LayerNorm
    accumulate: u32,  // backward_input: 1 adds into dx (residual stream gradients)
    eps: f32,
    // Where row r starts: offset + (r / group)·outer + (r mod group)·cols. Contiguous rows
    // use group = 1, outer = cols; QK-norm uses group = heads, outer = 3·C to normalise each
    // head's q (or k) inside the fused QKV activation in place of a copy.
    group: u32,
    outer: u32,
    offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
@group(0) @binding(6) var<storage, read> stats_in: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@group(0) @binding(9) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(10) var<storage, read_write> dbeta: array<f32>;

fn row_base(r: u32) -> u32 {
    return p.offset + (r / p.group) * p.outer + (r % p.group) * p.cols;
}

fn row_of(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.x + wg.y * nwg.x;
}

@compute @workgroup_size(64)
fn layernorm_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = row_of(wg, nwg);
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row_base(row);
    let inv_n = 1.0 / f32(p.cols);
    var s = 0.0;
    for (var j = lid; j < p.cols; j += WG) {
        s += x[base + j];
    }
    let mean = reduce_sum(s, lid) * inv_n;
    var v = 0.0;
    for (var j = lid; j < p.cols; j += WG) {
        let d = x[base + j] - mean;
        v += d * d;
    }
    let rstd = inverseSqrt(reduce_sum(v, lid) * inv_n + p.eps);
    for (var j = lid; j < p.cols; j += WG) {
        y[base + j] = (x[base + j] - mean) * rstd * gamma[j] + beta[j];
    }
    if (lid == 0u) {
        stats[2u * row] = mean;
        stats[2u * row + 1u] = rstd;
    }
}

@compute @workgroup_size(64)
fn rmsnorm_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = row_of(wg, nwg);
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row_base(row);
    var s = 0.0;
    for (var j = lid; j < p.cols; j += WG) {
        s += x[base + j] * x[base + j];
    }
    let rstd = inverseSqrt(reduce_sum(s, lid) / f32(p.cols) + p.eps);
    for (var j = lid; j < p.cols; j += WG) {
        y[base + j] = x[base + j] * rstd * gamma[j];
    }
    if (lid == 0u) {
        stats[2u * row] = 0.0;
        stats[2u * row + 1u] = rstd;
    }
}

@compute @workgroup_size(64)
fn norm_backward_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = row_of(wg, nwg);
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row_base(row);
    let mean = stats_in[2u * row];
    let rstd = stats_in[2u * row + 1u];
    var sg = 0.0;
    var sgx = 0.0;
    for (var j = lid; j < p.cols; j += WG) {
        let g = gamma[j] * dy[base + j];
        let xh = (x[base + j] - mean) * rstd;
        sg += g;
        sgx += g * xh;
    }
    let inv_n = 1.0 / f32(p.cols);
    var mg = reduce_sum(sg, lid) * inv_n;
    let mgx = reduce_sum(sgx, lid) * inv_n;
    if (p.rms != 0u) {
        mg = 0.0;
    }
    for (var j = lid; j < p.cols; j += WG) {
        let g = gamma[j] * dy[base + j];
        let xh = (x[base + j] - mean) * rstd;
        var v = rstd * (g - mg - xh * mgx);
        if (p.accumulate != 0u) {
            v += dx[base + j];
        }
        dx[base + j] = v;
    }
}

fn xhat(i: u32, r: u32) -> f32 {
    return (x[i] - stats_in[2u * r]) * stats_in[2u * r + 1u];
}

@compute @workgroup_size(64)
fn layernorm_backward_params(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    if (col >= p.cols) {
        return;
    }
    var sg = 0.0;
    var sb = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        let i = row_base(r) + col;
        sg += dy[i] * xhat(i, r);
        sb += dy[i];
    }
    dgamma[col] += sg;
    dbeta[col] += sb;
}

@compute @workgroup_size(64)
fn rmsnorm_backward_params(@builtin(global_invocation_id) gid: vec3<u32>) {
    let col = gid.x;
    if (col >= p.cols) {
        return;
    }
    var sg = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        let i = row_base(r) + col;
        sg += dy[i] * xhat(i, r);
    }
    dgamma[col] += sg;
}
