// contrastive_pairs.wgsl — the contrastive loss's O(N²) work over pairs of row blocks, each
// similarity computed once for both of its rows (contrastive.wgsl holds the per-row kernels and
// the loss terms; the launcher uses these passes where the rows share the shift 1/τ and the
// adapter offers the 16 KiB of workgroup memory a pair's tile takes).
//
// z is unit-length, so s_rc = z_r·z_c/τ lies in [−1/τ, 1/τ] and, for τ ≥ 0.025, every row can
// use the one shift 1/τ: e_rc = e^{s_rc − 1/τ} is the same number for row r and for row c. The
// N rows are cut into T blocks of 64; block pair (i, j), j = (i + k) mod T, is visited in pass
// k = 0 … ⌊T/2⌋ (in the last pass of an even T only by i < T/2), so every unordered pair of
// blocks is visited once. A workgroup (4 × 8 invocations) takes one pair: each invocation
// computes an 8 × 16 register tile of the 64 × 64 similarities from zᵀ (`zt`, written once per
// forward pass by `transpose_z`), where a feature of its eight rows is two contiguous vec4s and
// of its sixteen columns four (the rows of z itself lie d floats apart). The pair's whole tile
// then goes to workgroup memory (64 × 64 f32, 16 KiB), and
//   forward:  e_rc: row block i's sums Σ_c e_rc go into row_acc, block j's into col_acc (the
//             pair's other side); the similarities to the row's own views go to pos;
//   backward: g_rc = e_rc·(w_r + w_c) with w = a·e^{1/τ − lse} (one exponential per pair): each
//             invocation adds 8 rows × 16 features of Gᵀ·z_i to block j's side of the gradient,
//             the tile is transposed in place, and the same routine adds G·z_j to block i's.
// The tiles' accumulators are named variables written out here (the matmuls' shared
// tile_8x16.wgsl helper made this backward 1.34x slower on SwiftShader), not indexed private
// arrays, and a tile row is written and added with constant indices: SwiftShader keeps an
// indexed private array (or a vector indexed by a loop counter) in memory (such versions ran
// 1.1-3x slower there, while lavapipe, which unrolls the loops, ran them about as fast). In one pass each block's rows of
// each accumulator have a single writer, and passes run in order: sums in a fixed order, no
// atomics, deterministic on every adapter. The own sample's views are left out (backward_finish in contrastive.wgsl adds
// the positives).

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

// Rows per block.
const BR: u32 = 64u;

// zᵀ, d rows of np = 64·T (columns past N are zero): written by transpose_z (zt_out), read as
// vec4s by the pair passes (zt).
@group(0) @binding(10) var<storage, read_write> zt_out: array<f32>;
@group(0) @binding(11) var<storage, read> zt: array<vec4<f32>>;

// The pair's 64 × 64 tile, T[q][4h..4h+4] at q·16 + h: e (forward), G, then Gᵀ (backward).
var<workgroup> tile: array<vec4<f32>, 1024>;

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

// negative_pair for row r against the four columns c.
fn negatives4(r: u32, c: vec4<u32>, first: u32) -> vec4<bool> {
    let inside = vec4<bool>(r < p.n) & (c < vec4<u32>(p.n));
    return inside & ((c < vec4<u32>(first)) | (c >= vec4<u32>(first + p.views)));
}

// e = e^{s − 1/τ} for row r's sixteen similarities `sr` to columns c0..c0+16 (one vec4 per
// four columns), 0 where the pair is not a negative.
fn exps_row(sr: mat4x4<f32>, r: u32, c0: u32) -> mat4x4<f32> {
    let first = sample_start(r);
    let c = vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u);
    let zero = vec4<f32>(0.0);
    let shift = vec4<f32>(p.inv_tau);
    return mat4x4<f32>(
        select(zero, exp(sr[0] - shift), negatives4(r, c, first)),
        select(zero, exp(sr[1] - shift), negatives4(r, c + 4u, first)),
        select(zero, exp(sr[2] - shift), negatives4(r, c + 8u, first)),
        select(zero, exp(sr[3] - shift), negatives4(r, c + 12u, first)),
    );
}

// One tile row's sixteen entries from vec4 `at` on.
fn put_row(at: u32, m: mat4x4<f32>) {
    tile[at] = m[0];
    tile[at + 1u] = m[1];
    tile[at + 2u] = m[2];
    tile[at + 3u] = m[3];
}

@compute @workgroup_size(256)
fn clear_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e < p.n) {
        row_acc[e] = 0.0;
        col_acc[e] = 0.0;
    }
}

// zt_out = zᵀ with zero columns past N, so every pair pass reads whole vec4s in bounds.
@compute @workgroup_size(256)
fn transpose_z(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    let np = p.blocks * BR;
    if (e < p.d * np) {
        let k = e / np;
        let r = e % np;
        var v = 0.0;
        if (r < p.n) {
            v = z[r * p.d + k];
        }
        zt_out[e] = v;
    }
}

// s for rows r0..r0+8 against columns c0..c0+16, divided by τ: entry (a, 4h + t) in [a][h][t].
// Per feature: two vec4s of zᵀ for the rows and four for the columns, 128 multiply-adds.
fn similarities_8x16(r0: u32, c0: u32) -> array<mat4x4<f32>, 8> {
    let np4 = p.blocks * BR / 4u;
    var at = c0 / 4u;
    var ar = r0 / 4u;
    var m0 = mat4x4<f32>();
    var m1 = mat4x4<f32>();
    var m2 = mat4x4<f32>();
    var m3 = mat4x4<f32>();
    var m4 = mat4x4<f32>();
    var m5 = mat4x4<f32>();
    var m6 = mat4x4<f32>();
    var m7 = mat4x4<f32>();
    for (var k = 0u; k < p.d; k++) {
        let bm = mat4x4<f32>(zt[at], zt[at + 1u], zt[at + 2u], zt[at + 3u]);
        let lo = zt[ar];
        let hi = zt[ar + 1u];
        at += np4;
        ar += np4;
        m0 += lo.x * bm;
        m1 += lo.y * bm;
        m2 += lo.z * bm;
        m3 += lo.w * bm;
        m4 += hi.x * bm;
        m5 += hi.y * bm;
        m6 += hi.z * bm;
        m7 += hi.w * bm;
    }
    let k = p.inv_tau;
    return array<mat4x4<f32>, 8>(k * m0, k * m1, k * m2, k * m3, k * m4, k * m5, k * m6, k * m7);
}

// Forward pass k over pairs of 64-row blocks (`blocks` counts those).
@compute @workgroup_size(4, 8)
fn pair_sums(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let pair = pair_of(wg.x);
    if (pair.x >= p.blocks) {
        return;
    }
    let bi = pair.x * BR;
    let bj = pair.y * BR;
    let i0 = bi + lid.y * 8u;
    let j0 = bj + lid.x * 16u;
    let s = similarities_8x16(i0, j0);
    // Row by row, with constant indices: SwiftShader keeps indexed private arrays in memory.
    let at = lid.y * 8u * 16u + lid.x * 4u;
    put_row(at, exps_row(s[0], i0, j0));
    put_row(at + 16u, exps_row(s[1], i0 + 1u, j0));
    put_row(at + 32u, exps_row(s[2], i0 + 2u, j0));
    put_row(at + 48u, exps_row(s[3], i0 + 3u, j0));
    put_row(at + 64u, exps_row(s[4], i0 + 4u, j0));
    put_row(at + 80u, exps_row(s[5], i0 + 5u, j0));
    put_row(at + 96u, exps_row(s[6], i0 + 6u, j0));
    put_row(at + 112u, exps_row(s[7], i0 + 7u, j0));
    // Only blocks that share a sample hold positives: a sample's views are at most 8 consecutive
    // rows (MAX_VIEWS), so they lie in one block or in two adjacent ones.
    if (max(pair.x, pair.y) - min(pair.x, pair.y) <= 1u) {
        for (var a = 0u; a < 8u; a++) {
            let r = i0 + a;
            let first = sample_start(r);
            for (var b = 0u; b < 16u; b++) {
                let c = j0 + b;
                if (r < p.n && c < p.n && !negative_pair(r, c, first)) {
                    let sab = s[a][b / 4u][b % 4u];
                    pos[r * p.views + c % p.views] = sab;
                    if (pair.x != pair.y) {
                        pos[c * p.views + r % p.views] = sab;
                    }
                }
            }
        }
    }
    workgroupBarrier();
    // Invocations 0..16 add up four rows of the tile each, 16..32 four columns (rows of the
    // second block; a diagonal pair's rows already hold every entry), in a fixed order.
    let t = lid.y * 4u + lid.x;
    if (t < 16u) {
        var sums = vec4<f32>(0.0);
        for (var h = 0u; h < 16u; h++) {
            let at = 4u * t * 16u + h;
            sums += vec4<f32>(
                dot(tile[at], vec4<f32>(1.0)),
                dot(tile[at + 16u], vec4<f32>(1.0)),
                dot(tile[at + 32u], vec4<f32>(1.0)),
                dot(tile[at + 48u], vec4<f32>(1.0)),
            );
        }
        for (var q = 0u; q < 4u; q++) {
            if (bi + 4u * t + q < p.n) {
                row_acc[bi + 4u * t + q] += sums[q];
            }
        }
    } else if (pair.x != pair.y) {
        let h = t - 16u;
        var sums = vec4<f32>(0.0);
        for (var x = 0u; x < BR; x++) {
            sums += tile[x * 16u + h];
        }
        for (var q = 0u; q < 4u; q++) {
            if (bj + 4u * h + q < p.n) {
                col_acc[bj + 4u * h + q] += sums[q];
            }
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

// weight() of rows c..c+4.
fn weights4(c: u32) -> vec4<f32> {
    return vec4<f32>(weight(c), weight(c + 1u), weight(c + 2u), weight(c + 3u));
}

// g = e·(w_r + w_c) for row r's sixteen similarities `sr` to columns c0..c0+16, whose weights
// are `wc` (one vec4 per four columns).
fn grads_row(sr: mat4x4<f32>, r: u32, c0: u32, wc: mat4x4<f32>) -> mat4x4<f32> {
    let e = exps_row(sr, r, c0);
    let wr = vec4<f32>(weight(r));
    return mat4x4<f32>(e[0] * (wr + wc[0]), e[1] * (wr + wc[1]), e[2] * (wr + wc[2]), e[3] * (wr + wc[3]));
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

// Features f..f+16 of row `o` of z, as four vec4s.
fn zrow16(o: u32, f: u32) -> mat4x4<f32> {
    return mat4x4<f32>(z4(o, f), z4(o, f + 4u), z4(o, f + 8u), z4(o, f + 12u));
}

// Σ_x T[x][q0 + a]·z_{other0 + x}[f..f+16] for a = 0..8, where the workgroup tile holds T
// (T[x][4h..4h+4] at x·16 + h): Gᵀ·z_i for block j's rows while it holds G, G·z_j for block
// i's rows while it holds Gᵀ. Per step of x: two vec4s of T and four of z for 128 multiply-adds.
fn tile_z(q0: u32, other0: u32, f: u32) -> array<mat4x4<f32>, 8> {
    var m0 = mat4x4<f32>();
    var m1 = mat4x4<f32>();
    var m2 = mat4x4<f32>();
    var m3 = mat4x4<f32>();
    var m4 = mat4x4<f32>();
    var m5 = mat4x4<f32>();
    var m6 = mat4x4<f32>();
    var m7 = mat4x4<f32>();
    for (var x = 0u; x < BR; x++) {
        let zm = zrow16(other0 + x, f);
        let lo = tile[x * 16u + q0 / 4u];
        let hi = tile[x * 16u + q0 / 4u + 1u];
        m0 += lo.x * zm;
        m1 += lo.y * zm;
        m2 += lo.z * zm;
        m3 += lo.w * zm;
        m4 += hi.x * zm;
        m5 += hi.y * zm;
        m6 += hi.z * zm;
        m7 += hi.w * zm;
    }
    return array<mat4x4<f32>, 8>(m0, m1, m2, m3, m4, m5, m6, m7);
}

// sides[side + row r][features f..f+16] += τ⁻¹·m (m's column h holds features f+4h..f+4h+4),
// for a row inside the batch, the vec4s the row has.
fn add_row(side: u32, r: u32, f: u32, m: mat4x4<f32>) {
    if (r >= p.n) {
        return;
    }
    let d4 = row_vec4s();
    let v = f / 4u;
    let at = side + r * d4 + v;
    sides[at] += p.inv_tau * m[0];
    if (v + 1u < d4) {
        sides[at + 1u] += p.inv_tau * m[1];
    }
    if (v + 2u < d4) {
        sides[at + 2u] += p.inv_tau * m[2];
    }
    if (v + 3u < d4) {
        sides[at + 3u] += p.inv_tau * m[3];
    }
}

// add_row for rows r0..r0+8 (with constant indices: SwiftShader keeps indexed private arrays
// in memory).
fn add_rows(side: u32, r0: u32, f: u32, acc: array<mat4x4<f32>, 8>) {
    add_row(side, r0, f, acc[0]);
    add_row(side, r0 + 1u, f, acc[1]);
    add_row(side, r0 + 2u, f, acc[2]);
    add_row(side, r0 + 3u, f, acc[3]);
    add_row(side, r0 + 4u, f, acc[4]);
    add_row(side, r0 + 5u, f, acc[5]);
    add_row(side, r0 + 6u, f, acc[6]);
    add_row(side, r0 + 7u, f, acc[7]);
}

// Four columns of eight tile rows from vec4 `at` (rows at stride 16), transposed: column t of
// the first matrix holds rows 0..4 of column t, of the second rows 4..8.
fn columns_of(at: u32) -> array<mat4x4<f32>, 2> {
    let lo = mat4x4<f32>(tile[at], tile[at + 16u], tile[at + 32u], tile[at + 48u]);
    let hi = mat4x4<f32>(tile[at + 64u], tile[at + 80u], tile[at + 96u], tile[at + 112u]);
    return array<mat4x4<f32>, 2>(transpose(lo), transpose(hi));
}

// Writes `cols` (from columns_of) as tile rows x0..x0+4, at row group `group` (eight entries).
fn put_columns(x0: u32, group: u32, cols: array<mat4x4<f32>, 2>) {
    let at = x0 * 16u + group * 2u;
    tile[at] = cols[0][0];
    tile[at + 1u] = cols[1][0];
    tile[at + 16u] = cols[0][1];
    tile[at + 17u] = cols[1][1];
    tile[at + 32u] = cols[0][2];
    tile[at + 33u] = cols[1][2];
    tile[at + 48u] = cols[0][3];
    tile[at + 49u] = cols[1][3];
}

@compute @workgroup_size(4, 8)
fn pair_grads(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let pair = pair_of(wg.x);
    if (pair.x >= p.blocks) {
        return;
    }
    let bi = pair.x * BR;
    let bj = pair.y * BR;
    let i0 = bi + lid.y * 8u;
    let j0 = bj + lid.x * 16u;
    let s = similarities_8x16(i0, j0);
    let wc = mat4x4<f32>(weights4(j0), weights4(j0 + 4u), weights4(j0 + 8u), weights4(j0 + 12u));
    let at = lid.y * 8u * 16u + lid.x * 4u;
    put_row(at, grads_row(s[0], i0, j0, wc));
    put_row(at + 16u, grads_row(s[1], i0 + 1u, j0, wc));
    put_row(at + 32u, grads_row(s[2], i0 + 2u, j0, wc));
    put_row(at + 48u, grads_row(s[3], i0 + 3u, j0, wc));
    put_row(at + 64u, grads_row(s[4], i0 + 4u, j0, wc));
    put_row(at + 80u, grads_row(s[5], i0 + 5u, j0, wc));
    put_row(at + 96u, grads_row(s[6], i0 + 6u, j0, wc));
    put_row(at + 112u, grads_row(s[7], i0 + 7u, j0, wc));
    workgroupBarrier();
    // Invocation (x, y): rows 8y..8y+8 of a block, features 16x..16x+16 of each step of 64.
    let q0 = lid.y * 8u;
    let col_side = p.n * row_vec4s();
    if (pair.x != pair.y) {
        for (var f0 = 0u; f0 < p.d; f0 += 64u) {
            let f = f0 + lid.x * 16u;
            if (f < p.d) {
                add_rows(col_side, bj + q0, f, tile_z(q0, bi, f));
            }
        }
    }
    // The tile becomes Gᵀ: each invocation moves its own 8 × 16 entries (read, barrier, write),
    // four columns at a time as two transposed 4 × 4 blocks (no indexed private arrays).
    let own = q0 * 16u + lid.x * 4u;
    let c0 = columns_of(own);
    let c1 = columns_of(own + 1u);
    let c2 = columns_of(own + 2u);
    let c3 = columns_of(own + 3u);
    workgroupBarrier();
    let x0 = lid.x * 16u;
    put_columns(x0, lid.y, c0);
    put_columns(x0 + 4u, lid.y, c1);
    put_columns(x0 + 8u, lid.y, c2);
    put_columns(x0 + 12u, lid.y, c3);
    workgroupBarrier();
    for (var f0 = 0u; f0 < p.d; f0 += 64u) {
        let f = f0 + lid.x * 16u;
        if (f < p.d) {
            add_rows(0u, bi + q0, f, tile_z(q0, bj, f));
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
