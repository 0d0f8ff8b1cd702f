// embedding.wgsl — table lookup by integer id, and its gradient.
//
//   embedding_forward   out[r, c] (+)= table[ids[r], c]      one invocation per element;
//                       an id ≥ vocab contributes 0 (ids are checked when uploaded)
//   embedding_backward  dtable[v, c] += Σ_{r : ids[r] = v} dout[r, c]
//                       one invocation per table element, scanning the ids in order: no
//                       float atomics (not portable) and a deterministic sum. The scan
//                       costs vocab·dim·rows reads of ids, fine for byte-level vocabularies;
//                       a sort-by-id variant is the road for large vocabularies.
// Token and position embeddings both use these (positions are ids = t mod T).

struct Params {
    rows: u32,
    dim: u32,
    vocab: u32,
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read_write> dtable: array<f32>;

@compute @workgroup_size(256)
fn embedding_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wg.x + wg.y * nwg.x) * 256u + lid.x;
    if (i >= p.rows * p.dim) {
        return;
    }
    let r = i / p.dim;
    let c = i % p.dim;
    let id = ids[r];
    var v = 0.0;
    if (id < p.vocab) {
        v = table[id * p.dim + c];
    }
    if (p.accumulate != 0u) {
        v += out[i];
    }
    out[i] = v;
}

@compute @workgroup_size(256)
fn embedding_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wg.x + wg.y * nwg.x) * 256u + lid.x;
    if (i >= p.vocab * p.dim) {
        return;
    }
    let v = i / p.dim;
    let c = i % p.dim;
    var s = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        if (ids[r] == v) {
            s += dout[r * p.dim + c];
        }
    }
    dtable[i] += s;
}
