// attention_sigmoid.wgsl — FlashSigmoid (Ramapuram et al. 2024, arXiv 2409.04431) in WGSL.
//
//   O = σ(s·Q·Kᵀ + b + alibi)·V   per (batch, head), s = 1/√d, b scalar (default −ln n)
//
// Unlike softmax there is no row normalisation: no running max, no running sum, no
// rescaling, and nothing stored for backward but Q, K, V. Masked keys get P = 0.
// ALiBi adds −slope_h·|i − j| exactly (sigmoid is not shift invariant, so the row constant
// that softmax kernels drop must stay), slope_h = 2^(−8(h+1)/H).
//
// Layout: Q, K, V (and dQ, dK, dV) are read through one buffer with per-tensor offsets and
// shared strides — element (b, h, t, j) at off + b·sb + h·sh + t·st + j — so the model's fused
// QKV activation is used in place. O and dO have their own strides (o_*).
//
// Entry points (one workgroup of BQ invocations per block of BQ rows and per (b, h)):
//   sigmoid_forward      a thread per query row; K and V tiles of min(4·TILE_VEC4/d, 128) rows
//                        in workgroup memory (TILE_VEC4 from the adapter's limit, see below)
//   sigmoid_backward_dq  a thread per query row: dQ = s·Σ_j dS_ij K_j
//   sigmoid_backward_dkdv a thread per key row: dV = Σ_i P_ij dO_i, dK = s·Σ_i dS_ij Q_i,
//                        with Q and dO tiles in workgroup memory
// where P is recomputed per tile and dS = P ⊙ (1 − P) ⊙ (dO·Vᵀ): no rowsum(dO ∘ O) pass.
// Splitting dQ from dK/dV computes P twice but needs no float atomics (not portable) and
// keeps every sum in a fixed order (deterministic).
// Rows live in private arrays of vec4 (d ≤ 128, d a multiple of 4).
// Versions (lavapipe numbers in the README):
//   v1 per key: dot → σ → accumulate, one dependent chain per key: 0.8× softmax forward.
//   v2 (this) two phases per tile, like the softmax kernel: all σ of the tile into a private
//      array, then the accumulation: independent work the compiler can overlap.
// On real GPUs
// cooperative rows (several invocations per row, subgroup reductions) and
// cooperative-matrix tiles are the road to tensor-core speed.

struct Params {
    n: u32, d: u32, heads: u32, causal: u32,
    alibi: u32, _p0: u32, _p1: u32, _p2: u32,
    scale: f32, bias: f32, _f0: f32, _f1: f32,
    st: u32, sh: u32, sb: u32, _p3: u32,
    q_off: u32, k_off: u32, v_off: u32, _p4: u32,
    o_st: u32, o_sh: u32, o_sb: u32, o_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;

// Rows per workgroup (one invocation each) and vec4s per shared tile: pipeline-overridable,
// chosen by the launcher from the adapter's workgroup-memory limit (2 tiles + 1 KiB of row
// statistics must fit: 480 vec4s per tile under the 16 KiB portable floor).
override BQ: u32 = 32u;
override TILE_VEC4: u32 = 480u;
// Keys (or queries) per tile, capped by the private score array of the softmax forward.
const MAX_TILE_ROWS: u32 = 128u;
var<workgroup> tile_a: array<vec4<f32>, TILE_VEC4>;
var<workgroup> tile_b: array<vec4<f32>, TILE_VEC4>;

fn tile_rows() -> u32 {
    return min(4u * TILE_VEC4 / p.d, MAX_TILE_ROWS);
}

fn head_base(bh: u32) -> u32 {
    return (bh / p.heads) * p.sb + (bh % p.heads) * p.sh;
}

fn o_base(bh: u32) -> u32 {
    return p.o_off + (bh / p.heads) * p.o_sb + (bh % p.heads) * p.o_sh;
}

fn ld_qkv(i: u32) -> vec4<f32> {
    return vec4<f32>(qkv[i], qkv[i + 1u], qkv[i + 2u], qkv[i + 3u]);
}

fn ld_dout(i: u32) -> vec4<f32> {
    return vec4<f32>(dout[i], dout[i + 1u], dout[i + 2u], dout[i + 3u]);
}

fn slope(bh: u32) -> f32 {
    if (p.alibi == 0u) {
        return 0.0;
    }
    return exp2(-8.0 * f32(bh % p.heads + 1u) / f32(p.heads));
}

fn visible(i: u32, j: u32) -> bool {
    return p.causal == 0u || j <= i;
}

// Logit of (query i, key j) given the pre-scaled dot product.
fn logit(dotv: f32, i: u32, j: u32, sl: f32) -> f32 {
    return dotv + p.bias - sl * abs(f32(i) - f32(j));
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size(BQ)
fn sigmoid_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bh = wg.y;
    let q0 = wg.x * BQ;
    let i = min(q0 + lid.x, p.n - 1u);
    let d4 = p.d / 4u;
    let bk = tile_rows();
    let base = head_base(bh);
    let sl = slope(bh);
    var q: array<vec4<f32>, 32>;
    var acc: array<vec4<f32>, 32>;
    var sc: array<f32, 128>;
    for (var c = 0u; c < d4; c++) {
        q[c] = p.scale * ld_qkv(p.q_off + base + i * p.st + 4u * c);
        acc[c] = vec4<f32>(0.0);
    }
    var n_keys = p.n;
    if (p.causal != 0u) {
        n_keys = min(p.n, q0 + BQ);
    }
    for (var k0 = 0u; k0 < n_keys; k0 += bk) {
        let rows = min(bk, n_keys - k0);
        for (var e = lid.x; e < rows * d4; e += BQ) {
            let off = base + (k0 + e / d4) * p.st + 4u * (e % d4);
            tile_a[e] = ld_qkv(p.k_off + off);
            tile_b[e] = ld_qkv(p.v_off + off);
        }
        workgroupBarrier();
        for (var r = 0u; r < rows; r++) {
            let j = k0 + r;
            var pij = 0.0;
            if (visible(i, j)) {
                var s = 0.0;
                for (var c = 0u; c < d4; c++) {
                    s += dot(q[c], tile_a[r * d4 + c]);
                }
                pij = sigmoid(logit(s, i, j, sl));
            }
            sc[r] = pij;
        }
        for (var r = 0u; r < rows; r++) {
            let pij = sc[r];
            for (var c = 0u; c < d4; c++) {
                acc[c] += pij * tile_b[r * d4 + c];
            }
        }
        workgroupBarrier();
    }
    if (q0 + lid.x < p.n) {
        let ob = o_base(bh) + i * p.o_st;
        for (var c = 0u; c < d4; c++) {
            for (var t = 0u; t < 4u; t++) {
                o[ob + 4u * c + t] = acc[c][t];
            }
        }
    }
}

@compute @workgroup_size(BQ)
fn sigmoid_backward_dq(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bh = wg.y;
    let q0 = wg.x * BQ;
    let i = min(q0 + lid.x, p.n - 1u);
    let d4 = p.d / 4u;
    let bk = tile_rows();
    let base = head_base(bh);
    let sl = slope(bh);
    let ob = o_base(bh) + i * p.o_st;
    var q: array<vec4<f32>, 32>;
    var g: array<vec4<f32>, 32>;
    var acc: array<vec4<f32>, 32>;
    for (var c = 0u; c < d4; c++) {
        q[c] = p.scale * ld_qkv(p.q_off + base + i * p.st + 4u * c);
        g[c] = ld_dout(ob + 4u * c);
        acc[c] = vec4<f32>(0.0);
    }
    var n_keys = p.n;
    if (p.causal != 0u) {
        n_keys = min(p.n, q0 + BQ);
    }
    for (var k0 = 0u; k0 < n_keys; k0 += bk) {
        let rows = min(bk, n_keys - k0);
        for (var e = lid.x; e < rows * d4; e += BQ) {
            let off = base + (k0 + e / d4) * p.st + 4u * (e % d4);
            tile_a[e] = ld_qkv(p.k_off + off);
            tile_b[e] = ld_qkv(p.v_off + off);
        }
        workgroupBarrier();
        for (var r = 0u; r < rows; r++) {
            let j = k0 + r;
            if (visible(i, j)) {
                var s = 0.0;
                var dp = 0.0;
                for (var c = 0u; c < d4; c++) {
                    s += dot(q[c], tile_a[r * d4 + c]);
                    dp += dot(g[c], tile_b[r * d4 + c]);
                }
                let pij = sigmoid(logit(s, i, j, sl));
                let ds = pij * (1.0 - pij) * dp;
                for (var c = 0u; c < d4; c++) {
                    acc[c] += ds * tile_a[r * d4 + c];
                }
            }
        }
        workgroupBarrier();
    }
    if (q0 + lid.x < p.n) {
        let qb = p.q_off + base + i * p.st;
        for (var c = 0u; c < d4; c++) {
            for (var t = 0u; t < 4u; t++) {
                dqkv[qb + 4u * c + t] = p.scale * acc[c][t];
            }
        }
    }
}

@compute @workgroup_size(BQ)
fn sigmoid_backward_dkdv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bh = wg.y;
    let j0 = wg.x * BQ;
    let j = min(j0 + lid.x, p.n - 1u);
    let d4 = p.d / 4u;
    let bq = tile_rows();
    let base = head_base(bh);
    let obase = o_base(bh);
    let sl = slope(bh);
    var k: array<vec4<f32>, 32>;
    var v: array<vec4<f32>, 32>;
    var dk: array<vec4<f32>, 32>;
    var dv: array<vec4<f32>, 32>;
    for (var c = 0u; c < d4; c++) {
        k[c] = ld_qkv(p.k_off + base + j * p.st + 4u * c);
        v[c] = ld_qkv(p.v_off + base + j * p.st + 4u * c);
        dk[c] = vec4<f32>(0.0);
        dv[c] = vec4<f32>(0.0);
    }
    // Causal: queries before this key block never see it.
    var first = 0u;
    if (p.causal != 0u) {
        first = j0;
    }
    for (var i0 = first; i0 < p.n; i0 += bq) {
        let rows = min(bq, p.n - i0);
        for (var e = lid.x; e < rows * d4; e += BQ) {
            let r = i0 + e / d4;
            let c = e % d4;
            tile_a[e] = p.scale * ld_qkv(p.q_off + base + r * p.st + 4u * c);
            tile_b[e] = ld_dout(obase + r * p.o_st + 4u * c);
        }
        workgroupBarrier();
        for (var r = 0u; r < rows; r++) {
            let i = i0 + r;
            if (visible(i, j)) {
                var s = 0.0;
                var dp = 0.0;
                for (var c = 0u; c < d4; c++) {
                    s += dot(tile_a[r * d4 + c], k[c]);
                    dp += dot(tile_b[r * d4 + c], v[c]);
                }
                let pij = sigmoid(logit(s, i, j, sl));
                let ds = pij * (1.0 - pij) * dp;
                for (var c = 0u; c < d4; c++) {
                    dv[c] += pij * tile_b[r * d4 + c];
                    // tile_a holds s·Q, so this is already s·dS·Q.
                    dk[c] += ds * tile_a[r * d4 + c];
                }
            }
        }
        workgroupBarrier();
    }
    if (j0 + lid.x < p.n) {
        let kb = p.k_off + base + j * p.st;
        let vb = p.v_off + base + j * p.st;
        for (var c = 0u; c < d4; c++) {
            for (var t = 0u; t < 4u; t++) {
                dqkv[kb + 4u * c + t] = dk[c][t];
                dqkv[vb + 4u * c + t] = dv[c][t];
            }
        }
    }
}
