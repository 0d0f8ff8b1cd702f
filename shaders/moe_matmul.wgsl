// moe_matmul.wgsl — the expert FFNs as grouped matmuls over the tokens grouped by expert
// (moe.wgsl's offsets): no padding to a capacity, one weight matrix per expert.
//
//   moe_matmul        for each expert e and each row r of its group [offsets[e], offsets[e+1]):
//                     c[r, :] (+)= a[r, :] · op(W_e) (+ bias_e), W_e = w[e] stored (k_in, n)
//                     row-major, or (n, k_in) with p.trans_w (then op = transpose).
//                     Grid: (n tiles, row tiles of the largest possible group, experts);
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

const TILE: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;
@group(0) @binding(6) var<storage, read> b: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;

var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_b: array<array<f32, 16>, 16>;

fn weight(e: u32, k: u32, j: u32) -> f32 {
    if (p.trans_w != 0u) {
        return w[(e * p.n + j) * p.k_in + k];
    }
    return w[(e * p.k_in + k) * p.n + j];
}

@compute @workgroup_size(16, 16)
fn moe_matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let start = offsets[e];
    let count = offsets[e + 1u] - start;
    if (wg.y * TILE >= count) {
        return;
    }
    let local_row = wg.y * TILE + lid.y;
    let row = start + local_row;
    let col = wg.x * TILE + lid.x;
    let live_row = local_row < count;
    var acc = 0.0;
    for (var k0 = 0u; k0 < p.k_in; k0 += TILE) {
        let ka = k0 + lid.x;
        var va = 0.0;
        if (live_row && ka < p.k_in) {
            va = a[row * p.k_in + ka];
        }
        tile_a[lid.y][lid.x] = va;
        let kb = k0 + lid.y;
        var vb = 0.0;
        if (kb < p.k_in && col < p.n) {
            vb = weight(e, kb, col);
        }
        tile_b[lid.y][lid.x] = vb;
        workgroupBarrier();
        for (var i = 0u; i < TILE; i++) {
            acc += tile_a[lid.y][i] * tile_b[i][lid.x];
        }
        workgroupBarrier();
    }
    if (live_row && col < p.n) {
        if (p.has_bias != 0u) {
            acc += bias[e * p.n + col];
        }
        let at = row * p.n + col;
        if (p.accumulate != 0u) {
            acc += c[at];
        }
        c[at] = acc;
    }
}

@compute @workgroup_size(16, 16)
fn moe_matmul_wgrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let e = wg.z;
    let start = offsets[e];
    let count = offsets[e + 1u] - start;
    let k = wg.y * TILE + lid.y;
    let j = wg.x * TILE + lid.x;
    var acc = 0.0;
    for (var r0 = 0u; r0 < count; r0 += TILE) {
        // tile_a[r][k'] = a[start + r0 + r, k0 + k'], tile_b[r][j'] = b[start + r0 + r, j0 + j'].
        let r = r0 + lid.y;
        let ka = wg.y * TILE + lid.x;
        var va = 0.0;
        var vb = 0.0;
        if (r < count) {
            if (ka < p.k_in) {
                va = a[(start + r) * p.k_in + ka];
            }
            if (j < p.n) {
                vb = b[(start + r) * p.n + j];
            }
        }
        tile_a[lid.y][lid.x] = va;
        tile_b[lid.y][lid.x] = vb;
        workgroupBarrier();
        for (var i = 0u; i < TILE; i++) {
            acc += tile_a[i][lid.y] * tile_b[i][lid.x];
        }
        workgroupBarrier();
    }
    if (k < p.k_in && j < p.n) {
        let at = (e * p.k_in + k) * p.n + j;
        if (p.accumulate != 0u) {
            acc += dw[at];
        }
        dw[at] = acc;
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
