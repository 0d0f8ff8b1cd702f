// cross_entropy.wgsl — softmax cross-entropy over logits, loss and gradient in one pass.
// (row_reduce.wgsl, concatenated in front, gives WG, reduce_max, reduce_sum and log_1p.)
//
//   cross_entropy       per row r with target t = targets[r]:
//                  loss[r]       = logsumexp(logits[r]) − logits[r, t]
//                  dlogits[r, j] = grad_scale · (softmax(logits[r])_j − [j = t])
//                  both from m = max and rest = Σ_{j≠t} exp(x_j − m), so a confident row's
//                  small loss and 1 − p_t keep their relative precision (log_1p, −rest/s)
//                  t = 0xFFFFFFFF marks a row to ignore: loss 0, gradient 0.
//                  A target ≥ vocab is treated the same way (never reads out of bounds).
//   cross_entropy_loss  the loss alone (evaluation), no gradient buffer bound.
// grad_scale is usually 1/(number of counted rows), making dlogits the gradient of the mean.
// One workgroup of 64 invocations per row.

struct Params {
    rows: u32,
    vocab: u32,
    _pad0: u32,
    _pad4: u32,
    grad_scale: f32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

// (max, Σ_{j≠t} exp(x_j − max)) of one row with target t, reduced over the workgroup. The
// target's term is left out so that 1 − p_t and the loss of a confident row are not
// differences of nearly equal numbers.
fn row_stats(base: u32, lid: u32, t: u32) -> vec2<f32> {
    var m = -3.4e38;
    for (var j = lid; j < p.vocab; j += WG) {
        m = max(m, logits[base + j]);
    }
    m = reduce_max(m, lid);
    var s = 0.0;
    for (var j = lid; j < p.vocab; j += WG) {
        if (j != t) {
            s += exp(logits[base + j] - m);
        }
    }
    s = reduce_sum(s, lid);
    return vec2<f32>(m, s);
}

// loss = (max − x_t) + log(e_t + rest) with e_t = exp(x_t − max): log_1p of (e_t − 1) + rest,
// exactly rest when the target is the maximum.
fn write_loss(row: u32, base: u32, lid: u32, t: u32, st: vec2<f32>) {
    if (lid == 0u) {
        var l = 0.0;
        if (t < p.vocab) {
            let d = logits[base + t] - st.x;
            l = log_1p((exp(d) - 1.0) + st.y) - d;
        }
        losses[row] = l;
    }
}

@compute @workgroup_size(64)
fn cross_entropy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let lid = lid3.x;
    let base = row * p.vocab;
    let t = targets[row];
    let st = row_stats(base, lid, t);
    write_loss(row, base, lid, t, st);
    // s = e_t + rest; the target's gradient p_t − 1 = −rest / s.
    var e_t = 0.0;
    if (t < p.vocab) {
        e_t = exp(logits[base + t] - st.x);
    }
    let inv = 1.0 / (e_t + st.y);
    for (var j = lid; j < p.vocab; j += WG) {
        var g = 0.0;
        if (t < p.vocab) {
            g = select(exp(logits[base + j] - st.x) * inv, -st.y * inv, j == t);
        }
        dlogits[base + j] = p.grad_scale * g;
    }
}

@compute @workgroup_size(64)
fn cross_entropy_loss(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.vocab;
    let t = targets[row];
    write_loss(row, base, lid3.x, t, row_stats(base, lid3.x, t));
}
