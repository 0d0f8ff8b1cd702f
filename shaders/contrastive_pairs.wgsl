// contrastive_pairs.wgsl — the contrastive loss's O(N²) work over pairs of row blocks, each
// similarity computed once for both of its rows (contrastive.wgsl holds the per-row kernels and
// the loss terms; the launcher uses these passes where the rows share the shift 1/τ).
//
// z is unit-length, so s_rc = z_r·z_c/τ lies in [−1/τ, 1/τ] and, for τ ≥ 0.025, every row can
// use the one shift 1/τ: e_rc = e^{s_rc − 1/τ} is the same number for row r and for row c. The
// N rows are cut into T blocks of 64; block pair (i, j), j = (i + k) mod T, is visited in pass
// k = 0 … ⌊T/2⌋ (in the last pass of an even T only by i < T/2), so every unordered pair of
// blocks is visited once. A workgroup (8 × 8 invocations) takes one pair: each invocation
// computes an 8 × 8 register tile of the 64 × 64 similarities straight from z (no
// workgroup-memory staging: barriers cost more than they save on software adapters), and
//   forward:  row block i's sums Σ_c e_rc go into row_acc, block j's into col_acc (the pair's
//             other side), through workgroup memory; the similarities to the row's own views
//             go to pos;
//   backward: g_rc = e_rc·(w_r + w_c) with w = a·e^{1/τ − lse} (one exponential per pair) goes
//             to workgroup memory (the whole 64 × 64 G: 16 KiB), and each invocation adds
//             8 rows × 16 features of G·z_j to block i's side of the gradient and of Gᵀ·z_i to
//             block j's.
// The tiles' accumulators are named variables, not indexed private arrays: SwiftShader keeps an
// indexed private array in memory (such a version ran 2-3x slower there, while lavapipe, which
// unrolls the loops, ran it as fast). In one pass each block's rows of each accumulator have a
// single writer, and passes run in order: sums in a fixed order, no atomics, deterministic on
// every adapter. The own sample's views are left out (backward_finish in contrastive.wgsl adds
// the positives). One barrier per workgroup: between the register tiles and the row/column
// sums (forward) or the products with G (backward).

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

// z again, four features at a time, for the gradient products when VEC4 = 1: d is a multiple
// of 4, so each row starts on a vec4 (a quarter of the loads, and of the bounds checks a
// browser adds to each).
@group(0) @binding(9) var<storage, read> zv: array<vec4<f32>>;
override VEC4: u32 = 0u;

// Rows per block, and the forward pass's partial row and column sums (eight per row).
const BR: u32 = 64u;
var<workgroup> red_rows: array<f32, 512>;
var<workgroup> red_cols: array<f32, 512>;

// The pair this workgroup takes in this pass, or (blocks, blocks) when it has none.
fn pair_of(i: u32) -> vec2<u32> {
    if (2u * p.offset == p.blocks && i >= p.blocks / 2u) {
        return vec2<u32>(p.blocks, p.blocks);
    }
    return vec2<u32>(i, (i + p.offset) % p.blocks);
}

// Whether (r, c) is a pair of rows of different samples, both inside the batch, given the first
// row of r's sample (`first`): one division per row of a tile, not one per pair (a CPU adapter
// has no vector division).
fn negative_pair(r: u32, c: u32, first: u32) -> bool {
    return r < p.n && c < p.n && (c < first || c >= first + p.views);
}

// The first row of row r's sample.
fn sample_start(r: u32) -> u32 {
    return r - r % p.views;
}

@compute @workgroup_size(256)
fn clear_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e < p.n) {
        row_acc[e] = 0.0;
        col_acc[e] = 0.0;
    }
}

// Offsets into z of the eight rows from `row0`, clamped to the last row (masked when used).
fn row_bases_8(row0: u32) -> array<vec4<u32>, 2> {
    let last = vec4<u32>(p.n - 1u);
    let lo = min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), last) * p.d;
    let hi = min(vec4<u32>(row0) + vec4<u32>(4u, 5u, 6u, 7u), last) * p.d;
    return array<vec4<u32>, 2>(lo, hi);
}

// z_{rows}[k] for the four rows at offsets `o`.
fn gather4(o: vec4<u32>, k: u32) -> vec4<f32> {
    return vec4<f32>(z[o.x + k], z[o.y + k], z[o.z + k], z[o.w + k]);
}

// s for rows r0..r0+8 against columns c0..c0+8, divided by τ: entry (a, b) in
// [2a + ⌊b/4⌋][b mod 4]. Written out with one named accumulator each (no indexed private
// arrays) and one feature per step: eight row and eight column loads per 64 multiply-adds.
fn similarities_8x8(r0: u32, c0: u32) -> array<vec4<f32>, 16> {
    let ar = row_bases_8(r0);
    let bc = row_bases_8(c0);
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    var s4 = vec4<f32>(0.0);
    var s5 = vec4<f32>(0.0);
    var s6 = vec4<f32>(0.0);
    var s7 = vec4<f32>(0.0);
    var t0 = vec4<f32>(0.0);
    var t1 = vec4<f32>(0.0);
    var t2 = vec4<f32>(0.0);
    var t3 = vec4<f32>(0.0);
    var t4 = vec4<f32>(0.0);
    var t5 = vec4<f32>(0.0);
    var t6 = vec4<f32>(0.0);
    var t7 = vec4<f32>(0.0);
    for (var k = 0u; k < p.d; k++) {
        let lo = gather4(bc[0], k);
        let hi = gather4(bc[1], k);
        let ra = gather4(ar[0], k);
        let rb = gather4(ar[1], k);
        s0 += ra.x * lo;
        t0 += ra.x * hi;
        s1 += ra.y * lo;
        t1 += ra.y * hi;
        s2 += ra.z * lo;
        t2 += ra.z * hi;
        s3 += ra.w * lo;
        t3 += ra.w * hi;
        s4 += rb.x * lo;
        t4 += rb.x * hi;
        s5 += rb.y * lo;
        t5 += rb.y * hi;
        s6 += rb.z * lo;
        t6 += rb.z * hi;
        s7 += rb.w * lo;
        t7 += rb.w * hi;
    }
    let k = p.inv_tau;
    return array<vec4<f32>, 16>(
        k * s0, k * t0, k * s1, k * t1, k * s2, k * t2, k * s3, k * t3,
        k * s4, k * t4, k * s5, k * t5, k * s6, k * t6, k * s7, k * t7,
    );
}

// Forward pass k over pairs of 64-row blocks (`blocks` counts those): a workgroup of 8 × 8
// invocations, each an 8 × 8 register tile of the 64 × 64 similarities.
@compute @workgroup_size(8, 8)
fn pair_sums(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let pair = pair_of(wg.x);
    if (pair.x >= p.blocks) {
        return;
    }
    let i0 = pair.x * BR + lid.y * 8u;
    let j0 = pair.y * BR + lid.x * 8u;
    let s = similarities_8x8(i0, j0);
    var col_part: array<f32, 8>;
    for (var b = 0u; b < 8u; b++) {
        col_part[b] = 0.0;
    }
    for (var a = 0u; a < 8u; a++) {
        var row_part = 0.0;
        let r = i0 + a;
        let first = sample_start(r);
        for (var b = 0u; b < 8u; b++) {
            let c = j0 + b;
            let sab = s[2u * a + b / 4u][b % 4u];
            if (negative_pair(r, c, first)) {
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
    if (pair.x * BR + t < p.n) {
        row_acc[pair.x * BR + t] += sum;
    }
    if (pair.x != pair.y) {
        var col_sum = 0.0;
        for (var x = 0u; x < 8u; x++) {
            col_sum += red_cols[t * 8u + x];
        }
        if (pair.y * BR + t < p.n) {
            col_acc[pair.y * BR + t] += col_sum;
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

// The pair's G, G[q][x] at q·64 + x (row q of the first block, x of the second): 16 KiB,
// the whole of WebGPU's guaranteed workgroup memory.
var<workgroup> g_tile: array<f32, 4096>;

// (G · z_other) for rows q0..q0+8 of the pair's first block, or with `transposed` (Gᵀ · z_other)
// for rows q0..q0+8 of its second block; features f..f+16, row q0 + a in column h of the
// a-th matrix holding features f+4h..f+4h+4. Per step of x: eight G entries and sixteen z
// features for 128 multiply-adds, into named accumulators.
fn g_z(transposed: bool, q0: u32, other0: u32, f: u32) -> array<mat4x4<f32>, 8> {
    var m0 = mat4x4<f32>();
    var m1 = mat4x4<f32>();
    var m2 = mat4x4<f32>();
    var m3 = mat4x4<f32>();
    var m4 = mat4x4<f32>();
    var m5 = mat4x4<f32>();
    var m6 = mat4x4<f32>();
    var m7 = mat4x4<f32>();
    // G[q0 + a][x] at q0·BR + x + a·BR; G[x][q0 + a] at x·BR + q0 + a.
    var step = BR;
    if (transposed) {
        step = 1u;
    }
    for (var x = 0u; x < BR; x++) {
        let o = other0 + x;
        let zm = mat4x4<f32>(z4(o, f), z4(o, f + 4u), z4(o, f + 8u), z4(o, f + 12u));
        var at = q0 * BR + x;
        if (transposed) {
            at = x * BR + q0;
        }
        m0 += g_tile[at] * zm;
        m1 += g_tile[at + step] * zm;
        m2 += g_tile[at + 2u * step] * zm;
        m3 += g_tile[at + 3u * step] * zm;
        m4 += g_tile[at + 4u * step] * zm;
        m5 += g_tile[at + 5u * step] * zm;
        m6 += g_tile[at + 6u * step] * zm;
        m7 += g_tile[at + 7u * step] * zm;
    }
    return array<mat4x4<f32>, 8>(m0, m1, m2, m3, m4, m5, m6, m7);
}

// sides[side + row q0 + a of the block at b0][features f..f+16] += τ⁻¹·acc, rows inside the
// batch, the vec4s the row has.
fn add_rows(side: u32, b0: u32, q0: u32, f: u32, acc: array<mat4x4<f32>, 8>) {
    let d4 = row_vec4s();
    let v = f / 4u;
    for (var a = 0u; a < 8u; a++) {
        let r = b0 + q0 + a;
        if (r < p.n) {
            let at = side + r * d4 + v;
            for (var h = 0u; h < 4u; h++) {
                if (v + h < d4) {
                    sides[at + h] += p.inv_tau * acc[a][h];
                }
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
    let i0 = bi + lid.y * 8u;
    let j0 = bj + lid.x * 8u;
    let s = similarities_8x8(i0, j0);
    var wc: array<f32, 8>;
    for (var b = 0u; b < 8u; b++) {
        wc[b] = weight(j0 + b);
    }
    for (var a = 0u; a < 8u; a++) {
        let wr = weight(i0 + a);
        let first = sample_start(i0 + a);
        for (var b = 0u; b < 8u; b++) {
            var g = 0.0;
            if (negative_pair(i0 + a, j0 + b, first)) {
                g = exp(s[2u * a + b / 4u][b % 4u] - p.inv_tau) * (wr + wc[b]);
            }
            g_tile[(lid.y * 8u + a) * BR + lid.x * 8u + b] = g;
        }
    }
    workgroupBarrier();
    // Invocation (x, y): rows 8y..8y+8 of a block, features 16x..16x+16 of each step of 128.
    let q0 = lid.y * 8u;
    let col_side = p.n * row_vec4s();
    for (var f0 = 0u; f0 < p.d; f0 += 128u) {
        let f = f0 + lid.x * 16u;
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
