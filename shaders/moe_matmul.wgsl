// moe_matmul.wgsl — the expert FFNs as grouped matmuls over the tokens grouped by expert
// (moe.wgsl's offsets): no padding to a capacity, one weight matrix per expert.
//
//   moe_matmul        for each expert e and each row r of its group [offsets[e], offsets[e+1]):
//                     c[r, :] (+)= a[r, :] · op(W_e) (+ bias_e), W_e = w[e] stored (k_in, n)
//                     row-major, or (n, k_in) with p.trans_w (then op = transpose).
//                     Grid: (n/32, row tiles of the largest possible group, experts); each
//                     invocation owns a 4×4 register tile (workgroup 8×8 → 32×32 of C), the
//                     layout matmul.wgsl found fastest on software adapters and sound on GPUs;
//                     tiles past a group's end return at once.
//   moe_matmul_wgrad  dw[e] (+)= a_eᵀ · b_e over the rows of group e: (k_in, n) per expert,
//                     each workgroup summing its group's rows in order (deterministic).
//   moe_bias_grad     db[e, j] (+)= Σ_{r in group e} b[r, j].
//   moe_matmul_wide   moe_matmul with 8×16 register tiles where C is 128 columns wide or more
//                     and there are 128 grouped rows or more (matmul.wgsl's matmul_wide).
//   moe_matmul_vec4, moe_matmul_wgrad_vec4
//                     the same products reading a, w and b as vec4s (a4, w4, b4) where rows
//                     are multiples of 4 long (the launcher checks: k_in, and n where W is
//                     read along n or b is read at all), as matmul.wgsl's matmul_vec4 does:
//                     a quarter of the loads.
// Rows past offsets[E] are never read or written.

struct Params {
    rows: u32,
    k_in: u32,
    n: u32,
    experts: u32,
    trans_w: u32,
    accumulate: u32,
    has_bias: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;
@group(0) @binding(6) var<storage, read> b: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
// a, w and b again, four elements at a time (the vec4 entry points).
@group(0) @binding(8) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read> b4: array<vec4<f32>>;

// Expert wg.z's group (first grouped row, row count) and this invocation's 4×4 tile origin:
// (start, count, tile row, tile column).
fn group_tile(wg: vec3<u32>, lid: vec3<u32>) -> vec4<u32> {
    let start = offsets[wg.z];
    return vec4<u32>(start, offsets[wg.z + 1u] - start, (wg.y * 8u + lid.y) * 4u, (wg.x * 8u + lid.x) * 4u);
}

// c[start + r0 + i, c0 + j] (+)= acc[i][j] (+ bias_e[c0 + j]) inside the group and the row.
fn store_grouped(e: u32, start: u32, count: u32, r0: u32, c0: u32, acc: array<vec4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        let r = r0 + i;
        if (r >= count) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = c0 + j;
            if (col >= p.n) {
                break;
            }
            var v = acc[i][j];
            if (p.has_bias != 0u) {
                v += bias[e * p.n + col];
            }
            let at = (start + r) * p.n + col;
            if (p.accumulate != 0u) {
                v += c[at];
            }
            c[at] = v;
        }
    }
}

// dw[e, k0 + i, c0 + j] (+)= acc[i][j] inside the matrix.
fn store_wgrad(e: u32, k0: u32, c0: u32, acc: array<vec4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        let k = k0 + i;
        if (k >= p.k_in) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = c0 + j;
            if (col >= p.n) {
                break;
            }
            let at = (e * p.k_in + k) * p.n + col;
            var v = acc[i][j];
            if (p.accumulate != 0u) {
                v += dw[at];
            }
            dw[at] = v;
        }
    }
}

// 4×4 tile products: rows through `ar` (A row starts, A column stride a_cs), columns through
// `bc` (B column starts, B row stride b_rs), over kk < depth; B is the weights `w` (forward,
// input gradient) or the output gradient `b` (weight gradient). Two functions because an
// entry point may only touch the bindings its pipeline declares.
fn tile_w(ar: vec4<u32>, a_cs: u32, bc: vec4<u32>, b_rs: u32, depth: u32) -> array<vec4<f32>, 4> {
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var kk = 0u; kk < depth; kk++) {
        let kb = kk * b_rs;
        let bv = vec4<f32>(w[bc.x + kb], w[bc.y + kb], w[bc.z + kb], w[bc.w + kb]);
        let ka = kk * a_cs;
        acc[0] += a[ar.x + ka] * bv;
        acc[1] += a[ar.y + ka] * bv;
        acc[2] += a[ar.z + ka] * bv;
        acc[3] += a[ar.w + ka] * bv;
    }
    return acc;
}

fn tile_b(ar: vec4<u32>, a_cs: u32, bc: vec4<u32>, b_rs: u32, depth: u32) -> array<vec4<f32>, 4> {
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var kk = 0u; kk < depth; kk++) {
        let kb = kk * b_rs;
        let bv = vec4<f32>(b[bc.x + kb], b[bc.y + kb], b[bc.z + kb], b[bc.w + kb]);
        let ka = kk * a_cs;
        acc[0] += a[ar.x + ka] * bv;
        acc[1] += a[ar.y + ka] * bv;
        acc[2] += a[ar.z + ka] * bv;
        acc[3] += a[ar.w + ka] * bv;
    }
    return acc;
}

@compute @workgroup_size(8, 8)
fn moe_matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let t = group_tile(wg, lid);
    let start = t.x;
    let count = t.y;
    let r0 = t.z;
    let c0 = t.w;
    if (r0 >= count || c0 >= p.n) {
        return;
    }
    let last_r = count - 1u;
    let last_c = p.n - 1u;
    let ar = (vec4<u32>(start) + min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last_r))) * p.k_in;
    let cols = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last_c));
    var bc: vec4<u32>;
    var b_rs: u32;
    if (p.trans_w != 0u) {
        bc = e * p.n * p.k_in + cols * p.k_in;
        b_rs = 1u;
    } else {
        bc = e * p.k_in * p.n + cols;
        b_rs = p.n;
    }
    store_grouped(e, start, count, r0, c0, tile_w(ar, 1u, bc, b_rs, p.k_in));
}

@compute @workgroup_size(8, 8)
fn moe_matmul_wgrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let t = group_tile(wg, lid);
    let start = t.x;
    let count = t.y;
    let k0 = t.z;
    let c0 = t.w;
    if (k0 >= p.k_in || c0 >= p.n) {
        return;
    }
    // Aᵀ(k, r) = a[(start + r)·k_in + k]; B(r, j) = b[(start + r)·n + j].
    let ar = vec4<u32>(start * p.k_in) + min(vec4<u32>(k0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.k_in - 1u));
    let bc = vec4<u32>(start * p.n) + min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
    store_wgrad(e, k0, c0, tile_b(ar, p.k_in, bc, p.n, count));
}

@compute @workgroup_size(8, 8)
fn moe_matmul_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let t = group_tile(wg, lid);
    let start = t.x;
    let count = t.y;
    let r0 = t.z;
    let c0 = t.w;
    if (r0 >= count || c0 >= p.n) {
        return;
    }
    // A's rows along k (edge rows clamped); W_e along k per column (stored (n, k_in)) or along
    // n per k (stored (k_in, n), n a multiple of 4). vec4 indices, stepped per four k.
    let quad = vec4<u32>(0u, 1u, 2u, 3u);
    var ia = (vec4<u32>(start) + min(vec4<u32>(r0) + quad, vec4<u32>(count - 1u))) * (p.k_in / 4u);
    var ib: vec4<u32>;
    var step_b: u32;
    if (p.trans_w != 0u) {
        ib = (vec4<u32>(e * p.n * p.k_in) + min(vec4<u32>(c0) + quad, vec4<u32>(p.n - 1u)) * p.k_in) / 4u;
        step_b = 1u;
    } else {
        ib = (vec4<u32>(e * p.k_in * p.n + c0) + quad * p.n) / 4u;
        step_b = p.n;
    }
    // acc[j][i] = C(r0 + i, c0 + j), column-major like the block products.
    var acc = mat4x4<f32>();
    for (var kk = 0u; kk < p.k_in; kk += 4u) {
        let blk_a = transpose(mat4x4<f32>(a4[ia.x], a4[ia.y], a4[ia.z], a4[ia.w]));
        var blk_w = mat4x4<f32>(w4[ib.x], w4[ib.y], w4[ib.z], w4[ib.w]);
        if (p.trans_w == 0u) {
            blk_w = transpose(blk_w);
        }
        acc += blk_a * blk_w;
        ia += vec4<u32>(1u);
        ib += vec4<u32>(step_b);
    }
    let rows = transpose(acc);
    store_grouped(e, start, count, r0, c0, array<vec4<f32>, 4>(rows[0], rows[1], rows[2], rows[3]));
}

// 1: W_e is stored (k_in, n) and n is a multiple of 16, so the 16 columns of a step of k are
// four vec4s of w4 (never clamped).
override WIDE_W_VEC4: u32 = 0u;

// W_e at the four column offsets `o` and step `kb` along k.
fn load_w4(o: vec4<u32>, kb: u32) -> vec4<f32> {
    return vec4<f32>(w[o.x + kb], w[o.y + kb], w[o.z + kb], w[o.w + kb]);
}

// Offsets of W_e's four columns c..c+4 (clamped to the last), and W_e's step along k.
fn w_columns(e: u32, c: u32) -> vec4<u32> {
    let cols = min(vec4<u32>(c) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
    if (p.trans_w != 0u) {
        return vec4<u32>(e * p.n * p.k_in) + cols * p.k_in;
    }
    return vec4<u32>(e * p.k_in * p.n) + cols;
}

// moe_matmul with 8×16 register tiles (workgroup 8×8 → 64 × 128 of a group's C), as
// matmul.wgsl's matmul_wide: 8 elements of A and 16 of W_e per step of k for 128 multiply-adds,
// in the shared `Tile8x16` (tile_8x16.wgsl, concatenated in front).
@compute @workgroup_size(8, 8)
fn moe_matmul_wide(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let start = offsets[e];
    let count = offsets[e + 1u] - start;
    let r0 = (wg.y * 8u + lid.y) * 8u;
    let c0 = (wg.x * 8u + lid.x) * 16u;
    if (r0 >= count || c0 >= p.n) {
        return;
    }
    let last = vec4<u32>(count - 1u);
    let a_lo = (vec4<u32>(start) + min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), last)) * p.k_in;
    let a_hi = (vec4<u32>(start) + min(vec4<u32>(r0) + vec4<u32>(4u, 5u, 6u, 7u), last)) * p.k_in;
    let w0 = w_columns(e, c0);
    let w1 = w_columns(e, c0 + 4u);
    let w2 = w_columns(e, c0 + 8u);
    let w3 = w_columns(e, c0 + 12u);
    var b_rs = p.n;
    if (p.trans_w != 0u) {
        b_rs = 1u;
    }
    var t = Tile8x16();
    for (var kk = 0u; kk < p.k_in; kk++) {
        let kb = kk * b_rs;
        var bm: mat4x4<f32>;
        if (WIDE_W_VEC4 != 0u) {
            let at = (w0.x + kb) / 4u;
            bm = mat4x4<f32>(w4[at], w4[at + 1u], w4[at + 2u], w4[at + 3u]);
        } else {
            bm = mat4x4<f32>(load_w4(w0, kb), load_w4(w1, kb), load_w4(w2, kb), load_w4(w3, kb));
        }
        let lo = vec4<f32>(a[a_lo.x + kk], a[a_lo.y + kk], a[a_lo.z + kk], a[a_lo.w + kk]);
        let hi = vec4<f32>(a[a_hi.x + kk], a[a_hi.y + kk], a[a_hi.z + kk], a[a_hi.w + kk]);
        tile_add(&t, lo, hi, bm);
    }
    store_grouped(e, start, count, r0, c0, array<vec4<f32>, 4>(t.m0[0], t.m1[0], t.m2[0], t.m3[0]));
    store_grouped(e, start, count, r0 + 4u, c0, array<vec4<f32>, 4>(t.m4[0], t.m5[0], t.m6[0], t.m7[0]));
    store_grouped(e, start, count, r0, c0 + 4u, array<vec4<f32>, 4>(t.m0[1], t.m1[1], t.m2[1], t.m3[1]));
    store_grouped(e, start, count, r0 + 4u, c0 + 4u, array<vec4<f32>, 4>(t.m4[1], t.m5[1], t.m6[1], t.m7[1]));
    store_grouped(e, start, count, r0, c0 + 8u, array<vec4<f32>, 4>(t.m0[2], t.m1[2], t.m2[2], t.m3[2]));
    store_grouped(e, start, count, r0 + 4u, c0 + 8u, array<vec4<f32>, 4>(t.m4[2], t.m5[2], t.m6[2], t.m7[2]));
    store_grouped(e, start, count, r0, c0 + 12u, array<vec4<f32>, 4>(t.m0[3], t.m1[3], t.m2[3], t.m3[3]));
    store_grouped(e, start, count, r0 + 4u, c0 + 12u, array<vec4<f32>, 4>(t.m4[3], t.m5[3], t.m6[3], t.m7[3]));
}

@compute @workgroup_size(8, 8)
fn moe_matmul_wgrad_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let t = group_tile(wg, lid);
    let start = t.x;
    let count = t.y;
    let k0 = t.z;
    let c0 = t.w;
    if (k0 >= p.k_in || c0 >= p.n) {
        return;
    }
    // Per grouped row: a[row, k0..k0+4] and b[row, c0..c0+4], one vec4 each (k_in and n are
    // multiples of 4), an outer product into the tile.
    var ia = (start * p.k_in + k0) / 4u;
    var ib = (start * p.n + c0) / 4u;
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var r = 0u; r < count; r++) {
        let av = a4[ia];
        let bv = b4[ib];
        acc[0] += av.x * bv;
        acc[1] += av.y * bv;
        acc[2] += av.z * bv;
        acc[3] += av.w * bv;
        ia += p.k_in / 4u;
        ib += p.n / 4u;
    }
    store_wgrad(e, k0, c0, acc);
}

@compute @workgroup_size(64)
fn moe_bias_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.y;
    let j = wg.x * 64u + lid.x;
    if (j >= p.n) {
        return;
    }
    var acc = 0.0;
    for (var r = offsets[e]; r < offsets[e + 1u]; r++) {
        acc += b[r * p.n + j];
    }
    let at = e * p.n + j;
    if (p.accumulate != 0u) {
        acc += dw[at];
    }
    dw[at] = acc;
}
