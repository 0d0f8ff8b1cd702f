// optim.wgsl — optimiser kernels over a whole flat parameter slab.
//
//   sumsq_partial  partials[w] = Σ x² over the w-th stride of x (256 invocations, tree
//                  reduction); the first pass of the global gradient norm
//   sumsq_finish   norm[0] = √(Σ partials): one workgroup, deterministic order
//   adamw          AdamW (decoupled weight decay) with clipping by global norm:
//                  g ← g · min(1, clip / ‖g‖) (clip = 0 disables), m ← β1 m + (1−β1) g,
//                  v ← β2 v + (1−β2) g², θ ← θ − lr·(m̂/(√v̂ + eps) + wd·θ), where the
//                  bias corrections m̂ = m/bc1, v̂ = v/bc2 come precomputed from the host.
//                  Decay applies to the first `n_decay` elements only (the slab puts the
//                  matrices first; norms, biases and gaps after).
//   ema            e ← ρ·e + (1 − ρ)·θ   (the EMA scaling rule picks ρ; see optim::ema)
// Elementwise kernels use 256 invocations per workgroup on a folded 2-D grid.

struct Params {
    n: u32,
    n_decay: u32,
    groups: u32,
    _pad0: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    clip: f32,
    bc1: f32,
    bc2: f32,
    rho: f32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read> partials_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> param: array<f32>;
@group(0) @binding(6) var<storage, read> grad: array<f32>;
@group(0) @binding(7) var<storage, read_write> m: array<f32>;
@group(0) @binding(8) var<storage, read_write> v: array<f32>;
@group(0) @binding(9) var<storage, read> norm_in: array<f32>;
@group(0) @binding(10) var<storage, read_write> ema_out: array<f32>;

const WG: u32 = 256u;
var<workgroup> scratch: array<f32, 256>;

fn reduce_sum(val: f32, lid: u32) -> f32 {
    scratch[lid] = val;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            scratch[lid] = scratch[lid] + scratch[lid + s];
        }
        workgroupBarrier();
    }
    return scratch[0];
}

@compute @workgroup_size(256)
fn sumsq_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    let stride = p.groups * WG;
    var s = 0.0;
    for (var i = wg.x * WG + lid; i < p.n; i += stride) {
        s += x[i] * x[i];
    }
    let total = reduce_sum(s, lid);
    if (lid == 0u) {
        partials[wg.x] = total;
    }
}

@compute @workgroup_size(256)
fn sumsq_finish(@builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    var s = 0.0;
    for (var i = lid; i < p.groups; i += WG) {
        s += partials_in[i];
    }
    let total = reduce_sum(s, lid);
    if (lid == 0u) {
        norm[0] = sqrt(total);
    }
}

fn flat_index(wg: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid.x;
}

@compute @workgroup_size(256)
fn adamw(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    var scale = 1.0;
    let gn = norm_in[0];
    if (p.clip > 0.0 && gn > p.clip) {
        scale = p.clip / gn;
    }
    let g = grad[i] * scale;
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    var wd = 0.0;
    if (i < p.n_decay) {
        wd = p.weight_decay;
    }
    let th = param[i];
    param[i] = th - p.lr * ((mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps) + wd * th);
}

@compute @workgroup_size(256)
fn ema(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat_index(wg, nwg, lid);
    if (i < p.n) {
        ema_out[i] = p.rho * ema_out[i] + (1.0 - p.rho) * x[i];
    }
}
