// Shared by the f32 and the tensor-core attention kernels: the problem, the mask and the logit,
// with exactly the semantics of shaders/attention_common.wgsl.
//
// Element (b, h, t, j) of Q/K/V (and dQ/dK/dV) sits at off + b*sb + h*sh + t*st + j; of O and dO at
// b*o_sb + h*o_sh + t*o_st + j. Softmax statistics (LSE, D) are (B*H, n): index z*n + t, z = b*H + h.
// HEAD_DIM (the head dimension d) is fixed per compiled module.

#ifndef HEAD_DIM
#error "compile with -DHEAD_DIM=<d>"
#endif

// NVRTC has no <math.h>.
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

// Must match `AttnParams` in engine/src/cuda/attention.rs field for field.
struct AttnParams {
    int n, d, heads, causal, alibi, pad0;
    float scale;  // 1/sqrt(d)
    float bias;   // sigmoid logit bias b (0 for softmax)
    long long st, sh, sb;
    long long q_off, k_off, v_off;
    long long o_st, o_sh, o_sb;
};

// ALiBi slope of head h: 2^(-8(h+1)/H), 0 without ALiBi.
__device__ __forceinline__ float alibi_slope(const AttnParams& p, int h) {
    return p.alibi ? exp2f(-8.0f * (float)(h + 1) / (float)p.heads) : 0.0f;
}

// The (batch, head) of this block, grid row blockIdx.y = b*H + h: its index z (the statistics'
// row block), the offsets of its Q/K/V and O/dO rows, and its ALiBi slope.
struct BlockHead {
    int z;
    long long qkv, o;
    float slope;
};
__device__ __forceinline__ BlockHead block_head(const AttnParams& p) {
    const int z = blockIdx.y, b = z / p.heads, h = z % p.heads;
    return {z, b * p.sb + h * p.sh, b * p.o_sb + h * p.o_sh, alibi_slope(p, h)};
}

// Whether query i sees key j (both inside the sequence, and j <= i when causal).
__device__ __forceinline__ bool visible(const AttnParams& p, int i, int j) {
    return i < p.n && j < p.n && (!p.causal || j <= i);
}

// The logit of query i and key j from their raw dot product: scale*q.k + b - slope*|i - j|.
// The full ALiBi term is kept: sigmoid is not shift invariant, so no row constant may be dropped.
__device__ __forceinline__ float attn_logit(const AttnParams& p, float dot, float slope, int i, int j) {
    return fmaf(dot, p.scale, p.bias) - slope * fabsf((float)(i - j));
}

// dS = d loss / d logit of one visible entry, times the scale (ready for dQ = dS K and
// dK = dS^T Q), from its weight w and dP = dO . v: sigmoid P(1 - P)dP needs no row statistic;
// softmax P(dP - D) uses the row's D = rowsum(dO * O).
template <bool SIGMOID>
__device__ __forceinline__ float score_grad(const AttnParams& p, float w, float dp, float d_row) {
    return (SIGMOID ? w * (1.0f - w) * dp : w * (dp - d_row)) * p.scale;
}

// Exact logistic function (the f32 kernels).
__device__ __forceinline__ float sigmoid_exact(float x) { return 1.0f / (1.0f + expf(-x)); }
