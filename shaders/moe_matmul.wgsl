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
    let start = offsets[e];
    let count = offsets[e + 1u] - start;
    let r0 = (wg.y * 8u + lid.y) * 4u;
    let c0 = (wg.x * 8u + lid.x) * 4u;
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
    let acc = tile_w(ar, 1u, bc, b_rs, p.k_in);
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

@compute @workgroup_size(8, 8)
fn moe_matmul_wgrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let start = offsets[e];
    let count = offsets[e + 1u] - start;
    let k0 = (wg.y * 8u + lid.y) * 4u;
    let c0 = (wg.x * 8u + lid.x) * 4u;
    if (k0 >= p.k_in || c0 >= p.n) {
        return;
    }
    // Aᵀ(k, r) = a[(start + r)·k_in + k]; B(r, j) = b[(start + r)·n + j].
    let ar = vec4<u32>(start * p.k_in) + min(vec4<u32>(k0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.k_in - 1u));
    let bc = vec4<u32>(start * p.n) + min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
    let acc = tile_b(ar, p.k_in, bc, p.n, count);
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
