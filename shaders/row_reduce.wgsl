// row_reduce.wgsl — the workgroup reductions shared by softmax.wgsl, norm.wgsl, entropy.wgsl and
// cross_entropy.wgsl (concatenated in front of each by kernels::shaders): one 64-invocation
// workgroup per row, each invocation holding a partial over its strided elements.
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
