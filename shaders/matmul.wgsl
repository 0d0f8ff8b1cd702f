// matmul.wgsl — batched, strided matrix product C = alpha·op(A)·op(B) (+ C).
//
// Every operand is addressed through strides, so transposes, batching over (batch, head)
// pairs and reading one head's slice out of a fused QKV buffer cost nothing:
//   A(i, kk) = a[a_base + i·a_rs + kk·a_cs]      B(kk, j) = b[b_base + kk·b_rs + j·b_cs]
//   C(i, j)  = c[c_base + i·c_rs + j]
// with batch index z = z1·batch2 + z2 and x_base = x_off + z1·x_bs1 + z2·x_bs2.
//
// Entry point `matmul`: workgroup 8×8, each invocation a 4×4 register tile, so a
// workgroup owns a 32×32 block of C.
// Versions tried (Mesa 25 lavapipe, 2 cores; see README):
//   v1 naive, one output per invocation:        slow everywhere (memory-bound).
//   v2 16×16 workgroup-memory tile + barriers:  slower than naive on software adapters.
//   v3 (this) 4×4 register tile, no barriers:   several times faster than naive on
//      lavapipe and SwiftShader, and a sound, simple design on real GPUs where the
//      operands stay in L1/L2.
// Entry point `matmul_vec4`: the same tiles with the operands read as vec4s, for layouts where
// four consecutive elements along k (A row-major, B column-major) or along m / n (A
// column-major, B row-major) are contiguous and 16-byte aligned, and k is a multiple of 4 (the
// launcher checks; other layouts take `matmul`). Per four steps of k it makes eight vec4 loads
// for 64 FMAs where `matmul` makes 32 scalar loads: a quarter of the loads, and of the bounds
// checks a browser puts on each.
// Entry point `matmul_wide`, for products with C at least 128 × 128 (the launcher picks it
// whatever the layout): each invocation an 8 × 16 register tile (`Tile8x16`, tile_8x16.wgsl,
// concatenated in front), so a workgroup owns a 64 × 128 block of C. Per step of k it loads
// 8 elements of A and 16 of B for 128 FMAs, B as four vec4s where its rows run along n (1.25-1.7x
// the GFLOP/s of the 4 × 4 tiles from 256³ up on lavapipe, 1.1x on SwiftShader). The
// accumulators are eight named matrices, not an indexed array: SwiftShader keeps an indexed
// private array in memory (an array-indexed version of this kernel ran 3x slower there, while
// lavapipe ran it faster).
// `accumulate` = 1 adds into C (gradient accumulation); 0 overwrites without reading C,
// so a poisoned (NaN) output buffer is fully replaced.

struct Params {
    m: u32, n: u32, k: u32, batch2: u32,
    a_rs: u32, a_cs: u32, a_bs1: u32, a_bs2: u32,
    b_rs: u32, b_cs: u32, b_bs1: u32, b_bs2: u32,
    c_rs: u32, c_bs1: u32, c_bs2: u32, accumulate: u32,
    alpha: f32, a_off: u32, b_off: u32, c_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// First elements of A, B and C for batch wg.z = z1·batch2 + z2.
fn batch_bases(wg: vec3<u32>) -> vec3<u32> {
    let z1 = wg.z / p.batch2;
    let z2 = wg.z % p.batch2;
    return vec3<u32>(
        p.a_off + z1 * p.a_bs1 + z2 * p.a_bs2,
        p.b_off + z1 * p.b_bs1 + z2 * p.b_bs2,
        p.c_off + z1 * p.c_bs1 + z2 * p.c_bs2,
    );
}

// C(row0 + i, col0 + j) = alpha·acc[i][j] (+ C), inside the matrix.
fn store_tile(c_base: u32, row0: u32, col0: u32, acc: array<vec4<f32>, 4>) {
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + i;
        if (r >= p.m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + j;
            if (col >= p.n) {
                break;
            }
            let idx = c_base + r * p.c_rs + col;
            var v = p.alpha * acc[i][j];
            if (p.accumulate != 0u) {
                v += c[idx];
            }
            c[idx] = v;
        }
    }
}

@compute @workgroup_size(8, 8, 1)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bases = batch_bases(wg);
    let a_base = bases.x;
    let b_base = bases.y;
    let c_base = bases.z;
    let row0 = (wg.y * 8u + lid.y) * 4u;
    let col0 = (wg.x * 8u + lid.x) * 4u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    // Rows/columns past the edge are clamped for loading and skipped when storing.
    let last_r = p.m - 1u;
    let last_c = p.n - 1u;
    let ar = vec4<u32>(
        a_base + min(row0, last_r) * p.a_rs,
        a_base + min(row0 + 1u, last_r) * p.a_rs,
        a_base + min(row0 + 2u, last_r) * p.a_rs,
        a_base + min(row0 + 3u, last_r) * p.a_rs,
    );
    let bc = vec4<u32>(
        b_base + min(col0, last_c) * p.b_cs,
        b_base + min(col0 + 1u, last_c) * p.b_cs,
        b_base + min(col0 + 2u, last_c) * p.b_cs,
        b_base + min(col0 + 3u, last_c) * p.b_cs,
    );
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        let ka = kk * p.a_cs;
        let kb = kk * p.b_rs;
        let bv = vec4<f32>(b[bc.x + kb], b[bc.y + kb], b[bc.z + kb], b[bc.w + kb]);
        acc0 += a[ar.x + ka] * bv;
        acc1 += a[ar.y + ka] * bv;
        acc2 += a[ar.z + ka] * bv;
        acc3 += a[ar.w + ka] * bv;
    }
    store_tile(c_base, row0, col0, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// The same buffers as a and b, read four elements at a time (element offsets and strides are
// multiples of 4, so every index below is exact).
@group(0) @binding(4) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> b4: array<vec4<f32>>;
// 1: A's vec4s run along k (A(i, kk..kk+3) contiguous); 0: along m (A(i..i+3, kk), m a
// multiple of 4).
override A_ALONG_K: u32 = 1u;
// 1: B's vec4s run along k (B(kk..kk+3, j) contiguous); 0: along n (B(kk, j..j+3), n a
// multiple of 4).
override B_ALONG_K: u32 = 0u;

@compute @workgroup_size(8, 8, 1)
fn matmul_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bases = batch_bases(wg);
    let a_base = bases.x;
    let b_base = bases.y;
    let c_base = bases.z;
    let row0 = (wg.y * 8u + lid.y) * 4u;
    let col0 = (wg.x * 8u + lid.x) * 4u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    let last_r = p.m - 1u;
    let last_c = p.n - 1u;
    // vec4 index of each loaded vector at kk = 0 and its step per four k. Along k: one vector
    // per row of A (column of B), edge rows clamped; across k: one vector per k, four apart.
    var ia: vec4<u32>;
    var step_a: u32;
    if (A_ALONG_K != 0u) {
        ia = (vec4<u32>(a_base) + min(vec4<u32>(row0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last_r)) * p.a_rs) / 4u;
        step_a = 1u;
    } else {
        ia = (vec4<u32>(a_base + row0) + vec4<u32>(0u, 1u, 2u, 3u) * p.a_cs) / 4u;
        step_a = p.a_cs;
    }
    var ib: vec4<u32>;
    var step_b: u32;
    if (B_ALONG_K != 0u) {
        ib = (vec4<u32>(b_base) + min(vec4<u32>(col0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last_c)) * p.b_cs) / 4u;
        step_b = 1u;
    } else {
        ib = (vec4<u32>(b_base + col0) + vec4<u32>(0u, 1u, 2u, 3u) * p.b_rs) / 4u;
        step_b = p.b_rs;
    }
    // acc[j][i] = C(row0 + i, col0 + j): column-major, as the products below are.
    var acc = mat4x4<f32>();
    for (var kk = 0u; kk < p.k; kk += 4u) {
        let la = mat4x4<f32>(a4[ia.x], a4[ia.y], a4[ia.z], a4[ia.w]);
        let lb = mat4x4<f32>(b4[ib.x], b4[ib.y], b4[ib.z], b4[ib.w]);
        // Column j of the A block is A(row0.., kk + j); of the B block, B(kk.., col0 + j).
        var blk_a = la;
        if (A_ALONG_K != 0u) {
            blk_a = transpose(la);
        }
        var blk_b = lb;
        if (B_ALONG_K == 0u) {
            blk_b = transpose(lb);
        }
        acc += blk_a * blk_b;
        ia += vec4<u32>(step_a);
        ib += vec4<u32>(step_b);
    }
    let rows = transpose(acc);
    store_tile(c_base, row0, col0, array<vec4<f32>, 4>(rows[0], rows[1], rows[2], rows[3]));
}

// Offsets of the four rows (or columns) first..first+4 of an operand, `stride` apart from
// `base`, clamped to `last` (those are loaded but never stored).
fn offsets4(base: u32, first: u32, last: u32, stride: u32) -> vec4<u32> {
    return vec4<u32>(base) + min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)) * stride;
}

// A at four row offsets and step `ka` along k.
fn load_a4(o: vec4<u32>, ka: u32) -> vec4<f32> {
    return vec4<f32>(a[o.x + ka], a[o.y + ka], a[o.z + ka], a[o.w + ka]);
}

// B at four column offsets and step `kb` along k.
fn load_b4(o: vec4<u32>, kb: u32) -> vec4<f32> {
    return vec4<f32>(b[o.x + kb], b[o.y + kb], b[o.z + kb], b[o.w + kb]);
}

// 1: B's rows run along n, contiguous and 16-byte aligned, and n is a multiple of 16, so the 16
// columns of a step of k are four vec4s (B(kk, col0..col0+16), never clamped).
override WIDE_B_VEC4: u32 = 0u;
// 1: A's columns run along m, contiguous and 16-byte aligned, and m is a multiple of 8, so the
// 8 rows of a step of k are two vec4s (A(row0..row0+8, kk), never clamped).
override WIDE_A_VEC4: u32 = 0u;

@compute @workgroup_size(8, 8, 1)
fn matmul_wide(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bases = batch_bases(wg);
    let row0 = (wg.y * 8u + lid.y) * 8u;
    let col0 = (wg.x * 8u + lid.x) * 16u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    let a_lo = offsets4(bases.x, row0, p.m - 1u, p.a_rs);
    let a_hi = offsets4(bases.x, row0 + 4u, p.m - 1u, p.a_rs);
    let b0 = offsets4(bases.y, col0, p.n - 1u, p.b_cs);
    let b1 = offsets4(bases.y, col0 + 4u, p.n - 1u, p.b_cs);
    let b2 = offsets4(bases.y, col0 + 8u, p.n - 1u, p.b_cs);
    let b3 = offsets4(bases.y, col0 + 12u, p.n - 1u, p.b_cs);
    var t = Tile8x16();
    for (var kk = 0u; kk < p.k; kk++) {
        let ka = kk * p.a_cs;
        let kb = kk * p.b_rs;
        var bm: mat4x4<f32>;
        if (WIDE_B_VEC4 != 0u) {
            let at = (b0.x + kb) / 4u;
            bm = mat4x4<f32>(b4[at], b4[at + 1u], b4[at + 2u], b4[at + 3u]);
        } else {
            bm = mat4x4<f32>(load_b4(b0, kb), load_b4(b1, kb), load_b4(b2, kb), load_b4(b3, kb));
        }
        var lo: vec4<f32>;
        var hi: vec4<f32>;
        if (WIDE_A_VEC4 != 0u) {
            let at = (a_lo.x + ka) / 4u;
            lo = a4[at];
            hi = a4[at + 1u];
        } else {
            lo = load_a4(a_lo, ka);
            hi = load_a4(a_hi, ka);
        }
        tile_add(&t, lo, hi, bm);
    }
    for (var h = 0u; h < 4u; h++) {
        store_tile(bases.z, row0, col0 + 4u * h, array<vec4<f32>, 4>(t.m0[h], t.m1[h], t.m2[h], t.m3[h]));
        store_tile(bases.z, row0 + 4u, col0 + 4u * h, array<vec4<f32>, 4>(t.m4[h], t.m5[h], t.m6[h], t.m7[h]));
    }
}
