// elementwise.wgsl — memory-bound kernels over flat arrays and (rows × cols) matrices.
//
// Entry points (one invocation per element unless stated; 256 per workgroup, 2-D grid
// folded so any size fits under the per-dimension workgroup limit):
//   add               out = x + y                       (residual connections)
//   bias_add          out[r, c] = x[r, c] + bias[c]     (in place is not allowed: out ≠ x)
//   bias_gelu         pre = x + bias[c]; out = gelu(pre)   fused Linear bias + GELU
//   gelu_backward     dpre = dout · gelu'(pre)
//   bias_grad         dbias[c] += Σ_r dy[r, c]          one invocation per column, rows in
//                     order, so the sum is deterministic run to run
// GELU is the tanh approximation used by GPT-2; its argument is clamped to ±15 because
// some drivers compute tanh through exp and return NaN for large inputs (the clamp
// changes tanh by less than 1e-12).

struct Params {
    n: u32,       // elements (add, bias_add, bias_gelu, gelu_backward)
    cols: u32,    // row length for the bias kernels
    rows: u32,    // rows for bias_grad
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> pre: array<f32>;
@group(0) @binding(6) var<storage, read> pre_in: array<f32>;
@group(0) @binding(7) var<storage, read> dout: array<f32>;
@group(0) @binding(8) var<storage, read_write> dpre: array<f32>;
@group(0) @binding(9) var<storage, read_write> dbias: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;

fn flat_index(wg: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * 256u + lid.x;
}

fn gelu_tanh(v: f32) -> f32 {
    let u = clamp(SQRT_2_OVER_PI * (v + GELU_C * v * v * v), -15.0, 15.0);
    return tanh(u);
}

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wg, nwg, lid);
    if (i < p.n) {
        out[i] = x[i] + y[i];
    }
}

@compute @workgroup_size(256)
fn bias_add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wg, nwg, lid);
    if (i < p.n) {
        out[i] = x[i] + bias[i % p.cols];
    }
}

@compute @workgroup_size(256)
fn bias_gelu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wg, nwg, lid);
    if (i < p.n) {
        let v = x[i] + bias[i % p.cols];
        pre[i] = v;
        out[i] = 0.5 * v * (1.0 + gelu_tanh(v));
    }
}

@compute @workgroup_size(256)
fn gelu_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wg, nwg, lid);
    if (i < p.n) {
        let v = pre_in[i];
        let t = gelu_tanh(v);
        let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * v * v);
        let d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du;
        dpre[i] = dout[i] * d;
    }
}

@compute @workgroup_size(256)
fn bias_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let col = flat_index(wg, nwg, lid);
    if (col >= p.cols) {
        return;
    }
    var s = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        s += dout[r * p.cols + col];
    }
    dbias[col] += s;
}
