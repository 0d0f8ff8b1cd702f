// moe.wgsl — mixture-of-experts routing and dropless dispatch (MegaBlocks-style grouping).
//
//   moe_route     per token t: probs[t, :] = softmax(logits[t, :]) (or sigmoid), the top K
//                 experts (ties to the lower index) into experts[t, k], their probabilities
//                 into gates[t, k], renormalised over the K when p.renorm != 0.
//                 One invocation per token; E ≤ 64 experts, K ≤ 4.
//   moe_count     one workgroup per expert e: counts[e] = #slots (t, k) routed to e.
//   moe_offsets   one invocation: kept[e] = min(counts[e], capacity) (capacity 0 = dropless),
//                 offsets[e] = Σ_{e' < e} kept[e'] (E + 1 entries), dropped = Σ counts − kept.
//   moe_scatter   one workgroup per expert e: walks the slots in order; the r-th slot of e
//                 goes to row offsets[e] + r of the grouped layout when r < kept[e]:
//                 order[row] = slot, position[slot] = row; a dropped slot gets position = NONE.
//                 A workgroup prefix sum ranks the slots of each chunk, so the grouping is
//                 deterministic without atomics (the design rule for every kernel here).
//   moe_gather    xs[row, c] = x[order[row] / K, c] for row < offsets[E] (tokens grouped by expert).
//   moe_combine   out[t, c] = Σ_k g · ys[position[t·K + k], c], dropped slots skipped, with
//                 g = gates[t, k], or g = 1 when p.unit_gates (the input gradient's scatter back);
//                 added to out when p.accumulate.
//   moe_combine_backward  per slot (t, k) kept: dys[row, c] = gates[t, k] · dout[t, c] and
//                 dgates[t, k] = Σ_c dout[t, c] · ys[row, c]; dropped slots get dgates = 0.
//                 One invocation per slot (the dot is a loop over C).
//   moe_route_backward  per token: dlogits[t, :] from dgates through the renormalisation and
//                 the gate (softmax or sigmoid), plus the load-balancing loss α·E·Σ_e f_e·P_e
//                 (f_e = counts[e]/(T·K), P_e = mean_t probs[t, e]; f_e is a count and passes
//                 no gradient) and the router z-loss β·mean_t (logsumexp logits[t, :])².
//
// Slots are numbered slot = t·K + k. Rows past offsets[E] of xs are left untouched.

struct Params {
    tokens: u32,
    experts: u32,
    top_k: u32,
    dim: u32,
    capacity: u32,
    sigmoid: u32,
    renorm: u32,
    unit_gates: u32,
    aux_coef: f32,
    z_coef: f32,
    accumulate: u32,
    pad1: u32,
}

const NONE: u32 = 0xffffffffu;
const CHUNK: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> experts: array<u32>;
@group(0) @binding(4) var<storage, read_write> gates: array<f32>;
@group(0) @binding(5) var<storage, read_write> counts: array<u32>;
@group(0) @binding(6) var<storage, read_write> offsets: array<u32>;
@group(0) @binding(7) var<storage, read_write> order: array<u32>;
@group(0) @binding(8) var<storage, read_write> position: array<u32>;
@group(0) @binding(9) var<storage, read> x: array<f32>;
@group(0) @binding(10) var<storage, read_write> xs: array<f32>;
@group(0) @binding(11) var<storage, read> ys: array<f32>;
@group(0) @binding(12) var<storage, read_write> out: array<f32>;
@group(0) @binding(13) var<storage, read> dout: array<f32>;
@group(0) @binding(14) var<storage, read_write> dys: array<f32>;
@group(0) @binding(15) var<storage, read_write> dgates: array<f32>;
@group(0) @binding(16) var<storage, read_write> dlogits: array<f32>;

fn flat(wg: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wg.x + wg.y * nwg.x) * 256u + lid.x;
}

@compute @workgroup_size(256)
fn moe_route(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = flat(wg, nwg, lid);
    if (t >= p.tokens) {
        return;
    }
    let base = t * p.experts;
    if (p.sigmoid != 0u) {
        for (var e = 0u; e < p.experts; e++) {
            probs[base + e] = 1.0 / (1.0 + exp(-logits[base + e]));
        }
    } else {
        var m = logits[base];
        for (var e = 1u; e < p.experts; e++) {
            m = max(m, logits[base + e]);
        }
        var s = 0.0;
        for (var e = 0u; e < p.experts; e++) {
            let v = exp(logits[base + e] - m);
            probs[base + e] = v;
            s += v;
        }
        for (var e = 0u; e < p.experts; e++) {
            probs[base + e] = probs[base + e] / s;
        }
    }
    // Top K by repeated selection over a 64-bit mask of chosen experts.
    var chosen = vec2<u32>(0u, 0u);
    var total = 0.0;
    for (var k = 0u; k < p.top_k; k++) {
        var best = NONE;
        var best_v = 0.0;
        for (var e = 0u; e < p.experts; e++) {
            let taken = (chosen[e / 32u] >> (e % 32u)) & 1u;
            let v = probs[base + e];
            if (taken == 0u && (best == NONE || v > best_v)) {
                best = e;
                best_v = v;
            }
        }
        chosen[best / 32u] = chosen[best / 32u] | (1u << (best % 32u));
        experts[t * p.top_k + k] = best;
        gates[t * p.top_k + k] = best_v;
        total += best_v;
    }
    if (p.renorm != 0u) {
        for (var k = 0u; k < p.top_k; k++) {
            gates[t * p.top_k + k] = gates[t * p.top_k + k] / total;
        }
    }
}

var<workgroup> scratch: array<u32, 256>;

// Inclusive prefix sum of `v` over the workgroup (Hillis–Steele); every invocation calls it.
fn workgroup_scan(v: u32, i: u32) -> u32 {
    scratch[i] = v;
    workgroupBarrier();
    for (var off = 1u; off < CHUNK; off = off * 2u) {
        var add = 0u;
        if (i >= off) {
            add = scratch[i - off];
        }
        workgroupBarrier();
        scratch[i] = scratch[i] + add;
        workgroupBarrier();
    }
    let r = scratch[i];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn moe_count(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.x;
    let i = lid.x;
    let slots = p.tokens * p.top_k;
    var n = 0u;
    for (var s = i; s < slots; s += CHUNK) {
        n += select(0u, 1u, experts[s] == e);
    }
    let total = workgroup_scan(n, i);
    if (i == CHUNK - 1u && e < p.experts) {
        counts[e] = total;
    }
}

@compute @workgroup_size(1)
fn moe_offsets() {
    var off = 0u;
    var dropped = 0u;
    for (var e = 0u; e < p.experts; e++) {
        offsets[e] = off;
        var kept = counts[e];
        if (p.capacity != 0u) {
            kept = min(kept, p.capacity);
        }
        dropped += counts[e] - kept;
        off += kept;
    }
    offsets[p.experts] = off;
    // The dropped total rides after the offsets.
    offsets[p.experts + 1u] = dropped;
}

@compute @workgroup_size(256)
fn moe_scatter(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.x;
    let i = lid.x;
    let slots = p.tokens * p.top_k;
    var keep = counts[e];
    if (p.capacity != 0u) {
        keep = min(keep, p.capacity);
    }
    var seen = 0u;
    for (var start = 0u; start < slots; start += CHUNK) {
        let s = start + i;
        var mine = 0u;
        if (s < slots && experts[s] == e) {
            mine = 1u;
        }
        let rank = seen + workgroup_scan(mine, i) - mine;
        if (mine == 1u) {
            if (rank < keep) {
                order[offsets[e] + rank] = s;
                position[s] = offsets[e] + rank;
            } else {
                position[s] = NONE;
            }
        }
        // The last invocation's inclusive sum is the chunk's total: share it.
        if (i == CHUNK - 1u) {
            scratch[0] = rank + mine;
        }
        workgroupBarrier();
        seen = scratch[0];
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn moe_gather(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat(wg, nwg, lid);
    let row = i / p.dim;
    if (row >= offsets[p.experts]) {
        return;
    }
    let c = i % p.dim;
    xs[i] = x[(order[row] / p.top_k) * p.dim + c];
}

@compute @workgroup_size(256)
fn moe_combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = flat(wg, nwg, lid);
    if (i >= p.tokens * p.dim) {
        return;
    }
    let t = i / p.dim;
    let c = i % p.dim;
    var acc = 0.0;
    for (var k = 0u; k < p.top_k; k++) {
        let row = position[t * p.top_k + k];
        if (row != NONE) {
            var g = 1.0;
            if (p.unit_gates == 0u) {
                g = gates[t * p.top_k + k];
            }
            acc += g * ys[row * p.dim + c];
        }
    }
    if (p.accumulate != 0u) {
        acc += out[i];
    }
    out[i] = acc;
}

@compute @workgroup_size(256)
fn moe_combine_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let s = flat(wg, nwg, lid);
    if (s >= p.tokens * p.top_k) {
        return;
    }
    let t = s / p.top_k;
    let row = position[s];
    if (row == NONE) {
        dgates[s] = 0.0;
        return;
    }
    let g = gates[s];
    var dot = 0.0;
    for (var c = 0u; c < p.dim; c++) {
        let d = dout[t * p.dim + c];
        dys[row * p.dim + c] = g * d;
        dot += d * ys[row * p.dim + c];
    }
    dgates[s] = dot;
}

@compute @workgroup_size(256)
fn moe_route_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = flat(wg, nwg, lid);
    if (t >= p.tokens) {
        return;
    }
    let base = t * p.experts;
    let kb = t * p.top_k;
    // Through the renormalisation: g_j = p_j / S over the chosen, so dp_i = (dg_i − Σ_j dg_j·g_j) / S.
    var sum_p = 0.0;
    var dot = 0.0;
    for (var k = 0u; k < p.top_k; k++) {
        sum_p += probs[base + experts[kb + k]];
        dot += dgates[kb + k] * gates[kb + k];
    }
    let slots = f32(p.tokens * p.top_k);
    let aux = p.aux_coef * f32(p.experts) / f32(p.tokens);
    for (var e = 0u; e < p.experts; e++) {
        dlogits[base + e] = aux * f32(counts[e]) / slots;
    }
    for (var k = 0u; k < p.top_k; k++) {
        let e = experts[kb + k];
        if (p.renorm != 0u) {
            dlogits[base + e] += (dgates[kb + k] - dot) / sum_p;
        } else {
            dlogits[base + e] += dgates[kb + k];
        }
    }
    // dlogits now holds dL/dp; through the gate.
    if (p.sigmoid != 0u) {
        for (var e = 0u; e < p.experts; e++) {
            let q = probs[base + e];
            dlogits[base + e] = dlogits[base + e] * q * (1.0 - q);
        }
    } else {
        var pdot = 0.0;
        for (var e = 0u; e < p.experts; e++) {
            pdot += probs[base + e] * dlogits[base + e];
        }
        for (var e = 0u; e < p.experts; e++) {
            dlogits[base + e] = probs[base + e] * (dlogits[base + e] - pdot);
        }
    }
    // The z-loss: d/dlogit_e of β/T·z² is 2β/T·z·softmax_e, z = logsumexp.
    if (p.z_coef != 0.0) {
        var m = logits[base];
        for (var e = 1u; e < p.experts; e++) {
            m = max(m, logits[base + e]);
        }
        var s = 0.0;
        for (var e = 0u; e < p.experts; e++) {
            s += exp(logits[base + e] - m);
        }
        let z = m + log(s);
        let f = 2.0 * p.z_coef * z / f32(p.tokens);
        for (var e = 0u; e < p.experts; e++) {
            dlogits[base + e] += f * exp(logits[base + e] - m) / s;
        }
    }
}
