// attention_softmax.wgsl — FlashAttention-2-style softmax attention in WGSL: the baseline
// that sigmoid attention is measured against, on the same engine and the same tiling.
//
//   O = softmax(s·Q·Kᵀ + alibi)·V   per (batch, head), s = 1/√d; LSE_i saved for backward
//
// Same prelude (attention_common.wgsl), layout, ALiBi, masking and tiling as
// attention_sigmoid.wgsl (see there); `bias` is
// ignored here (softmax is shift invariant). Entry points:
//   softmax_forward        a thread per query row, online max/sum rescaled once per K/V tile,
//                          writes O and LSE = m + log(l)
//   softmax_backward_prep  D_i = rowsum(dO_i ∘ O_i): the pre-pass sigmoid does not need
//   softmax_backward_dq    dQ = s·Σ_j dS_ij K_j,  P = exp(S − LSE), dS = P ⊙ (dP − D)
//   softmax_backward_dkdv  dV = Σ_i P_ij dO_i, dK = s·Σ_i dS_ij Q_i (Q, dO, LSE, D tiles shared)
// The per-tile scores live in a private array of at most 128 floats.

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
        load_kv_tile(base, k0, rows, d4, lid.x);
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
        load_q_dout_tile(base, obase, i0, rows, d4, lid.x);
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
