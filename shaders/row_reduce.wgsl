// row_reduce.wgsl — the workgroup reductions shared by softmax.wgsl, norm.wgsl, entropy.wgsl,
// byol.wgsl, distill.wgsl and cross_entropy.wgsl (concatenated in front of each by kernels::shaders): one
// 64-invocation workgroup per row, each invocation holding a partial over its strided
// elements; and log_1p and exp_m1, for the losses of confident rows.
// No entry points of its own.

const WG: u32 = 64u;
var<workgroup> scratch: array<f32, 64>;
var<workgroup> part: array<f32, 8>;

// Two levels: eight invocations each fold eight partials, then every invocation folds the
// eight results in the same order (so all get the same value); three barriers instead of
// a tree's eight. On lavapipe, which runs a workgroup with barriers as coroutines, this made
// softmax, layernorm and cross-entropy 1.3-1.7x faster; every invocation folding all 64
// partials itself (two barriers) was 1.7x slower than the tree.
fn reduce_max(v: f32, lid: u32) -> f32 {
    scratch[lid] = v;
    workgroupBarrier();
    if (lid < 8u) {
        var q = scratch[lid * 8u];
        for (var i = 1u; i < 8u; i++) {
            q = max(q, scratch[lid * 8u + i]);
        }
        part[lid] = q;
    }
    workgroupBarrier();
    var r = part[0];
    for (var i = 1u; i < 8u; i++) {
        r = max(r, part[i]);
    }
    workgroupBarrier();
    return r;
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
    scratch[lid] = v;
    workgroupBarrier();
    if (lid < 8u) {
        var q = scratch[lid * 8u];
        for (var i = 1u; i < 8u; i++) {
            q += scratch[lid * 8u + i];
        }
        part[lid] = q;
    }
    workgroupBarrier();
    var r = part[0];
    for (var i = 1u; i < 8u; i++) {
        r += part[i];
    }
    workgroupBarrier();
    return r;
}

// log(1 + x) for x ≥ 0, accurate relative to the result near 0, where log(1 + x) would keep
// only WGSL's absolute error bound (2^-21 inside [0.5, 2]): a loss or an entropy of a
// confident row is such a small number. The series to x^10 is within 1e-10 of it below 1/8.
fn log_1p(x: f32) -> f32 {
    if (x < 0.125) {
        var p = -1.0 / 10.0;
        p = p * x + 1.0 / 9.0;
        p = p * x - 1.0 / 8.0;
        p = p * x + 1.0 / 7.0;
        p = p * x - 1.0 / 6.0;
        p = p * x + 1.0 / 5.0;
        p = p * x - 1.0 / 4.0;
        p = p * x + 1.0 / 3.0;
        p = p * x - 1.0 / 2.0;
        p = p * x + 1.0;
        return p * x;
    }
    return log(1.0 + x);
}

// Four reductions in one, for kernels that need several statistics of a row (distill.wgsl):
// the same two levels, three barriers for all four.
var<workgroup> scratch4: array<vec4<f32>, 64>;
var<workgroup> part4: array<vec4<f32>, 8>;

fn reduce_max4(v: vec4<f32>, lid: u32) -> vec4<f32> {
    scratch4[lid] = v;
    workgroupBarrier();
    if (lid < 8u) {
        var q = scratch4[lid * 8u];
        for (var i = 1u; i < 8u; i++) {
            q = max(q, scratch4[lid * 8u + i]);
        }
        part4[lid] = q;
    }
    workgroupBarrier();
    var r = part4[0];
    for (var i = 1u; i < 8u; i++) {
        r = max(r, part4[i]);
    }
    workgroupBarrier();
    return r;
}

fn reduce_sum4(v: vec4<f32>, lid: u32) -> vec4<f32> {
    scratch4[lid] = v;
    workgroupBarrier();
    if (lid < 8u) {
        var q = scratch4[lid * 8u];
        for (var i = 1u; i < 8u; i++) {
            q += scratch4[lid * 8u + i];
        }
        part4[lid] = q;
    }
    workgroupBarrier();
    var r = part4[0];
    for (var i = 1u; i < 8u; i++) {
        r += part4[i];
    }
    workgroupBarrier();
    return r;
}

// e^y − 1, accurate relative to the result near 0, where exp(y) − 1 keeps only exp's absolute
// error (the series to y^8 below 1/8): REALM's robust losses (entropy.wgsl) and a
// distillation student that nearly matches its teacher (distill.wgsl) work with such numbers.
fn exp_m1(y: f32) -> f32 {
    if (abs(y) < 0.125) {
        var p = 1.0 / 40320.0;
        p = p * y + 1.0 / 5040.0;
        p = p * y + 1.0 / 720.0;
        p = p * y + 1.0 / 120.0;
        p = p * y + 1.0 / 24.0;
        p = p * y + 1.0 / 6.0;
        p = p * y + 0.5;
        p = p * y + 1.0;
        return p * y;
    }
    return exp(y) - 1.0;
}
