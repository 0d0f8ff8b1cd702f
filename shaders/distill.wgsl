// distill.wgsl — knowledge distillation (Busbridge et al. 2025, arXiv 2502.08606): the student's
// loss against the teacher's temperature-softened distribution, mixed with the hard-label
// cross-entropy, and its logit gradient, in one pass.
// (row_reduce.wgsl, concatenated in front, gives WG, reduce_max4, reduce_sum4, reduce_sum, log_1p
// and exp_m1.)
//
//   distill_loss   per row r with target t = targets[r], temperature τ and mix λ:
//       p = softmax(teacher[r] / τ),  q = softmax(student[r] / τ)
//       loss[r]      = (1 − λ)·CE(student[r], t) + λ·τ²·KL(p ‖ q)
//       dstudent[r]  = grad_scale · ((1 − λ)·(softmax(student[r]) − onehot(t)) + λ·τ·(q − p))
//   KL is summed without cancellation, so a student that nearly matches its teacher keeps the
//   relative precision of its small loss and gradient: with u = (teacher − student)/τ,
//   c = ln Σ q·e^u = log_1p(Σ q·(e^u − 1)) (= lse(teacher/τ) − lse(student/τ)) and w = u − c =
//   ln(p/q), KL = Σ q·φ(w) with φ(w) = e^w·(w − 1) + 1 ≥ 0 term by term (a series near 0), and
//   q − p = −q·(e^w − 1). Where some |u| ≥ 64 (e^u would overflow) or |Σ q·(e^u − 1)| ≥ 1/2
//   (the partition functions far apart, 1 + y no longer precise) c is the plain difference of
//   the two log-sum-exps. The hard part is cross_entropy.wgsl's (target left out of the sum),
//   skipped when λ = 1. t = 0xFFFFFFFF (or any t ≥ vocab) marks a padding row: loss 0,
//   gradient 0. The teacher gets no gradient: its logits are computed on the fly, per batch.
// One workgroup of 64 invocations per row.

struct Params {
    rows: u32,
    vocab: u32,
    _pad0: u32,
    _pad1: u32,
    grad_scale: f32,
    temperature: f32,
    lambda: f32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> student: array<f32>;
@group(0) @binding(2) var<storage, read> teacher: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<u32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;
@group(0) @binding(5) var<storage, read_write> dstudent: array<f32>;

// φ(w) = e^w·(w − 1) + 1 = Σ_{n≥2} (n − 1)·wⁿ/n!, by its series where |w| < 1/4 (the closed
// form cancels there), within 1e-7 relative.
fn phi(w: f32) -> f32 {
    return w * w * (1.0 / 2.0 + w * (1.0 / 3.0 + w * (1.0 / 8.0 + w * (1.0 / 30.0 + w * (1.0 / 144.0 + w / 840.0)))));
}

@compute @workgroup_size(64)
fn distill_loss(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row * p.vocab;
    // A padding row still runs every barrier (they must stay in uniform control flow), reading
    // a clamped target, and writes zeros.
    let t = targets[row];
    let keep = t < p.vocab;
    let tc = min(t, p.vocab - 1u);
    let inv = 1.0 / p.temperature;
    let hard = p.lambda < 1.0;

    // (max teacher/τ, max student/τ, max student, max |u|).
    var m = vec4<f32>(-3.4e38, -3.4e38, -3.4e38, 0.0);
    for (var j = lid; j < p.vocab; j += WG) {
        let s = student[base + j];
        let tj = teacher[base + j];
        m = max(m, vec4<f32>(tj * inv, s * inv, s, abs((tj - s) * inv)));
    }
    m = reduce_max4(m, lid);
    let near = m.w < 64.0;

    // (Σ e^(a − ma), Σ e^(b − mb), Σ_{j≠t} e^(s − ms), Σ e^(b − mb)·(e^u − 1)).
    var acc = vec4<f32>(0.0);
    for (var j = lid; j < p.vocab; j += WG) {
        let s = student[base + j];
        let tj = teacher[base + j];
        let eb = exp(s * inv - m.y);
        let shift = select(0.0, eb * exp_m1((tj - s) * inv), near);
        acc += vec4<f32>(exp(tj * inv - m.x), eb, select(exp(s - m.z), 0.0, j == tc), shift);
    }
    acc = reduce_sum4(acc, lid);
    let sa = acc.x;
    let sb = acc.y;
    let rest = acc.z;
    let y = acc.w / sb;
    // Near 1 + y = Σe^a / Σe^b the log_1p form keeps c's precision; far from it (a teacher
    // much colder or hotter than its student) 1 + y itself loses it, and the plain form does not.
    let c = select((m.x - m.y) + log(sa) - log(sb), select(log(1.0 + y), log_1p(y), abs(y) < 0.125), near && abs(y) < 0.5);
    let d_t = student[base + tc] - m.z;
    let inv_hard = 1.0 / (exp(d_t) + rest);

    // KL terms and the gradient.
    var kl = 0.0;
    let k_soft = p.lambda * p.temperature;
    let k_hard = 1.0 - p.lambda;
    for (var j = lid; j < p.vocab; j += WG) {
        let s = student[base + j];
        let tj = teacher[base + j];
        let q = exp(s * inv - m.y) / sb;
        let w = (tj - s) * inv - c;
        var term: f32;
        var q_minus_p: f32;
        if (abs(w) < 0.25) {
            term = q * phi(w);
            q_minus_p = -q * exp_m1(w);
        } else {
            let pj = exp(tj * inv - m.x) / sa;
            term = pj * (w - 1.0) + q;
            q_minus_p = q - pj;
        }
        kl += term;
        var g = k_soft * q_minus_p;
        if (hard) {
            g += k_hard * select(exp(s - m.z) * inv_hard, -rest * inv_hard, j == tc);
        }
        dstudent[base + j] = select(0.0, p.grad_scale * g, keep);
    }
    kl = reduce_sum(kl, lid);
    if (lid == 0u) {
        var l = p.lambda * p.temperature * p.temperature * max(kl, 0.0);
        if (hard) {
            l += k_hard * (log_1p((exp(d_t) - 1.0) + rest) - d_t);
        }
        losses[row] = select(0.0, l, keep);
    }
}
