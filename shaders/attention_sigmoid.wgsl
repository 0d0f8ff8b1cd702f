// attention_sigmoid.wgsl — FlashSigmoid (Ramapuram et al. 2024, arXiv 2409.04431) in WGSL.
//
//   O = σ(s·Q·Kᵀ + b + alibi)·V   per (batch, head), s = 1/√d, b scalar (default −ln n)
//
// Unlike softmax there is no row normalisation: no running max, no running sum, no
// rescaling, and nothing stored for backward but Q, K, V. Masked keys get P = 0.
// ALiBi adds −slope_h·|i − j| exactly (sigmoid is not shift invariant, so the row constant
// that softmax kernels drop must stay), slope_h = 2^(−8(h+1)/H).
//
// Parameters, bindings, tiles and index helpers come from attention_common.wgsl, which
// kernels::shaders puts in front of this file.
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
// On real GPUs cooperative rows (several invocations per row, subgroup reductions) and
// cooperative-matrix tiles are the road to tensor-core speed.

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
        load_kv_tile(base, k0, rows, d4, lid.x);
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
        load_kv_tile(base, k0, rows, d4, lid.x);
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
        load_q_dout_tile(base, obase, i0, rows, d4, lid.x);
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
