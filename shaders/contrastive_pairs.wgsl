// contrastive_pairs.wgsl — the contrastive loss's O(N²) work over pairs of row blocks, each
// similarity computed once for both of its rows (contrastive.wgsl holds the per-row kernels and
// the loss terms; the launcher uses these passes where the rows share the shift 1/τ).
//
// z is unit-length, so s_rc = z_r·z_c/τ lies in [−1/τ, 1/τ] and, for τ ≥ 0.025, every row can
// use the one shift 1/τ: e_rc = e^{s_rc − 1/τ} is the same number for row r and for row c. The
// N rows are cut into T blocks of 32; block pair (i, j), j = (i + k) mod T, is visited in pass
// k = 0 … ⌊T/2⌋ (in the last pass of an even T only by i < T/2), so every unordered pair of
// blocks is visited once. A workgroup (8 × 8 invocations) takes one pair: each invocation
// computes a 4 × 4 register tile of the 32 × 32 similarities straight from z, like
// matmul.wgsl (no workgroup-memory staging: barriers cost more than they save on software
// adapters), and the workgroup adds what they give
//   forward:  row block i's sums Σ_c e_rc into row_acc, block j's into col_acc (the pair's
//             other side); the similarities to the row's own views go to pos;
//   backward: g_rc = e_rc·(w_r + w_c) with w = a·e^{1/τ − lse} (one exponential per pair) to
//             block i's gradient rows, G·z_j, and to block j's, Gᵀ·z_i.
// In one pass each block's rows of each accumulator have a single writer, and passes run in
// order: sums in a fixed order, no atomics, deterministic on every adapter. The own sample's
// views are left out (backward_finish in contrastive.wgsl adds the positives). One barrier
// per workgroup: between the register tiles and the row/column reductions (forward) or the
// products with G (backward).

struct Params {
    n: u32, views: u32, d: u32, blocks: u32,
    inv_tau: f32, offset: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> row_acc: array<f32>;
@group(0) @binding(3) var<storage, read_write> col_acc: array<f32>;
@group(0) @binding(4) var<storage, read_write> pos: array<f32>;
@group(0) @binding(5) var<storage, read> lse_in: array<f32>;
@group(0) @binding(6) var<storage, read> coef_in: array<f32>;

// z again, four features at a time, used when VEC4 = 1: d is a multiple of 4, so each row
// starts on a vec4 (a quarter of the loads, and of the bounds checks a browser adds to each).
@group(0) @binding(9) var<storage, read> zv: array<vec4<f32>>;
override VEC4: u32 = 0u;

// Rows per block.
const BR: u32 = 32u;
// Rows per block of the forward passes, and their row and column partial sums.
const BRF: u32 = 64u;
var<workgroup> red_rows: array<f32, 512>;
var<workgroup> red_cols: array<f32, 512>;

// The pair this workgroup takes in this pass, or (blocks, blocks) when it has none.
fn pair_of(i: u32) -> vec2<u32> {
    if (2u * p.offset == p.blocks && i >= p.blocks / 2u) {
        return vec2<u32>(p.blocks, p.blocks);
    }
    return vec2<u32>(i, (i + p.offset) % p.blocks);
}

// Offsets into z of four rows from `row0`, clamped to the last row (masked when used).
fn row_bases(row0: u32) -> vec4<u32> {
    let last = p.n - 1u;
    return vec4<u32>(min(row0, last), min(row0 + 1u, last), min(row0 + 2u, last), min(row0 + 3u, last)) * p.d;
}

// s for rows r0..r0+4 (one vec4 per row) against columns c0..c0+4, divided by τ.
fn similarities(r0: u32, c0: u32) -> array<vec4<f32>, 4> {
    let ar = row_bases(r0);
    let bc = row_bases(c0);
    if (VEC4 != 0u) {
        // m[a][b] = Σ_k z_{r0+a}[k]·z_{c0+b}[k], four features per step.
        var ia = ar / 4u;
        var ib = bc / 4u;
        var m = mat4x4<f32>();
        for (var k = 0u; k < p.d; k += 4u) {
            let rows = mat4x4<f32>(zv[ia.x], zv[ia.y], zv[ia.z], zv[ia.w]);
            let cols = mat4x4<f32>(zv[ib.x], zv[ib.y], zv[ib.z], zv[ib.w]);
            m += transpose(cols) * rows;
            ia += vec4<u32>(1u);
            ib += vec4<u32>(1u);
        }
        return array<vec4<f32>, 4>(m[0] * p.inv_tau, m[1] * p.inv_tau, m[2] * p.inv_tau, m[3] * p.inv_tau);
    }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = 0u; k < p.d; k++) {
        let bv = vec4<f32>(z[bc.x + k], z[bc.y + k], z[bc.z + k], z[bc.w + k]);
        acc0 += z[ar.x + k] * bv;
        acc1 += z[ar.y + k] * bv;
        acc2 += z[ar.z + k] * bv;
        acc3 += z[ar.w + k] * bv;
    }
    return array<vec4<f32>, 4>(acc0 * p.inv_tau, acc1 * p.inv_tau, acc2 * p.inv_tau, acc3 * p.inv_tau);
}

// Whether (r, c) is a pair of rows of different samples, both inside the batch.
fn negative_pair(r: u32, c: u32) -> bool {
    return r < p.n && c < p.n && r / p.views != c / p.views;
}

@compute @workgroup_size(256)
fn clear_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e < p.n) {
        row_acc[e] = 0.0;
        col_acc[e] = 0.0;
    }
}

// s for rows r0..r0+8 against columns c0..c0+8, divided by τ: entry (a, b) in
// [2a + ⌊b/4⌋][b mod 4].
fn similarities_8x8(r0: u32, c0: u32) -> array<vec4<f32>, 16> {
    var ar: array<u32, 8>;
    var bc: array<u32, 8>;
    let last = p.n - 1u;
    for (var t = 0u; t < 8u; t++) {
        ar[t] = min(r0 + t, last) * p.d;
        bc[t] = min(c0 + t, last) * p.d;
    }
    var acc: array<vec4<f32>, 16>;
    if (false) {
    } else {
        for (var t = 0u; t < 16u; t++) {
            acc[t] = vec4<f32>(0.0);
        }
        for (var k = 0u; k < p.d; k++) {
            let lo = vec4<f32>(z[bc[0] + k], z[bc[1] + k], z[bc[2] + k], z[bc[3] + k]);
            let hi = vec4<f32>(z[bc[4] + k], z[bc[5] + k], z[bc[6] + k], z[bc[7] + k]);
            for (var t = 0u; t < 8u; t++) {
                let zr = z[ar[t] + k];
                acc[2u * t] += zr * lo;
                acc[2u * t + 1u] += zr * hi;
            }
        }
    }
    for (var t = 0u; t < 16u; t++) {
        acc[t] *= p.inv_tau;
    }
    return acc;
}

// Forward pass k over pairs of 64-row blocks (`blocks` counts those): a workgroup of 8 × 8
// invocations, each an 8 × 8 register tile of the 64 × 64 similarities.
@compute @workgroup_size(8, 8)
fn pair_sums(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let pair = pair_of(wg.x);
    if (pair.x >= p.blocks) {
        return;
    }
    let i0 = pair.x * BRF + lid.y * 8u;
    let j0 = pair.y * BRF + lid.x * 8u;
    let s = similarities_8x8(i0, j0);
    var col_part: array<f32, 8>;
    for (var b = 0u; b < 8u; b++) {
        col_part[b] = 0.0;
    }
    for (var a = 0u; a < 8u; a++) {
        var row_part = 0.0;
        for (var b = 0u; b < 8u; b++) {
            let r = i0 + a;
            let c = j0 + b;
            let sab = s[2u * a + b / 4u][b % 4u];
            if (negative_pair(r, c)) {
                let e = exp(sab - p.inv_tau);
                row_part += e;
                col_part[b] += e;
            } else if (r < p.n && c < p.n) {
                // The row's own views: kept as positives, for both rows of the pair.
                pos[r * p.views + c % p.views] = sab;
                if (pair.x != pair.y) {
                    pos[c * p.views + r % p.views] = sab;
                }
            }
        }
        red_rows[(lid.y * 8u + a) * 8u + lid.x] = row_part;
    }
    for (var b = 0u; b < 8u; b++) {
        red_cols[(lid.x * 8u + b) * 8u + lid.y] = col_part[b];
    }
    workgroupBarrier();
    // Invocation t adds up row t of the pair's first block and column t (row t of its second;
    // a diagonal pair's rows already have every entry), eight partial sums in a fixed order.
    let t = lid.y * 8u + lid.x;
    var sum = 0.0;
    for (var x = 0u; x < 8u; x++) {
        sum += red_rows[t * 8u + x];
    }
    if (pair.x * BRF + t < p.n) {
        row_acc[pair.x * BRF + t] += sum;
    }
    if (pair.x != pair.y) {
        var col_sum = 0.0;
        for (var x = 0u; x < 8u; x++) {
            col_sum += red_cols[t * 8u + x];
        }
        if (pair.y * BRF + t < p.n) {
            col_acc[pair.y * BRF + t] += col_sum;
        }
    }
}

// lse_r = 1/τ + log(row part + column part), in place of the row part.
@compute @workgroup_size(256)
fn finish_lse(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 256u;
    if (r < p.n) {
        row_acc[r] = p.inv_tau + log(row_acc[r] + col_acc[r]);
    }
}

// Both sides of the gradient, N rows of ⌈d/4⌉ vec4s each: the pairs' first blocks' side
// (row side) at 0, their second blocks' side (column side) at N·⌈d/4⌉. Padded lanes of a row
// are never read.
@group(0) @binding(7) var<storage, read_write> sides: array<vec4<f32>>;
// dL/dz's negatives' part, N × d (merge_grads writes every element).
@group(0) @binding(8) var<storage, read_write> dz: array<f32>;

// vec4s per row of `sides`.
fn row_vec4s() -> u32 {
    return (p.d + 3u) / 4u;
}

@compute @workgroup_size(256)
fn clear_grads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e < 2u * p.n * row_vec4s()) {
        sides[e] = vec4<f32>(0.0);
    }
}

// w_r = a_r·e^{1/τ − lse_r}: row r's softmax coefficient under the shared shift.
fn weight(r: u32) -> f32 {
    let q = min(r, p.n - 1u);
    return coef_in[q * (p.views + 1u)] * exp(p.inv_tau - lse_in[q]);
}

// Features f..f+4 of row `row` of z. Past the row's end they read on into the next row and
// past the buffer's end they read its last element: those lanes land in a row's padding.
fn z4(row: u32, f: u32) -> vec4<f32> {
    let base = min(row, p.n - 1u) * p.d + f;
    let last = p.n * p.d - 1u;
    if (VEC4 != 0u) {
        return zv[min(base, last) / 4u];
    }
    return vec4<f32>(z[min(base, last)], z[min(base + 1u, last)], z[min(base + 2u, last)], z[min(base + 3u, last)]);
}

// The pair's G in workgroup memory twice, as vec4s: g_rows[x·8 + q/4] holds G[x][q..q+4] (a
// row of the first block against four of the second), g_cols[x·8 + q/4] holds G[q..q+4][x].
var<workgroup> g_rows: array<vec4<f32>, 256>;
var<workgroup> g_cols: array<vec4<f32>, 256>;

// (G · z_other) for rows q0..q0+8 of the pair's first block, or with `transposed` (Gᵀ · z_other)
// for rows q0..q0+8 of its second block; features f..f+8 (two vec4s per row).
fn g_z(transposed: bool, q0: u32, other0: u32, f: u32) -> array<vec4<f32>, 16> {
    var acc: array<vec4<f32>, 16>;
    for (var t = 0u; t < 16u; t++) {
        acc[t] = vec4<f32>(0.0);
    }
    for (var x = 0u; x < BR; x++) {
        let lo = z4(other0 + x, f);
        let hi = z4(other0 + x, f + 4u);
        var g0: vec4<f32>;
        var g1: vec4<f32>;
        if (transposed) {
            g0 = g_rows[x * 8u + q0 / 4u];
            g1 = g_rows[x * 8u + q0 / 4u + 1u];
        } else {
            g0 = g_cols[x * 8u + q0 / 4u];
            g1 = g_cols[x * 8u + q0 / 4u + 1u];
        }
        acc[0] += g0.x * lo;
        acc[1] += g0.x * hi;
        acc[2] += g0.y * lo;
        acc[3] += g0.y * hi;
        acc[4] += g0.z * lo;
        acc[5] += g0.z * hi;
        acc[6] += g0.w * lo;
        acc[7] += g0.w * hi;
        acc[8] += g1.x * lo;
        acc[9] += g1.x * hi;
        acc[10] += g1.y * lo;
        acc[11] += g1.y * hi;
        acc[12] += g1.z * lo;
        acc[13] += g1.z * hi;
        acc[14] += g1.w * lo;
        acc[15] += g1.w * hi;
    }
    return acc;
}

// sides[side + row q0 + a of the block at b0][features f..f+8] += τ⁻¹·acc, rows inside the
// batch (the second vec4 only where the row has it).
fn add_rows(side: u32, b0: u32, q0: u32, f: u32, acc: array<vec4<f32>, 16>) {
    let d4 = row_vec4s();
    let v = f / 4u;
    for (var a = 0u; a < 8u; a++) {
        let r = b0 + q0 + a;
        if (r < p.n) {
            let at = side + r * d4 + v;
            sides[at] += p.inv_tau * acc[2u * a];
            if (v + 1u < d4) {
                sides[at + 1u] += p.inv_tau * acc[2u * a + 1u];
            }
        }
    }
}

@compute @workgroup_size(8, 8)
fn pair_grads(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let pair = pair_of(wg.x);
    if (pair.x >= p.blocks) {
        return;
    }
    let bi = pair.x * BR;
    let bj = pair.y * BR;
    let i0 = bi + lid.y * 4u;
    let j0 = bj + lid.x * 4u;
    let s = similarities(i0, j0);
    let wc = vec4<f32>(weight(j0), weight(j0 + 1u), weight(j0 + 2u), weight(j0 + 3u));
    var g: array<vec4<f32>, 4>;
    for (var a = 0u; a < 4u; a++) {
        let wr = weight(i0 + a);
        for (var b = 0u; b < 4u; b++) {
            g[a][b] = 0.0;
            if (negative_pair(i0 + a, j0 + b)) {
                g[a][b] = exp(s[a][b] - p.inv_tau) * (wr + wc[b]);
            }
        }
        g_rows[(lid.y * 4u + a) * 8u + lid.x] = g[a];
    }
    for (var b = 0u; b < 4u; b++) {
        g_cols[(lid.x * 4u + b) * 8u + lid.y] = vec4<f32>(g[0][b], g[1][b], g[2][b], g[3][b]);
    }
    workgroupBarrier();
    // Invocation t = 8y + x: rows 8·⌊t/16⌋..+8 of a block, features 8·(t mod 16)..+8 of each
    // step of 128; for d ≤ 64 one step, the upper eight feature slots taking the second block.
    let t = lid.y * 8u + lid.x;
    let q0 = (t / 16u) * 8u;
    let col_side = p.n * row_vec4s();
    if (p.d <= 64u) {
        let f = (t % 8u) * 8u;
        if (f >= p.d) {
            return;
        }
        if (t % 16u < 8u) {
            add_rows(0u, bi, q0, f, g_z(false, q0, bj, f));
        } else if (pair.x != pair.y) {
            add_rows(col_side, bj, q0, f, g_z(true, q0, bi, f));
        }
        return;
    }
    for (var f0 = 0u; f0 < p.d; f0 += 128u) {
        let f = f0 + (t % 16u) * 8u;
        if (f >= p.d) {
            continue;
        }
        add_rows(0u, bi, q0, f, g_z(false, q0, bj, f));
        if (pair.x != pair.y) {
            add_rows(col_side, bj, q0, f, g_z(true, q0, bi, f));
        }
    }
}

// dz = row side + column side, every element of dz written.
@compute @workgroup_size(256)
fn merge_grads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e < p.n * p.d) {
        let at = (e / p.d) * row_vec4s() + (e % p.d) / 4u;
        let lane = e % p.d % 4u;
        dz[e] = sides[at][lane] + sides[p.n * row_vec4s() + at][lane];
    }
}
