// Flash attention in f32 on CUDA cores, one thread per query (or key) row: the plain variant that
// checks the tensor-core kernels and the WGSL ones on the same card. The entry points
// (attention_entries.cuh) are those of attention_mma.cu; F32_ROWS threads per block, static
// shared memory.
//
// Forward: O_i = sum_j w_ij v_j, w = sigmoid(logit) (no statistics) or softmax (online, writes the
// row log-sum-exp). Backward: dQ per query row and dK, dV per key row, recomputing the weights;
// sigmoid needs no statistics (dS = P(1 - P)dP), softmax uses LSE and D = rowsum(dO * O).

#define F32_ROWS 64  // rows per block, one thread each
#define F32_TILE 32  // keys (or queries) staged in shared memory at a time

typedef float elem_t;
#define BLOCK_THREADS F32_ROWS
__device__ __forceinline__ float to_f32(float x) { return x; }

// Rows j0 .. j0 + F32_TILE of two operands (row strides sa, sb) into shared tiles, zero past n;
// by the whole block.
__device__ __forceinline__ void stage_pair(float (*ta)[HEAD_DIM], float (*tb)[HEAD_DIM], const float* a, long long sa,
                                           const float* b, long long sb, int j0, int n) {
    for (int e = threadIdx.x; e < F32_TILE * HEAD_DIM; e += F32_ROWS) {
        const int r = e / HEAD_DIM, c = e % HEAD_DIM, j = j0 + r;
        ta[r][c] = j < n ? a[(long long)j * sa + c] : 0.0f;
        tb[r][c] = j < n ? b[(long long)j * sb + c] : 0.0f;
    }
}

// Row `t` of a (B, H, n, d) operand at `base`, with row stride `st`.
#define ROW(ptr, t, st) ((ptr) + (long long)(t) * (st))

template <bool SIGMOID>
__device__ void attn_forward(const float* __restrict__ qkv, float* __restrict__ o, float* __restrict__ lse,
                             const AttnParams& p) {
    __shared__ float ks[F32_TILE][HEAD_DIM];
    __shared__ float vs[F32_TILE][HEAD_DIM];
    const BlockHead hd = block_head(p);
    const int z = hd.z;
    const int i = blockIdx.x * F32_ROWS + threadIdx.x;
    const long long base = hd.qkv;
    const float* Q = qkv + p.q_off + base;
    const float* K = qkv + p.k_off + base;
    const float* V = qkv + p.v_off + base;
    const float slope = hd.slope;
    float q[HEAD_DIM], acc[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) {
        q[c] = i < p.n ? ROW(Q, i, p.st)[c] : 0.0f;
        acc[c] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    const int key_end = p.causal ? min(p.n, (int)(blockIdx.x + 1) * F32_ROWS) : p.n;
    for (int j0 = 0; j0 < key_end; j0 += F32_TILE) {
        __syncthreads();
        stage_pair(ks, vs, K, p.st, V, p.st, j0, p.n);
        __syncthreads();
        for (int r = 0; r < F32_TILE; ++r) {
            const int j = j0 + r;
            if (!visible(p, i, j)) continue;
            float dot = 0.0f;
            for (int c = 0; c < HEAD_DIM; ++c) dot = fmaf(q[c], ks[r][c], dot);
            const float x = attn_logit(p, dot, slope, i, j);
            float w;
            if (SIGMOID) {
                w = sigmoid_exact(x);
            } else {
                if (x > m) {
                    const float corr = expf(m - x);
                    l *= corr;
                    for (int c = 0; c < HEAD_DIM; ++c) acc[c] *= corr;
                    m = x;
                }
                w = expf(x - m);
                l += w;
            }
            for (int c = 0; c < HEAD_DIM; ++c) acc[c] = fmaf(w, vs[r][c], acc[c]);
        }
    }
    if (i < p.n) {
        const float inv = SIGMOID ? 1.0f : 1.0f / l;
        float* out = o + hd.o + (long long)i * p.o_st;
        for (int c = 0; c < HEAD_DIM; ++c) out[c] = acc[c] * inv;
        if (!SIGMOID) lse[(long long)z * p.n + i] = m + logf(l);
    }
}

template <bool SIGMOID>
__device__ void attn_backward_dq(const float* __restrict__ qkv, const float* __restrict__ dout,
                                 float* __restrict__ dqkv, const float* __restrict__ lse,
                                 const float* __restrict__ delta, const AttnParams& p) {
    __shared__ float ks[F32_TILE][HEAD_DIM];
    __shared__ float vs[F32_TILE][HEAD_DIM];
    const BlockHead hd = block_head(p);
    const int z = hd.z;
    const int i = blockIdx.x * F32_ROWS + threadIdx.x;
    const long long base = hd.qkv;
    const float* Q = qkv + p.q_off + base;
    const float* K = qkv + p.k_off + base;
    const float* V = qkv + p.v_off + base;
    const float* G = dout + hd.o;
    const float slope = hd.slope;
    float q[HEAD_DIM], g[HEAD_DIM], dq[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) {
        q[c] = i < p.n ? ROW(Q, i, p.st)[c] : 0.0f;
        g[c] = i < p.n ? ROW(G, i, p.o_st)[c] : 0.0f;
        dq[c] = 0.0f;
    }
    const float li = (!SIGMOID && i < p.n) ? lse[(long long)z * p.n + i] : 0.0f;
    const float di = (!SIGMOID && i < p.n) ? delta[(long long)z * p.n + i] : 0.0f;
    const int key_end = p.causal ? min(p.n, (int)(blockIdx.x + 1) * F32_ROWS) : p.n;
    for (int j0 = 0; j0 < key_end; j0 += F32_TILE) {
        __syncthreads();
        stage_pair(ks, vs, K, p.st, V, p.st, j0, p.n);
        __syncthreads();
        for (int r = 0; r < F32_TILE; ++r) {
            const int j = j0 + r;
            if (!visible(p, i, j)) continue;
            float dot = 0.0f, dp = 0.0f;
            for (int c = 0; c < HEAD_DIM; ++c) {
                dot = fmaf(q[c], ks[r][c], dot);
                dp = fmaf(g[c], vs[r][c], dp);
            }
            const float x = attn_logit(p, dot, slope, i, j);
            const float w = SIGMOID ? sigmoid_exact(x) : expf(x - li);
            const float ds = score_grad<SIGMOID>(p, w, dp, di);
            for (int c = 0; c < HEAD_DIM; ++c) dq[c] = fmaf(ds, ks[r][c], dq[c]);
        }
    }
    if (i < p.n) {
        float* out = ROW(dqkv + p.q_off + base, i, p.st);
        for (int c = 0; c < HEAD_DIM; ++c) out[c] = dq[c];
    }
}

template <bool SIGMOID>
__device__ void attn_backward_dkdv(const float* __restrict__ qkv, const float* __restrict__ dout,
                                   float* __restrict__ dqkv, const float* __restrict__ lse,
                                   const float* __restrict__ delta, const AttnParams& p) {
    __shared__ float qs[F32_TILE][HEAD_DIM];
    __shared__ float gs[F32_TILE][HEAD_DIM];
    __shared__ float ls[F32_TILE], dls[F32_TILE];
    const BlockHead hd = block_head(p);
    const int z = hd.z;
    const int j = blockIdx.x * F32_ROWS + threadIdx.x;
    const long long base = hd.qkv;
    const float* Q = qkv + p.q_off + base;
    const float* K = qkv + p.k_off + base;
    const float* V = qkv + p.v_off + base;
    const float* G = dout + hd.o;
    const float slope = hd.slope;
    float k[HEAD_DIM], v[HEAD_DIM], dk[HEAD_DIM], dv[HEAD_DIM];
    for (int c = 0; c < HEAD_DIM; ++c) {
        k[c] = j < p.n ? ROW(K, j, p.st)[c] : 0.0f;
        v[c] = j < p.n ? ROW(V, j, p.st)[c] : 0.0f;
        dk[c] = 0.0f;
        dv[c] = 0.0f;
    }
    // Causal: queries before this block's first key see none of its keys.
    const int q_start = p.causal ? (int)(blockIdx.x * F32_ROWS) / F32_TILE * F32_TILE : 0;
    for (int i0 = q_start; i0 < p.n; i0 += F32_TILE) {
        __syncthreads();
        stage_pair(qs, gs, Q, p.st, G, p.o_st, i0, p.n);
        if (threadIdx.x < F32_TILE) {
            const int i = i0 + threadIdx.x;
            ls[threadIdx.x] = (!SIGMOID && i < p.n) ? lse[(long long)z * p.n + i] : 0.0f;
            dls[threadIdx.x] = (!SIGMOID && i < p.n) ? delta[(long long)z * p.n + i] : 0.0f;
        }
        __syncthreads();
        for (int r = 0; r < F32_TILE; ++r) {
            const int i = i0 + r;
            if (!visible(p, i, j)) continue;
            float dot = 0.0f, dp = 0.0f;
            for (int c = 0; c < HEAD_DIM; ++c) {
                dot = fmaf(qs[r][c], k[c], dot);
                dp = fmaf(gs[r][c], v[c], dp);
            }
            const float x = attn_logit(p, dot, slope, i, j);
            const float w = SIGMOID ? sigmoid_exact(x) : expf(x - ls[r]);
            const float ds = score_grad<SIGMOID>(p, w, dp, dls[r]);
            for (int c = 0; c < HEAD_DIM; ++c) {
                dv[c] = fmaf(w, gs[r][c], dv[c]);
                dk[c] = fmaf(ds, qs[r][c], dk[c]);
            }
        }
    }
    if (j < p.n) {
        float* outk = ROW(dqkv + p.k_off + base, j, p.st);
        float* outv = ROW(dqkv + p.v_off + base, j, p.st);
        for (int c = 0; c < HEAD_DIM; ++c) {
            outk[c] = dk[c];
            outv[c] = dv[c];
        }
    }
}
