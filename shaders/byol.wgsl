// byol.wgsl — BYOL's normalised regression loss and its gradient in one pass. (row_reduce.wgsl,
// concatenated in front, gives WG and reduce_sum.)
//
//   byol_loss   rows r = i·M + α (sample i, view α): q = the online network's predictions,
//               t = the target network's projections (no gradient flows into t).
//               q̂ = q / ‖q‖, t̂ = t / ‖t‖ (norms clamped below at 1e-12, as F.normalize does)
//               per partner view β ≠ α of the same sample:
//                 ℓ_β = ‖q̂_r − t̂_(i,β)‖² = 2 − 2·q̂_r·t̂_(i,β)
//                 (summed as squared differences: a well-aligned pair's small loss keeps its
//                 relative precision, which 2 − 2·cos would lose)
//               losses[r] = (1/(M−1)) Σ_β ℓ_β        (M = 2: the symmetrised BYOL loss per view)
//               dq[r]     = grad_scale · (1/(M−1)) Σ_β ∂ℓ_β/∂q_r
//                 ∂ℓ_β/∂q = −(2/‖q‖)·(t̂_β − (q̂·t̂_β)·q̂) = −(2/‖q‖)·((t̂_β − q̂) + (ℓ_β/2)·q̂)
//                 (1 − q̂·t̂ = ℓ/2: again no difference of nearly equal numbers)
// One workgroup of 64 invocations per row; M ≤ MAX_VIEWS.

const MAX_VIEWS: u32 = 8u;

struct Params {
    rows: u32,
    dim: u32,
    views: u32,
    _pad0: u32,
    grad_scale: f32,
    _pad1: f32,
    _pad2: f32,
    _pad3: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<storage, read_write> dq: array<f32>;

@compute @workgroup_size(64)
fn byol_loss(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let d = p.dim;
    let m = p.views;
    let base = row * d;
    let first = (row / m) * m;
    let own = row - first;

    var ss = 0.0;
    for (var j = lid; j < d; j += WG) {
        let v = q[base + j];
        ss += v * v;
    }
    let q_norm = max(sqrt(reduce_sum(ss, lid)), 1e-12);
    let iq = 1.0 / q_norm;

    // Per partner: 1/‖t_β‖ and ℓ_β.
    var it: array<f32, MAX_VIEWS>;
    var ell: array<f32, MAX_VIEWS>;
    var total = 0.0;
    for (var b = 0u; b < m; b++) {
        if (b == own) {
            continue;
        }
        let tb = (first + b) * d;
        var st = 0.0;
        for (var j = lid; j < d; j += WG) {
            let v = t[tb + j];
            st += v * v;
        }
        let inv = 1.0 / max(sqrt(reduce_sum(st, lid)), 1e-12);
        var sd = 0.0;
        for (var j = lid; j < d; j += WG) {
            let e = q[base + j] * iq - t[tb + j] * inv;
            sd += e * e;
        }
        let l = reduce_sum(sd, lid);
        it[b] = inv;
        ell[b] = l;
        total += l;
    }
    let partners = f32(m - 1u);
    if (lid == 0u) {
        losses[row] = total / partners;
    }
    let k = -2.0 * p.grad_scale * iq / partners;
    for (var j = lid; j < d; j += WG) {
        let qh = q[base + j] * iq;
        var g = 0.0;
        for (var b = 0u; b < m; b++) {
            if (b == own) {
                continue;
            }
            g += (t[(first + b) * d + j] * it[b] - qh) + 0.5 * ell[b] * qh;
        }
        dq[base + j] = k * g;
    }
}
