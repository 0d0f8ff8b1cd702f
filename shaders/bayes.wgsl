// bayes.wgsl — Bayes-by-Backprop weights (BYOV, docs/papers.md §8): a mean-field Gaussian
// posterior q(w) = N(μ, σ²) per weight with σ = softplus(ρ), sampled by reparameterisation,
// and its KL divergence to the prior p(w) = N(0, σ_p²). row_reduce.wgsl comes in front.
//   bayes_sample      w = μ + σ·ε(seed, i)
//   bayes_backward    dμ += dw + k·μ/σ_p²
//                     dρ += (dw·ε + k·(σ/σ_p² − 1/σ))·sigmoid(ρ)
//                     (k: the KL's weight in the loss, β_KL/N_data; ε drawn again from the seed)
//   bayes_kl_partial  partials[g] = Σ KL_i over the g-th stride, KL_i = ln(σ_p/σ) + (σ² + μ²)/(2σ_p²) − ½
//   bayes_kl_finish   kl[0] = Σ partials: one workgroup, a fixed order
// ε [I, a labelled default]: the Irwin–Hall sum of 12 uniforms minus 6 (mean 0, variance 1,
// tails cut at ±6). The twelve 24-bit hashes are summed as integers, exactly, so every backend
// draws the same ε to the last bit (Box–Muller's log and cos carry WGSL's loose error bounds).
// σ = log_1p(e^ρ) for ρ ≤ 0 and ρ + log_1p(e^−ρ) above, precise for the small σ BBB starts at.

struct Params {
    n: u32,
    groups: u32,
    seed: u32,
    _pad0: u32,
    prior_std: f32,
    kl_weight: f32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mu: array<f32>;
@group(0) @binding(2) var<storage, read> rho: array<f32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;
@group(0) @binding(4) var<storage, read> dw: array<f32>;
@group(0) @binding(5) var<storage, read_write> dmu: array<f32>;
@group(0) @binding(6) var<storage, read_write> drho: array<f32>;
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;
@group(0) @binding(8) var<storage, read> partials_in: array<f32>;
@group(0) @binding(9) var<storage, read_write> kl: array<f32>;

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// ε for element i: twelve 24-bit uniforms summed exactly, centred, scaled by 2^-24.
fn epsilon(i: u32) -> f32 {
    var sum = 0u;
    for (var j = 0u; j < 12u; j++) {
        sum += pcg(p.seed ^ pcg(i * 12u + j)) >> 8u;
    }
    return f32(i32(sum) - 100663296) / 16777216.0;
}

fn softplus(r: f32) -> f32 {
    if (r <= 0.0) {
        return log_1p(exp(r));
    }
    return r + log_1p(exp(-r));
}

fn sigmoid(r: f32) -> f32 {
    return 1.0 / (1.0 + exp(-r));
}

fn flat(wg: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * 256u + lid.x;
}

@compute @workgroup_size(256)
fn bayes_sample(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    w[i] = mu[i] + softplus(rho[i]) * epsilon(i);
}

@compute @workgroup_size(256)
fn bayes_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat(wg, nwg, lid);
    if (i >= p.n) {
        return;
    }
    let r = rho[i];
    let sigma = softplus(r);
    let inv_var = 1.0 / (p.prior_std * p.prior_std);
    dmu[i] += dw[i] + p.kl_weight * mu[i] * inv_var;
    drho[i] += (dw[i] * epsilon(i) + p.kl_weight * (sigma * inv_var - 1.0 / sigma)) * sigmoid(r);
}

@compute @workgroup_size(64)
fn bayes_kl_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    let inv_var = 1.0 / (p.prior_std * p.prior_std);
    var s = 0.0;
    for (var i = wg.x * WG + lid; i < p.n; i += p.groups * WG) {
        let sigma = softplus(rho[i]);
        s += log(p.prior_std / sigma) + 0.5 * (sigma * sigma + mu[i] * mu[i]) * inv_var - 0.5;
    }
    let total = reduce_sum(s, lid);
    if (lid == 0u) {
        partials[wg.x] = total;
    }
}

@compute @workgroup_size(64)
fn bayes_kl_finish(@builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    var s = 0.0;
    for (var i = lid; i < p.groups; i += WG) {
        s += partials_in[i];
    }
    let total = reduce_sum(s, lid);
    if (lid == 0u) {
        kl[0] = total;
    }
}
