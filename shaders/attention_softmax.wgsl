// attention_softmax.wgsl — FlashAttention-2-style softmax attention in WGSL: the baseline
// that sigmoid attention is measured against, on the same engine and the same tiling.
//
//   O = softmax(s·Q·Kᵀ + alibi)·V   per (batch, head), s = 1/√d; LSE_i saved for backward
//
// Same layout, ALiBi, masking and tiling as attention_sigmoid.wgsl (see there); `bias` is
// ignored here (softmax is shift invariant). Entry points:
//   softmax_forward        a thread per query row, online max/sum rescaled once per K/V tile,
//                          writes O and LSE = m + log(l)
//   softmax_backward_prep  D_i = rowsum(dO_i ∘ O_i): the pre-pass sigmoid does not need
//   softmax_backward_dq    dQ = s·Σ_j dS_ij K_j,  P = exp(S − LSE), dS = P ⊙ (dP − D)
//   softmax_backward_dkdv  dV = Σ_i P_ij dO_i, dK = s·Σ_i dS_ij Q_i (Q, dO, LSE, D tiles shared)
// The per-tile scores live in a private array of at most 128 floats.

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
@group(0) @binding(3) var<storage, read> o_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
@group(0) @binding(7) var<storage, read> lse_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;
@group(0) @binding(9) var<storage, read> delta_in: array<f32>;

// Rows per workgroup (one invocation each) and vec4s per shared tile: pipeline-overridable,
// chosen by the launcher from the adapter's workgroup-memory limit (2 tiles + 1 KiB of row
// statistics must fit: 480 vec4s per tile under the 16 KiB portable floor).
override BQ: u32 = 32u;
override TILE_VEC4: u32 = 480u;
// Keys (or queries) per tile, capped by the private score array of the softmax forward.
const MAX_TILE_ROWS: u32 = 128u;
var<workgroup> tile_a: array<vec4<f32>, TILE_VEC4>;
var<workgroup> tile_b: array<vec4<f32>, TILE_VEC4>;
// Per-row statistics of the query tile in the dK/dV kernel: LSE and D (≤ 128 rows).
var<workgroup> tile_lse: array<f32, 128>;
var<workgroup> tile_delta: array<f32, 128>;

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

fn exp_score(s: f32, l: f32) -> f32 {
    return exp(s - l);
}

@compute @workgroup_size(BQ)
fn softmax_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
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
    var m = -3.0e38;
    var l = 0.0;
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
        // Scores of the tile and their max; then one rescale of the running state.
        var m_tile = -3.0e38;
        for (var r = 0u; r < rows; r++) {
            let j = k0 + r;
            var s = -3.0e38;
            if (visible(i, j)) {
                var dt = 0.0;
                for (var c = 0u; c < d4; c++) {
                    dt += dot(q[c], tile_a[r * d4 + c]);
                }
                s = logit(dt, i, j, sl) - p.bias;
                m_tile = max(m_tile, s);
            }
            sc[r] = s;
        }
        if (m_tile > -1.0e38) {
            let m_new = max(m, m_tile);
            let corr = exp(m - m_new);
            l *= corr;
            for (var c = 0u; c < d4; c++) {
                acc[c] *= corr;
            }
            for (var r = 0u; r < rows; r++) {
                if (visible(i, k0 + r)) {
                    let e = exp(sc[r] - m_new);
                    l += e;
                    for (var c = 0u; c < d4; c++) {
                        acc[c] += e * tile_b[r * d4 + c];
                    }
                }
            }
            m = m_new;
        }
        workgroupBarrier();
    }
    if (q0 + lid.x < p.n) {
        let ob = o_base(bh) + i * p.o_st;
        let inv = 1.0 / l;
        for (var c = 0u; c < d4; c++) {
            for (var t = 0u; t < 4u; t++) {
                o[ob + 4u * c + t] = acc[c][t] * inv;
            }
        }
        lse[bh * p.n + i] = m + log(l);
    }
}

@compute @workgroup_size(BQ)
fn softmax_backward_prep(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bh = wg.y;
    let i = wg.x * BQ + lid.x;
    if (i >= p.n) {
        return;
    }
    let ob = o_base(bh) + i * p.o_st;
    var s = 0.0;
    for (var c = 0u; c < p.d; c++) {
        s += dout[ob + c] * o_in[ob + c];
    }
    delta[bh * p.n + i] = s;
}

@compute @workgroup_size(BQ)
fn softmax_backward_dq(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bh = wg.y;
    let q0 = wg.x * BQ;
    let i = min(q0 + lid.x, p.n - 1u);
    let d4 = p.d / 4u;
    let bk = tile_rows();
    let base = head_base(bh);
    let sl = slope(bh);
    let ob = o_base(bh) + i * p.o_st;
    let li = lse_in[bh * p.n + i];
    let di = delta_in[bh * p.n + i];
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
                let pij = exp_score(logit(s, i, j, sl) - p.bias, li);
                let ds = pij * (dp - di);
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
fn softmax_backward_dkdv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
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
        for (var r = lid.x; r < rows; r += BQ) {
            tile_lse[r] = lse_in[bh * p.n + i0 + r];
            tile_delta[r] = delta_in[bh * p.n + i0 + r];
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
                let pij = exp_score(logit(s, i, j, sl) - p.bias, tile_lse[r]);
                let ds = pij * (dp - tile_delta[r]);
                for (var c = 0u; c < d4; c++) {
                    dv[c] += pij * tile_b[r * d4 + c];
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
