// attention_common.wgsl — the prelude shared by attention_sigmoid.wgsl and
// attention_softmax.wgsl (concatenated in front of each by kernels::shaders): parameters,
// bindings, tiles and the index helpers. No entry points of its own.
//
// Layout: Q, K, V (and dQ, dK, dV) are read through one buffer with per-tensor offsets and
// shared strides — element (b, h, t, j) at off + b·sb + h·sh + t·st + j — so the model's fused
// QKV activation is used in place. O and dO have their own strides (o_*). Bindings a kernel
// does not use are simply not part of its pipeline.

struct Params {
    n: u32, d: u32, heads: u32, causal: u32,
    alibi: u32, _p0: u32, _p1: u32, _p2: u32,
    scale: f32, bias: f32, _f0: f32, _f1: f32,
    st: u32, sh: u32, sb: u32, _p3: u32,
    q_off: u32, k_off: u32, v_off: u32, _p4: u32,
    o_st: u32, o_sh: u32, o_sb: u32, o_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(3) var<storage, read> o_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
@group(0) @binding(7) var<storage, read> lse_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> delta: array<f32>;
@group(0) @binding(9) var<storage, read> delta_in: array<f32>;

// Rows per workgroup (one invocation each) and vec4s per shared tile: pipeline-overridable,
// chosen by the launcher: min(n, 128) rows of d, within the adapter's workgroup-memory limit
// (2 tiles + 1 KiB of row statistics must fit: 480 vec4s per tile under the 16 KiB portable
// floor). No larger than the shape uses, since workgroup memory is zero-filled at the start
// of every workgroup.
override BQ: u32 = 32u;
override TILE_VEC4: u32 = 480u;
// Keys (or queries) per tile, capped by the private score array of the softmax forward.
const MAX_TILE_ROWS: u32 = 128u;
var<workgroup> tile_a: array<vec4<f32>, TILE_VEC4>;
var<workgroup> tile_b: array<vec4<f32>, TILE_VEC4>;
// Per-row statistics of the query tile in the dK/dV kernel: LSE and D (≤ 128 rows).
var<workgroup> tile_lse: array<f32, 128>;
var<workgroup> tile_delta: array<f32, 128>;

fn tile_rows() -> u32 {
    return min(4u * TILE_VEC4 / p.d, MAX_TILE_ROWS);
}

fn head_base(bh: u32) -> u32 {
    return (bh / p.heads) * p.sb + (bh % p.heads) * p.sh;
}

fn o_base(bh: u32) -> u32 {
    return p.o_off + (bh / p.heads) * p.o_sb + (bh % p.heads) * p.o_sh;
}

fn ld_qkv(i: u32) -> vec4<f32> {
    return vec4<f32>(qkv[i], qkv[i + 1u], qkv[i + 2u], qkv[i + 3u]);
}

fn ld_dout(i: u32) -> vec4<f32> {
    return vec4<f32>(dout[i], dout[i + 1u], dout[i + 2u], dout[i + 3u]);
}

fn slope(bh: u32) -> f32 {
    if (p.alibi == 0u) {
        return 0.0;
    }
    return exp2(-8.0 * f32(bh % p.heads + 1u) / f32(p.heads));
}

fn visible(i: u32, j: u32) -> bool {
    return p.causal == 0u || j <= i;
}

// Logit of (query i, key j) given the pre-scaled dot product.
fn logit(dotv: f32, i: u32, j: u32, sl: f32) -> f32 {
    return dotv + p.bias - sl * abs(f32(i) - f32(j));
}

// Cooperative loads of one tile into workgroup memory (the caller then barriers):
// K and V rows k0.. (for the query-row kernels), or s·Q and dO rows i0.. (for dK/dV).
fn load_kv_tile(base: u32, k0: u32, rows: u32, d4: u32, lid: u32) {
    for (var e = lid; e < rows * d4; e += BQ) {
        let off = base + (k0 + e / d4) * p.st + 4u * (e % d4);
        tile_a[e] = ld_qkv(p.k_off + off);
        tile_b[e] = ld_qkv(p.v_off + off);
    }
}

fn load_q_dout_tile(base: u32, obase: u32, i0: u32, rows: u32, d4: u32, lid: u32) {
    for (var e = lid; e < rows * d4; e += BQ) {
        let r = i0 + e / d4;
        let c = e % d4;
        tile_a[e] = p.scale * ld_qkv(p.q_off + base + r * p.st + 4u * c);
        tile_b[e] = ld_dout(obase + r * p.o_st + 4u * c);
    }
}
