// contrastive.wgsl — poly-view contrastive losses (Shidani et al. 2024, arXiv 2403.05490),
// tiled like flash attention: the N×N similarity matrix (N = B·M) is never stored.
//
// Layout: N = B·M rows x_r of d features, r = i·M + α (sample i, view α; the views of one
// sample are consecutive rows). z_r = x_r/‖x_r‖, s_rc = z_r·z_c/τ.
// What the forward pass keeps per row (O(N·M) floats in all):
//   lse[r]      log Σ_{c: sample(c) ≠ i} exp(s_rc)     negatives, an online log-sum-exp
//   pos[r·M+β]  s_{r,(i,β)}                             the similarities to its own views
// Every loss is a function of those two (K = M − 1 positives, ℓ_β = softplus(lse − s_β) is
// −log of the positive's probability among {positive} ∪ negatives):
//   0 InfoNCE (M = 2) and 1 geometric PVC:  f = (1/K) Σ_β ℓ_β
//   2 arithmetic PVC:                       f = −log((1/K) Σ_β e^{−ℓ_β})
//   3 multi-crop [I]:                       f = (1/K) Σ_β (T − s_β), T = logsumexp(lse, s_β≠α):
//                                           pairwise InfoNCE whose candidates are every other
//                                           view in the batch, the anchor's own views included.
// and the loss is the mean of f over the N rows. row_terms stores, scaled by 1/N,
//   coef[r·(M+1)]       a_r  = ∂f_r/∂lse_r         (a negative c then has ∂f_r/∂s_rc = a_r·e^{s_rc − lse_r})
//   coef[r·(M+1)+1+β]   b_rβ = ∂f_r/∂s_{r,(i,β)}   (0 for β = α)
// so the backward pass is dz_r = (1/τ)·Σ_c (g_rc + g_cr)·z_c with g from those: the negatives
// recomputed tile by tile (backward_tiles), the M − 1 positives added per row with the
// gradient through the L2 normalisation (backward_finish).
//
// Entry points:
//   normalize_rows   a thread per row: z, 1/‖x‖
//   negatives_lse    a thread per row (BQ rows per workgroup), tiles of z rows in workgroup
//                    memory; each tile: all similarities into a private array, then the
//                    online max/sum update (one rescale per tile at most)
//   row_terms        a thread per row: f, a, b
//   loss_mean        one workgroup: the mean of f in a fixed order (deterministic)
//   backward_tiles   a thread per row: the negatives' part of dz
//   backward_finish  a thread per row: + positives, then dx = (dz − z·(z·dz))/‖x‖
// Rows live in private arrays of vec4 (d ≤ 128; a d that is not a multiple of 4 is padded
// with zeros on load). Sums run in a fixed order: no atomics, deterministic on every adapter.

struct Params {
    n: u32, views: u32, d: u32, kind: u32,
    inv_tau: f32, inv_n: f32, _f0: f32, _f1: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> inv_norm: array<f32>;
@group(0) @binding(4) var<storage, read> z_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read_write> pos: array<f32>;
@group(0) @binding(7) var<storage, read> lse_in: array<f32>;
@group(0) @binding(8) var<storage, read> pos_in: array<f32>;
@group(0) @binding(9) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(10) var<storage, read_write> coef: array<f32>;
@group(0) @binding(11) var<storage, read> row_loss_in: array<f32>;
@group(0) @binding(12) var<storage, read> coef_in: array<f32>;
@group(0) @binding(13) var<storage, read_write> loss: array<f32>;
@group(0) @binding(14) var<storage, read_write> dx: array<f32>;
@group(0) @binding(15) var<storage, read> inv_norm_in: array<f32>;

// Rows per workgroup and vec4s in the shared tile: pipeline-overridable, chosen by the
// launcher: min(N, 128) rows of ⌈d/4⌉ vec4s, within the adapter's workgroup-memory limit (the
// tile plus 1 KiB of column statistics and 1 KiB for the loss reduction must fit: 960 vec4s
// under the 16 KiB portable floor). No larger than the shape uses, since workgroup memory is
// zero-filled at the start of every workgroup.
override BQ: u32 = 64u;
override TILE_VEC4: u32 = 960u;
// vec4s per row, ⌈d/4⌉: a pipeline constant, so the loops over a row have fixed trip counts
// and the compiler can keep the private rows in registers (a runtime bound made lavapipe
// address them through memory).
override D4: u32 = 32u;
// Columns per tile, capped by the private similarity array.
const MAX_TILE_ROWS: u32 = 128u;
const MAX_VIEWS: u32 = 8u;
var<workgroup> tile_z: array<vec4<f32>, TILE_VEC4>;
var<workgroup> tile_a: array<f32, 128>;
var<workgroup> tile_l: array<f32, 128>;
var<workgroup> partial: array<f32, 256>;

fn linear_id(wg: vec3<u32>, nwg: vec3<u32>, lid: u32, size: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * size + lid;
}

fn tile_rows(d4: u32) -> u32 {
    return min(TILE_VEC4 / d4, MAX_TILE_ROWS);
}

// Four consecutive features of row `row` from z_in, zero past d.
fn ld_z(row: u32, c: u32) -> vec4<f32> {
    let base = row * p.d;
    let k = 4u * c;
    var v = vec4<f32>(0.0);
    for (var t = 0u; t < 4u; t++) {
        if (k + t < p.d) {
            v[t] = z_in[base + k + t];
        }
    }
    return v;
}

// Loads rows c0..c0+rows of z into workgroup memory (the caller then barriers).
fn load_tile(c0: u32, rows: u32, d4: u32, lid: u32) {
    for (var e = lid; e < rows * d4; e += BQ) {
        tile_z[e] = ld_z(c0 + e / d4, e % d4);
    }
}

// The same rows' a and lse, for the backward pass (a separate function: a pipeline may
// only name the bindings its entry point uses).
fn load_stats(c0: u32, rows: u32, lid: u32) {
    for (var j = lid; j < rows; j += BQ) {
        tile_a[j] = coef_in[(c0 + j) * (p.views + 1u)];
        tile_l[j] = lse_in[c0 + j];
    }
}

fn softplus(v: f32) -> f32 {
    return max(v, 0.0) + log(1.0 + exp(-abs(v)));
}

fn sigmoid(v: f32) -> f32 {
    if (v >= 0.0) {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

@compute @workgroup_size(64)
fn normalize_rows(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r = linear_id(wg, nwg, lid.x, 64u);
    if (r >= p.n) {
        return;
    }
    let base = r * p.d;
    var ss = 0.0;
    for (var k = 0u; k < p.d; k++) {
        ss += x[base + k] * x[base + k];
    }
    // A zero row stays zero (its gradient is then zero too) instead of becoming NaN.
    let inv = 1.0 / max(sqrt(ss), 1e-12);
    for (var k = 0u; k < p.d; k++) {
        z[base + k] = x[base + k] * inv;
    }
    inv_norm[r] = inv;
}

@compute @workgroup_size(BQ)
fn negatives_lse(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r0 = wg.x * BQ;
    let r = min(r0 + lid.x, p.n - 1u);
    let d4 = D4;
    let bk = tile_rows(d4);
    let first = r - r % p.views;
    var zr: array<vec4<f32>, 32>;
    var sc: array<f32, 128>;
    for (var c = 0u; c < d4; c++) {
        zr[c] = p.inv_tau * ld_z(r, c);
    }
    var m = -3.0e38;
    var l = 0.0;
    for (var c0 = 0u; c0 < p.n; c0 += bk) {
        let rows = min(bk, p.n - c0);
        load_tile(c0, rows, d4, lid.x);
        workgroupBarrier();
        var tm = -3.0e38;
        for (var j = 0u; j < rows; j++) {
            var s = 0.0;
            for (var c = 0u; c < d4; c++) {
                s += dot(zr[c], tile_z[j * d4 + c]);
            }
            let col = c0 + j;
            if (col >= first && col < first + p.views) {
                if (r0 + lid.x < p.n) {
                    pos[r * p.views + (col - first)] = s;
                }
                s = -3.0e38;
            }
            sc[j] = s;
            tm = max(tm, s);
        }
        if (tm > m) {
            l *= exp(m - tm);
            m = tm;
        }
        for (var j = 0u; j < rows; j++) {
            // Masked entries hold −3e38: they add nothing, even before the first negative.
            l += select(0.0, exp(sc[j] - m), sc[j] > -1.0e38);
        }
        workgroupBarrier();
    }
    if (r0 + lid.x < p.n) {
        lse[r] = m + log(l);
    }
}

@compute @workgroup_size(64)
fn row_terms(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r = linear_id(wg, nwg, lid.x, 64u);
    if (r >= p.n) {
        return;
    }
    let mv = p.views;
    let alpha = r % mv;
    let k = f32(mv - 1u);
    let neg = lse_in[r];
    var f = 0.0;
    var a = 0.0;
    var b: array<f32, MAX_VIEWS>;
    for (var beta = 0u; beta < MAX_VIEWS; beta++) {
        b[beta] = 0.0;
    }
    if (p.kind == 3u) {
        // Multi-crop: T = logsumexp over every candidate (negatives and all other views).
        var t = neg;
        var mean_s = 0.0;
        for (var beta = 0u; beta < mv; beta++) {
            if (beta != alpha) {
                let s = pos_in[r * mv + beta];
                t = max(t, s) + log(1.0 + exp(-abs(t - s)));
                mean_s += s / k;
            }
        }
        f = t - mean_s;
        a = exp(neg - t);
        for (var beta = 0u; beta < mv; beta++) {
            if (beta != alpha) {
                b[beta] = exp(pos_in[r * mv + beta] - t) - 1.0 / k;
            }
        }
    } else if (p.kind == 2u) {
        // Arithmetic: f = −logsumexp_β(−ℓ_β) + log K, weights w = softmax(−ℓ).
        var mx = -3.0e38;
        for (var beta = 0u; beta < mv; beta++) {
            if (beta != alpha) {
                mx = max(mx, -softplus(neg - pos_in[r * mv + beta]));
            }
        }
        var sum = 0.0;
        for (var beta = 0u; beta < mv; beta++) {
            if (beta != alpha) {
                sum += exp(-softplus(neg - pos_in[r * mv + beta]) - mx);
            }
        }
        f = -(mx + log(sum)) + log(k);
        for (var beta = 0u; beta < mv; beta++) {
            if (beta != alpha) {
                let u = neg - pos_in[r * mv + beta];
                let w = exp(-softplus(u) - mx) / sum;
                a += w * sigmoid(u);
                b[beta] = -w * sigmoid(u);
            }
        }
    } else {
        // InfoNCE and geometric: the mean of ℓ_β.
        for (var beta = 0u; beta < mv; beta++) {
            if (beta != alpha) {
                let u = neg - pos_in[r * mv + beta];
                f += softplus(u) / k;
                a += sigmoid(u) / k;
                b[beta] = -sigmoid(u) / k;
            }
        }
    }
    row_loss[r] = f;
    let cb = r * (mv + 1u);
    coef[cb] = a * p.inv_n;
    for (var beta = 0u; beta < mv; beta++) {
        coef[cb + 1u + beta] = b[beta] * p.inv_n;
    }
}

@compute @workgroup_size(256)
fn loss_mean(@builtin(local_invocation_id) lid: vec3<u32>) {
    var s = 0.0;
    for (var r = lid.x; r < p.n; r += 256u) {
        s += row_loss_in[r];
    }
    partial[lid.x] = s;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if (lid.x < w) {
            partial[lid.x] += partial[lid.x + w];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        loss[0] = partial[0] * p.inv_n;
    }
}

@compute @workgroup_size(BQ)
fn backward_tiles(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r0 = wg.x * BQ;
    let r = min(r0 + lid.x, p.n - 1u);
    let d4 = D4;
    let bk = tile_rows(d4);
    let first = r - r % p.views;
    let a_r = coef_in[r * (p.views + 1u)];
    let l_r = lse_in[r];
    var zr: array<vec4<f32>, 32>;
    var acc: array<vec4<f32>, 32>;
    var g: array<f32, 128>;
    for (var c = 0u; c < d4; c++) {
        zr[c] = p.inv_tau * ld_z(r, c);
        acc[c] = vec4<f32>(0.0);
    }
    for (var c0 = 0u; c0 < p.n; c0 += bk) {
        let rows = min(bk, p.n - c0);
        load_tile(c0, rows, d4, lid.x);
        load_stats(c0, rows, lid.x);
        workgroupBarrier();
        for (var j = 0u; j < rows; j++) {
            var s = 0.0;
            for (var c = 0u; c < d4; c++) {
                s += dot(zr[c], tile_z[j * d4 + c]);
            }
            let col = c0 + j;
            var gj = a_r * exp(s - l_r) + tile_a[j] * exp(s - tile_l[j]);
            if (col >= first && col < first + p.views) {
                gj = 0.0;
            }
            g[j] = gj;
        }
        for (var j = 0u; j < rows; j++) {
            let gj = g[j];
            for (var c = 0u; c < d4; c++) {
                acc[c] += gj * tile_z[j * d4 + c];
            }
        }
        workgroupBarrier();
    }
    if (r0 + lid.x < p.n) {
        let base = r * p.d;
        for (var c = 0u; c < d4; c++) {
            for (var t = 0u; t < 4u; t++) {
                if (4u * c + t < p.d) {
                    dx[base + 4u * c + t] = p.inv_tau * acc[c][t];
                }
            }
        }
    }
}

@compute @workgroup_size(64)
fn backward_finish(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r = linear_id(wg, nwg, lid.x, 64u);
    if (r >= p.n) {
        return;
    }
    let mv = p.views;
    let alpha = r % mv;
    let first = r - alpha;
    let base = r * p.d;
    // Positives: ∂L/∂s_{r,q} = b_{r,β} + b_{q,α} for q = (i, β), β ≠ α.
    var w: array<f32, MAX_VIEWS>;
    for (var beta = 0u; beta < MAX_VIEWS; beta++) {
        w[beta] = 0.0;
        if (beta < mv && beta != alpha) {
            let q = first + beta;
            w[beta] = p.inv_tau * (coef_in[r * (mv + 1u) + 1u + beta] + coef_in[q * (mv + 1u) + 1u + alpha]);
        }
    }
    var zd = 0.0;
    for (var k = 0u; k < p.d; k++) {
        var g = dx[base + k];
        for (var beta = 0u; beta < mv; beta++) {
            g += w[beta] * z_in[(first + beta) * p.d + k];
        }
        dx[base + k] = g;
        zd += g * z_in[base + k];
    }
    let inv = inv_norm_in[r];
    for (var k = 0u; k < p.d; k++) {
        dx[base + k] = inv * (dx[base + k] - z_in[base + k] * zd);
    }
}
