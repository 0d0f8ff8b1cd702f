// softmax.wgsl — row softmax with optional scale and causal mask, and its backward.
// (row_reduce.wgsl, concatenated in front, gives WG, reduce_max and reduce_sum.)
//
// Rows of length `cols`; row r belongs to query q = r % q_len. With `causal` = 1 the
// query may see key j only when j ≤ q + (cols − q_len) (keys aligned to the end, as when
// a cache of earlier keys precedes the queries); masked outputs are exactly 0.
//   softmax_forward   y = softmax(scale · x) over the visible keys
//   softmax_backward  dx = y ⊙ (dy − Σ_j y_j·dy_j)   (masked entries get 0 through y = 0)
// One workgroup of 64 invocations per row: strided loops over the row, then a tree
// reduction in workgroup memory (6 barriers). Rows of the attention-sized kind (≤ a few
// thousand) are covered by a handful of loads per invocation.

struct Params {
    rows: u32,
    cols: u32,
    q_len: u32,
    causal: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> y_in: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

fn visible(row: u32) -> u32 {
    if (p.causal == 0u) {
        return p.cols;
    }
    let q = row % p.q_len;
    return min(p.cols, q + 1u + (p.cols - p.q_len));
}

@compute @workgroup_size(64)
fn softmax_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row * p.cols;
    let n = visible(row);
    var m = -3.4e38;
    for (var j = lid; j < n; j += WG) {
        m = max(m, p.scale * x[base + j]);
    }
    m = reduce_max(m, lid);
    var s = 0.0;
    for (var j = lid; j < n; j += WG) {
        s += exp(p.scale * x[base + j] - m);
    }
    s = reduce_sum(s, lid);
    let inv = 1.0 / s;
    for (var j = lid; j < p.cols; j += WG) {
        var v = 0.0;
        if (j < n) {
            v = exp(p.scale * x[base + j] - m) * inv;
        }
        y[base + j] = v;
    }
}

@compute @workgroup_size(64)
fn softmax_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row * p.cols;
    var d = 0.0;
    for (var j = lid; j < p.cols; j += WG) {
        d += y_in[base + j] * dy[base + j];
    }
    d = reduce_sum(d, lid);
    for (var j = lid; j < p.cols; j += WG) {
        dx[base + j] = p.scale * y_in[base + j] * (dy[base + j] - d);
    }
}
