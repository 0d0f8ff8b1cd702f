// entropy.wgsl — test-time adaptation objectives on the entropy of a prediction, loss and
// logit gradient in one pass. (row_reduce.wgsl, concatenated in front, gives WG, reduce_max,
// reduce_sum, log_1p and exp_m1.)
//
//   entropy_loss   per row r of logits z (classes wide), p = softmax(z):
//                  H        = −Σ_j p_j log p_j = log s − T / s,  T = Σ_j e_j (z_j − m) ≤ 0,
//                             m = max z, e_j = exp(z_j − m), s = Σ e_j; log s as log_1p of
//                             s − 1 summed without the maximum's 1 (both terms ≥ 0 and each
//                             precise: a confident row's small H keeps its relative precision)
//                  terms[r] = (ρ(H), H)
//                  dlogits[r, j] = grad_scale · ρ′(H) · ∂H/∂z_j,  ∂H/∂z_j = −p_j (log p_j + H)
//                             = −p_j ((z_j − m) − T/s)
//   ρ by p.mode (x = H / c):
//     0  Tent:      ρ = H,                                     ρ′ = 1
//     1  filter:    ρ = H · [H < threshold], ρ′ = [H < threshold]   (SAR's entropy filter, no SAM)
//     REALM [I]: Barron's robust loss on the entropy, times c so ρ′ is dimensionless:
//     2  α = 2:     ρ = c·x²/2,                                ρ′ = x
//     3  α = 0:     ρ = c·log(x²/2 + 1) (as log_1p),           ρ′ = x / (x²/2 + 1)
//     4  α = −∞:    ρ = c·(1 − exp(−x²/2)) (as −exp_m1),       ρ′ = x·exp(−x²/2)
//     5  other α:   ρ = c·|α−2|/α·((x²/|α−2| + 1)^(α/2) − 1),  ρ′ = x·(x²/|α−2| + 1)^(α/2 − 1)
//                   (the power minus 1 as exp_m1 of a log_1p: exact as α nears 0)
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
            let h2 = 0.5 * x * x;
            return vec2<f32>(c * log_1p(h2), x / (h2 + 1.0));
        }
        case 4u: {
            let h2 = 0.5 * x * x;
            return vec2<f32>(-c * exp_m1(-h2), x * exp(-h2));
        }
        default: {
            // q^(α/2) − 1 as exp_m1((α/2)·ln q), ln q = log_1p(x²/|α−2|): no cancellation as α
            // nears 0, where the quotient by α would magnify it.
            let b = abs(p.alpha - 2.0);
            let ln_q = log_1p(x * x / b);
            let a = 0.5 * p.alpha;
            return vec2<f32>(c * b / p.alpha * exp_m1(a * ln_q), x * exp((a - 1.0) * ln_q));
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
    // s = low + top: the terms below the maximum, and one per element equal to it, so that
    // s − 1 (whose log_1p is ln s) is summed without the maximum's 1.
    var low = 0.0;
    var top = 0.0;
    var t = 0.0;
    for (var j = lid; j < p.classes; j += WG) {
        let d = logits[base + j] - m;
        let e = exp(d);
        if (d < 0.0) {
            low += e;
        } else {
            top += 1.0;
        }
        t += e * d;
    }
    low = reduce_sum(low, lid);
    top = reduce_sum(top, lid);
    t = reduce_sum(t, lid);
    let s = low + top;
    let h = log_1p(low + (top - 1.0)) - t / s;
    let rho = objective(h);
    if (lid == 0u) {
        terms[2u * row] = rho.x;
        terms[2u * row + 1u] = h;
    }
    let k = p.grad_scale * rho.y / s;
    let mean = t / s;
    for (var j = lid; j < p.classes; j += WG) {
        let d = logits[base + j] - m;
        // −p_j (log p_j + H) · grad_scale · ρ′ with p_j = e_j / s and log p_j + H = d − T/s.
        dlogits[base + j] = -k * exp(d) * (d - mean);
    }
}
