// entropy.wgsl — test-time adaptation objectives on the entropy of a prediction, loss and
// logit gradient in one pass. (row_reduce.wgsl, concatenated in front, gives WG, reduce_max
// and reduce_sum.)
//
//   entropy_loss   per row r of logits z (classes wide), p = softmax(z):
//                  H        = −Σ_j p_j log p_j = log s − Σ_j e_j (z_j − m) / s,
//                             m = max z, e_j = exp(z_j − m), s = Σ e_j (both terms ≥ 0: no
//                             cancellation for confident rows)
//                  terms[r] = (ρ(H), H)
//                  dlogits[r, j] = grad_scale · ρ′(H) · ∂H/∂z_j,  ∂H/∂z_j = −p_j (log p_j + H)
//   ρ by p.mode (x = H / c):
//     0  Tent:      ρ = H,                                     ρ′ = 1
//     1  filter:    ρ = H · [H < threshold], ρ′ = [H < threshold]   (SAR's entropy filter, no SAM)
//     REALM [I]: Barron's robust loss on the entropy, times c so ρ′ is dimensionless:
//     2  α = 2:     ρ = c·x²/2,                                ρ′ = x
//     3  α = 0:     ρ = c·log(x²/2 + 1),                       ρ′ = x / (x²/2 + 1)
//     4  α = −∞:    ρ = c·(1 − exp(−x²/2)),                    ρ′ = x·exp(−x²/2)
//     5  other α:   ρ = c·|α−2|/α·((x²/|α−2| + 1)^(α/2) − 1),  ρ′ = x·(x²/|α−2| + 1)^(α/2 − 1)
// One workgroup of 64 invocations per row.

struct Params {
    rows: u32,
    classes: u32,
    mode: u32,
    _pad0: u32,
    grad_scale: f32,
    alpha: f32,
    scale: f32,
    threshold: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> terms: array<f32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;

// (ρ(H), ρ′(H)) of the objective in p.mode.
fn objective(h: f32) -> vec2<f32> {
    let c = p.scale;
    let x = h / c;
    switch p.mode {
        case 0u: {
            return vec2<f32>(h, 1.0);
        }
        case 1u: {
            return select(vec2<f32>(0.0, 0.0), vec2<f32>(h, 1.0), h < p.threshold);
        }
        case 2u: {
            return vec2<f32>(0.5 * c * x * x, x);
        }
        case 3u: {
            let q = 0.5 * x * x + 1.0;
            return vec2<f32>(c * log(q), x / q);
        }
        case 4u: {
            let e = exp(-0.5 * x * x);
            return vec2<f32>(c * (1.0 - e), x * e);
        }
        default: {
            let b = abs(p.alpha - 2.0);
            let q = x * x / b + 1.0;
            let a = 0.5 * p.alpha;
            return vec2<f32>(c * b / p.alpha * (pow(q, a) - 1.0), x * pow(q, a - 1.0));
        }
    }
}

@compute @workgroup_size(64)
fn entropy_loss(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row * p.classes;
    var m = -3.4e38;
    for (var j = lid; j < p.classes; j += WG) {
        m = max(m, logits[base + j]);
    }
    m = reduce_max(m, lid);
    var s = 0.0;
    var t = 0.0;
    for (var j = lid; j < p.classes; j += WG) {
        let d = logits[base + j] - m;
        let e = exp(d);
        s += e;
        t += e * d;
    }
    s = reduce_sum(s, lid);
    t = reduce_sum(t, lid);
    let log_s = log(s);
    let h = log_s - t / s;
    let rho = objective(h);
    if (lid == 0u) {
        terms[2u * row] = rho.x;
        terms[2u * row + 1u] = h;
    }
    let k = p.grad_scale * rho.y / s;
    for (var j = lid; j < p.classes; j += WG) {
        let d = logits[base + j] - m;
        // −p_j (log p_j + H) · grad_scale · ρ′, with p_j = e_j / s and log p_j = d − log s.
        dlogits[base + j] = -k * exp(d) * (d - log_s + h);
    }
}
