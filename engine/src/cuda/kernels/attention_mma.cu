// Flash attention on tensor cores: bf16 (or f16, -DELEM_F16) inputs and outputs, f32
// accumulation, mma.sync m16n8k16 (sm_80 and newer), in the FlashAttention-2 shape: a block of 4
// warps owns 64 query rows (16 per warp) and streams key blocks through shared memory.
// Sigmoid (FlashSigmoid) keeps only the O accumulator: no running max, no running sum, no
// rescaling, no final division, nothing saved for the backward. Softmax is the FA2 baseline.
//
// Backward, as in the WGSL kernels: one kernel per query block for dQ and one per key block for dK,
// dV, both recomputing the weights; sigmoid dS = P(1 - P)dP needs no per-row statistics, softmax
// needs LSE and D = rowsum(dO * O) (softmax_backward_prep).
//
// Fragment layouts of mma.m16n8k16 (PTX ISA, "Matrix fragments for mma.m16n8k16"), with
// g = lane / 4 and t = lane % 4: A (16x16, row-major) registers a0..a3 hold A[g][2t..2t+1],
// A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..]; B (16x8, K x N) registers b0, b1 hold
// B[2t..2t+1][g], B[2t+8..2t+9][g]; C (16x8 f32) c0..c3 hold C[g][2t], C[g][2t+1], C[g+8][2t],
// C[g+8][2t+1]. So two adjacent C tiles of 8 columns are, packed in pairs, the A fragment of
// the next product: P and dS never leave registers.
//
// Tiles are staged row-major with cp.async, the next one while the current one is computed, and
// read with ldmatrix (its .trans form where a tile is the reduction side of a product, so no
// transposed copy is ever made). Shared memory is dynamic (the launcher passes its size); rows
// are padded by 8 elements so the 8 rows of each ldmatrix phase hit distinct banks. Needs
// d % 16 == 0 and strides and offsets that are multiples of 8 elements (16-byte copies).

typedef unsigned short elem_t;

// The instructions below are PTX; tests/cuda_emu/cuda_emu.h (SIGMIX_EMULATE) gives the same
// functions in C++ so the kernels can be checked on a CPU, warp collectives and all.
#ifndef SIGMIX_EMULATE
#if defined(ELEM_F16)
#define MMA_SHAPE "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
// Two floats to a pair of halves, `lo` in the low 16 bits (the lower column index).
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
__device__ __forceinline__ float to_f32(elem_t x) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x));
    return f;
}
#else
#define MMA_SHAPE "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
__device__ __forceinline__ float to_f32(elem_t x) { return __uint_as_float(((unsigned)x) << 16); }
#endif

// C += A * B on one warp's fragments.
__device__ __forceinline__ void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm(MMA_SHAPE " {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// sigma(x) = 1/2 + tanh(x/2)/2 with the hardware tanh (FlashSigmoid's formulation).
__device__ __forceinline__ float sigmoid_fast(float x) {
    float t;
    asm("tanh.approx.f32 %0, %1;" : "=f"(t) : "f"(0.5f * x));
    return fmaf(0.5f, t, 0.5f);
}

// Shared-memory address of a generic pointer, for the instructions below.
__device__ __forceinline__ unsigned smem_addr(const void* p) {
    unsigned long long a;
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(a) : "l"(p));
    return (unsigned)a;
}

// 16 bytes global -> shared without passing through registers; src_bytes = 0 writes zeros.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes)
                 : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

// Four 8x8 matrices of 16-bit elements from shared memory; lane l gives the address of row l % 8
// of matrix l / 8. Register i of lane l: row l / 4, columns 2(l % 4), 2(l % 4) + 1 of matrix i;
// with .trans, column l / 4, rows 2(l % 4), 2(l % 4) + 1.
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const elem_t* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const elem_t* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(row)));
}

#define DYNAMIC_SHARED(name) extern __shared__ uint4 name[]
#endif  // SIGMIX_EMULATE

// Two adjacent elements (4-byte aligned) as one register.
__device__ __forceinline__ unsigned ld2(const elem_t* p) { return *reinterpret_cast<const unsigned*>(p); }

// Stores two f32 values as an adjacent pair.
__device__ __forceinline__ void st2(elem_t* p, float lo, float hi) { *reinterpret_cast<unsigned*>(p) = pack2(lo, hi); }

// The A fragment of a 16-row slice (rows r, r+8 relative to `rows`) at column k, from global
// memory with row stride `st`; rows at or past `n` read as zero.
__device__ __forceinline__ void load_a_global(unsigned (&a)[4], const elem_t* src, long long st, int row, int n,
                                              int k) {
    const int t = (threadIdx.x & 31) & 3;
    const bool lo = row < n, hi = row + 8 < n;
    const elem_t* r0 = src + (long long)row * st + k + 2 * t;
    const elem_t* r1 = r0 + 8 * st;
    a[0] = lo ? ld2(r0) : 0u;
    a[1] = hi ? ld2(r1) : 0u;
    a[2] = lo ? ld2(r0 + 8) : 0u;
    a[3] = hi ? ld2(r1 + 8) : 0u;
}

// A's fragment for the product with the 16 columns [16c, 16c + 16) of C tiles held in registers.
template <int N>
__device__ __forceinline__ void c_to_a(unsigned (&a)[4], const float (&c)[N][4], int chunk) {
    a[0] = pack2(c[2 * chunk][0], c[2 * chunk][1]);
    a[1] = pack2(c[2 * chunk][2], c[2 * chunk][3]);
    a[2] = pack2(c[2 * chunk + 1][0], c[2 * chunk + 1][1]);
    a[3] = pack2(c[2 * chunk + 1][2], c[2 * chunk + 1][3]);
}

// Copies `rows` rows (from r0; rows at or past n are zero) of d = HEAD_DIM elements into a
// shared tile [rows][ld], 16 bytes per asynchronous copy: the block issues them and goes on;
// cp_async_wait and a barrier make the rows visible.
__device__ __forceinline__ void stage_rows_async(elem_t* dst, int ld, const elem_t* src, long long st, int r0,
                                                 int rows, int n) {
    constexpr int V = HEAD_DIM / 8;
    for (int e = threadIdx.x; e < rows * V; e += blockDim.x) {
        const int r = e / V, c = (e % V) * 8;
        const bool inside = r0 + r < n;
        cp_async16(dst + r * ld + c, src + (long long)(inside ? r0 + r : 0) * st + c, inside ? 16 : 0);
    }
}

#define THREADS 128       // 4 warps
#define BLOCK_THREADS THREADS
#define FWD_BQ 64         // query rows per block (16 per warp)
#define FWD_BK 64         // keys per step of the forward
#define BWD_BK 32         // keys per step of the dQ kernel
#define BWD_BKV 64        // keys per block of the dK/dV kernel (16 per warp)
#define BWD_BQ 32         // queries per step of the dK/dV kernel
#define LD_D (HEAD_DIM + 8)

// ---------------------------------------------------------------------------------------------
// Forward. Shared: two buffers of K and V [FWD_BK][LD_D], row-major: the next key block is
// copied asynchronously while this one is computed. B operands come by ldmatrix (K as is, V
// transposed on the fly).
template <bool SIGMOID>
__device__ void attn_forward(const elem_t* __restrict__ qkv, elem_t* __restrict__ o, float* __restrict__ lse,
                             const AttnParams& p) {
    DYNAMIC_SHARED(smem_raw);
    constexpr int TILE = FWD_BK * LD_D;
    elem_t* ks = reinterpret_cast<elem_t*>(smem_raw);  // [2][FWD_BK][LD_D]
    elem_t* vs = ks + 2 * TILE;                          // [2][FWD_BK][LD_D]
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int lm = lane >> 3, lr = lane & 7;  // the ldmatrix matrix and row this lane addresses
    const BlockHead hd = block_head(p);
    const int z = hd.z;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * FWD_BQ;  // the longest causal blocks first
    const int ra = q0 + warp * 16 + g, rb = ra + 8;          // this thread's two rows
    const long long base = hd.qkv;
    const elem_t* K = qkv + p.k_off + base;
    const elem_t* V = qkv + p.v_off + base;
    const float slope = hd.slope;

    const int key_end = p.causal ? min(p.n, q0 + FWD_BQ) : p.n;
    const int tiles = (key_end + FWD_BK - 1) / FWD_BK;
    stage_rows_async(ks, LD_D, K, p.st, 0, FWD_BK, p.n);
    stage_rows_async(vs, LD_D, V, p.st, 0, FWD_BK, p.n);
    cp_async_commit();

    unsigned qa[HEAD_DIM / 16][4];
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; ++kk) load_a_global(qa[kk], qkv + p.q_off + base, p.st, ra, p.n, kk * 16);
    float acc[HEAD_DIM / 8][4];
#pragma unroll
    for (int dt = 0; dt < HEAD_DIM / 8; ++dt) acc[dt][0] = acc[dt][1] = acc[dt][2] = acc[dt][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

    for (int it = 0; it < tiles; ++it) {
        const int k0 = it * FWD_BK;
        const elem_t* kb = ks + (it & 1) * TILE;
        const elem_t* vb = vs + (it & 1) * TILE;
        if (it + 1 < tiles) {
            stage_rows_async(ks + ((it + 1) & 1) * TILE, LD_D, K, p.st, k0 + FWD_BK, FWD_BK, p.n);
            stage_rows_async(vs + ((it + 1) & 1) * TILE, LD_D, V, p.st, k0 + FWD_BK, FWD_BK, p.n);
        }
        cp_async_commit();
        cp_async_wait<1>();  // this block's tile has landed (the next one may still be in flight)
        __syncthreads();

        float s[FWD_BK / 8][4];
#pragma unroll
        for (int nt = 0; nt < FWD_BK / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
#pragma unroll
            for (int nt = 0; nt < FWD_BK / 8; nt += 2) {
                // B[k][n] = K[n][k]: matrices (keys nt, dims lo), (nt, hi), (nt + 1, lo), (nt + 1, hi).
                unsigned bk[4];
                ldmatrix_x4(bk, kb + ((nt + (lm >> 1)) * 8 + lr) * LD_D + kk * 16 + (lm & 1) * 8);
                mma16816(s[nt], qa[kk], bk[0], bk[1]);
                mma16816(s[nt + 1], qa[kk], bk[2], bk[3]);
            }
        }

        float bmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < FWD_BK / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int i = e < 2 ? ra : rb, j = k0 + nt * 8 + 2 * t + (e & 1);
                const bool vis = visible(p, i, j);
                const float x = vis ? attn_logit(p, s[nt][e], slope, i, j) : -INFINITY;
                if (SIGMOID) {
                    s[nt][e] = vis ? sigmoid_fast(x) : 0.0f;
                } else {
                    s[nt][e] = x;
                    bmax[e >> 1] = fmaxf(bmax[e >> 1], x);
                }
            }
        }
        if (!SIGMOID) {
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                bmax[r] = fmaxf(bmax[r], __shfl_xor_sync(0xffffffffu, bmax[r], 1));
                bmax[r] = fmaxf(bmax[r], __shfl_xor_sync(0xffffffffu, bmax[r], 2));
                const float mnew = fmaxf(m[r], bmax[r]);
                const float corr = mnew == -INFINITY ? 1.0f : __expf(m[r] - mnew);
                m[r] = mnew;
                l[r] *= corr;
#pragma unroll
                for (int dt = 0; dt < HEAD_DIM / 8; ++dt) {
                    acc[dt][2 * r] *= corr;
                    acc[dt][2 * r + 1] *= corr;
                }
            }
#pragma unroll
            for (int nt = 0; nt < FWD_BK / 8; ++nt) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = e >> 1;
                    const float w = m[r] == -INFINITY ? 0.0f : __expf(s[nt][e] - m[r]);
                    s[nt][e] = w;
                    l[r] += w;
                }
            }
        }

#pragma unroll
        for (int kc = 0; kc < FWD_BK / 16; ++kc) {
            unsigned pa[4];
            c_to_a(pa, s, kc);
#pragma unroll
            for (int dt = 0; dt < HEAD_DIM / 8; dt += 2) {
                // B[k][n] = V[k][n], transposed by ldmatrix: matrices (keys lo, dims dt), (hi, dt),
                // (lo, dt + 1), (hi, dt + 1).
                unsigned bv[4];
                ldmatrix_x4_trans(bv, vb + (kc * 16 + (lm & 1) * 8 + lr) * LD_D + (dt + (lm >> 1)) * 8);
                mma16816(acc[dt], pa, bv[0], bv[1]);
                mma16816(acc[dt + 1], pa, bv[2], bv[3]);
            }
        }
        __syncthreads();  // every warp is done with this buffer before it is refilled
    }

    if (!SIGMOID) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
            l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        }
    }
    elem_t* O = o + hd.o;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = r ? rb : ra;
        if (i >= p.n) continue;
        const float inv = SIGMOID ? 1.0f : 1.0f / l[r];
#pragma unroll
        for (int dt = 0; dt < HEAD_DIM / 8; ++dt)
            st2(O + (long long)i * p.o_st + dt * 8 + 2 * t, acc[dt][2 * r] * inv, acc[dt][2 * r + 1] * inv);
        if (!SIGMOID && t == 0) lse[(long long)z * p.n + i] = m[r] + logf(l[r]);
    }
}

// ---------------------------------------------------------------------------------------------
// dQ: per query block, over key blocks. Shared: two buffers of K and V [BWD_BK][LD_D], row-major
// (the next block is copied while this one is computed); K is read as is for S = QK^T and
// transposed by ldmatrix for dQ = dS K.
template <bool SIGMOID>
__device__ void attn_backward_dq(const elem_t* __restrict__ qkv, const elem_t* __restrict__ dout,
                                 elem_t* __restrict__ dqkv, const float* __restrict__ lse,
                                 const float* __restrict__ delta, const AttnParams& p) {
    DYNAMIC_SHARED(smem_raw);
    constexpr int TILE = BWD_BK * LD_D;
    elem_t* ks = reinterpret_cast<elem_t*>(smem_raw);  // [2][BWD_BK][LD_D]
    elem_t* vs = ks + 2 * TILE;                          // [2][BWD_BK][LD_D]
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int lm = lane >> 3, lr = lane & 7;
    const BlockHead hd = block_head(p);
    const int z = hd.z;
    const int q0 = (gridDim.x - 1 - blockIdx.x) * FWD_BQ;
    const int ra = q0 + warp * 16 + g, rb = ra + 8;
    const long long base = hd.qkv;
    const elem_t* K = qkv + p.k_off + base;
    const elem_t* V = qkv + p.v_off + base;
    const elem_t* G = dout + hd.o;
    const float slope = hd.slope;

    const int key_end = p.causal ? min(p.n, q0 + FWD_BQ) : p.n;
    const int tiles = (key_end + BWD_BK - 1) / BWD_BK;
    stage_rows_async(ks, LD_D, K, p.st, 0, BWD_BK, p.n);
    stage_rows_async(vs, LD_D, V, p.st, 0, BWD_BK, p.n);
    cp_async_commit();

    unsigned qa[HEAD_DIM / 16][4], ga[HEAD_DIM / 16][4];
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
        load_a_global(qa[kk], qkv + p.q_off + base, p.st, ra, p.n, kk * 16);
        load_a_global(ga[kk], G, p.o_st, ra, p.n, kk * 16);
    }
    float stat_l[2] = {0.0f, 0.0f}, stat_d[2] = {0.0f, 0.0f};
    if (!SIGMOID) {
        if (ra < p.n) stat_l[0] = lse[(long long)z * p.n + ra], stat_d[0] = delta[(long long)z * p.n + ra];
        if (rb < p.n) stat_l[1] = lse[(long long)z * p.n + rb], stat_d[1] = delta[(long long)z * p.n + rb];
    }
    float dq[HEAD_DIM / 8][4];
#pragma unroll
    for (int dt = 0; dt < HEAD_DIM / 8; ++dt) dq[dt][0] = dq[dt][1] = dq[dt][2] = dq[dt][3] = 0.0f;

    for (int it = 0; it < tiles; ++it) {
        const int k0 = it * BWD_BK;
        const elem_t* kb = ks + (it & 1) * TILE;
        const elem_t* vb = vs + (it & 1) * TILE;
        if (it + 1 < tiles) {
            stage_rows_async(ks + ((it + 1) & 1) * TILE, LD_D, K, p.st, k0 + BWD_BK, BWD_BK, p.n);
            stage_rows_async(vs + ((it + 1) & 1) * TILE, LD_D, V, p.st, k0 + BWD_BK, BWD_BK, p.n);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();

        float s[BWD_BK / 8][4], dp[BWD_BK / 8][4];
#pragma unroll
        for (int nt = 0; nt < BWD_BK / 8; ++nt)
            for (int e = 0; e < 4; ++e) s[nt][e] = dp[nt][e] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
#pragma unroll
            for (int nt = 0; nt < BWD_BK / 8; nt += 2) {
                const int at = ((nt + (lm >> 1)) * 8 + lr) * LD_D + kk * 16 + (lm & 1) * 8;
                unsigned bk[4], bv[4];
                ldmatrix_x4(bk, kb + at);
                mma16816(s[nt], qa[kk], bk[0], bk[1]);
                mma16816(s[nt + 1], qa[kk], bk[2], bk[3]);
                ldmatrix_x4(bv, vb + at);
                mma16816(dp[nt], ga[kk], bv[0], bv[1]);
                mma16816(dp[nt + 1], ga[kk], bv[2], bv[3]);
            }
        }
#pragma unroll
        for (int nt = 0; nt < BWD_BK / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int r = e >> 1, i = r ? rb : ra, j = k0 + nt * 8 + 2 * t + (e & 1);
                float ds = 0.0f;
                if (visible(p, i, j)) {
                    const float x = attn_logit(p, s[nt][e], slope, i, j);
                    const float w = SIGMOID ? sigmoid_fast(x) : __expf(x - stat_l[r]);
                    ds = score_grad<SIGMOID>(p, w, dp[nt][e], stat_d[r]);
                }
                s[nt][e] = ds;
            }
        }
#pragma unroll
        for (int kc = 0; kc < BWD_BK / 16; ++kc) {
            unsigned da[4];
            c_to_a(da, s, kc);
#pragma unroll
            for (int dt = 0; dt < HEAD_DIM / 8; dt += 2) {
                unsigned bk[4];
                ldmatrix_x4_trans(bk, kb + (kc * 16 + (lm & 1) * 8 + lr) * LD_D + (dt + (lm >> 1)) * 8);
                mma16816(dq[dt], da, bk[0], bk[1]);
                mma16816(dq[dt + 1], da, bk[2], bk[3]);
            }
        }
        __syncthreads();
    }

    elem_t* DQ = dqkv + p.q_off + base;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int i = r ? rb : ra;
        if (i >= p.n) continue;
#pragma unroll
        for (int dt = 0; dt < HEAD_DIM / 8; ++dt)
            st2(DQ + (long long)i * p.st + dt * 8 + 2 * t, dq[dt][2 * r], dq[dt][2 * r + 1]);
    }
}

// The softmax statistics (LSE, D) of queries q0.. q0 + BWD_BQ into shared memory (0 past n).
__device__ __forceinline__ void stage_stats(float* ls, float* dls, const float* lse, const float* delta,
                                            long long zoff, int q0, int n) {
    if (threadIdx.x < BWD_BQ) {
        const int i = q0 + threadIdx.x;
        ls[threadIdx.x] = i < n ? lse[zoff + i] : 0.0f;
        dls[threadIdx.x] = i < n ? delta[zoff + i] : 0.0f;
    }
}

// ---------------------------------------------------------------------------------------------
// dK, dV: per key block (16 keys per warp), over query blocks. Shared: K, V [BWD_BKV][LD_D];
// two buffers of Q and dO [BWD_BQ][LD_D] (copied ahead) and of LSE, D [BWD_BQ]. Every operand is
// row-major; ldmatrix transposes Q and dO where they are the reduction side.
template <bool SIGMOID>
__device__ void attn_backward_dkdv(const elem_t* __restrict__ qkv, const elem_t* __restrict__ dout,
                                   elem_t* __restrict__ dqkv, const float* __restrict__ lse,
                                   const float* __restrict__ delta, const AttnParams& p) {
    DYNAMIC_SHARED(smem_raw);
    constexpr int QTILE = BWD_BQ * LD_D;
    elem_t* ks = reinterpret_cast<elem_t*>(smem_raw);       // [BWD_BKV][LD_D]
    elem_t* vs = ks + BWD_BKV * LD_D;                         // [BWD_BKV][LD_D]
    elem_t* qs = vs + BWD_BKV * LD_D;                         // [2][BWD_BQ][LD_D]
    elem_t* gs = qs + 2 * QTILE;                              // [2][BWD_BQ][LD_D]
    float* ls = reinterpret_cast<float*>(gs + 2 * QTILE);    // [2][BWD_BQ]
    float* dls = ls + 2 * BWD_BQ;                             // [2][BWD_BQ]
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int lm = lane >> 3, lr = lane & 7;
    const BlockHead hd = block_head(p);
    const int z = hd.z;
    const int k0 = blockIdx.x * BWD_BKV;  // the longest causal blocks (small k0) first
    const int ja = k0 + warp * 16 + g, jb = ja + 8;
    const long long base = hd.qkv, zoff = (long long)z * p.n;
    const elem_t* Q = qkv + p.q_off + base;
    const elem_t* G = dout + hd.o;
    const float slope = hd.slope;

    // Causal: queries before this block's first key see none of its keys.
    const int q_start = p.causal ? k0 / BWD_BQ * BWD_BQ : 0;
    const int tiles = (p.n - q_start + BWD_BQ - 1) / BWD_BQ;
    stage_rows_async(ks, LD_D, qkv + p.k_off + base, p.st, k0, BWD_BKV, p.n);
    stage_rows_async(vs, LD_D, qkv + p.v_off + base, p.st, k0, BWD_BKV, p.n);
    stage_rows_async(qs, LD_D, Q, p.st, q_start, BWD_BQ, p.n);
    stage_rows_async(gs, LD_D, G, p.o_st, q_start, BWD_BQ, p.n);
    if (!SIGMOID) stage_stats(ls, dls, lse, delta, zoff, q_start, p.n);
    cp_async_commit();

    float dk[HEAD_DIM / 8][4], dv[HEAD_DIM / 8][4];
#pragma unroll
    for (int dt = 0; dt < HEAD_DIM / 8; ++dt)
        for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.0f;

    for (int it = 0; it < tiles; ++it) {
        const int q0 = q_start + it * BWD_BQ;
        const elem_t* qb = qs + (it & 1) * QTILE;
        const elem_t* gb = gs + (it & 1) * QTILE;
        const float* lb = ls + (it & 1) * BWD_BQ;
        const float* db = dls + (it & 1) * BWD_BQ;
        if (it + 1 < tiles) {
            const int next = (it + 1) & 1;
            stage_rows_async(qs + next * QTILE, LD_D, Q, p.st, q0 + BWD_BQ, BWD_BQ, p.n);
            stage_rows_async(gs + next * QTILE, LD_D, G, p.o_st, q0 + BWD_BQ, BWD_BQ, p.n);
            if (!SIGMOID) stage_stats(ls + next * BWD_BQ, dls + next * BWD_BQ, lse, delta, zoff, q0 + BWD_BQ, p.n);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();

        // Transposed scores: rows are this warp's 16 keys, columns the block's BWD_BQ queries.
        float s[BWD_BQ / 8][4], dp[BWD_BQ / 8][4];
#pragma unroll
        for (int nt = 0; nt < BWD_BQ / 8; ++nt)
            for (int e = 0; e < 4; ++e) s[nt][e] = dp[nt][e] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
            // A fragments of K and V: matrices (rows 0-7, cols lo), (8-15, lo), (0-7, hi), (8-15, hi).
            const int arow = (warp * 16 + (lm & 1) * 8 + lr) * LD_D + kk * 16 + (lm >> 1) * 8;
            unsigned ka[4], va[4];
            ldmatrix_x4(ka, ks + arow);
            ldmatrix_x4(va, vs + arow);
#pragma unroll
            for (int nt = 0; nt < BWD_BQ / 8; nt += 2) {
                const int at = ((nt + (lm >> 1)) * 8 + lr) * LD_D + kk * 16 + (lm & 1) * 8;
                unsigned bq[4], bg[4];
                ldmatrix_x4(bq, qb + at);
                mma16816(s[nt], ka, bq[0], bq[1]);
                mma16816(s[nt + 1], ka, bq[2], bq[3]);
                ldmatrix_x4(bg, gb + at);
                mma16816(dp[nt], va, bg[0], bg[1]);
                mma16816(dp[nt + 1], va, bg[2], bg[3]);
            }
        }
#pragma unroll
        for (int nt = 0; nt < BWD_BQ / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int j = e < 2 ? ja : jb, c = nt * 8 + 2 * t + (e & 1), i = q0 + c;
                float w = 0.0f, ds = 0.0f;
                if (visible(p, i, j)) {
                    const float x = attn_logit(p, s[nt][e], slope, i, j);
                    w = SIGMOID ? sigmoid_fast(x) : __expf(x - lb[c]);
                    ds = score_grad<SIGMOID>(p, w, dp[nt][e], db[c]);
                }
                s[nt][e] = w;
                dp[nt][e] = ds;
            }
        }
#pragma unroll
        for (int kc = 0; kc < BWD_BQ / 16; ++kc) {
            unsigned pa[4], da[4];
            c_to_a(pa, s, kc);
            c_to_a(da, dp, kc);
#pragma unroll
            for (int dt = 0; dt < HEAD_DIM / 8; dt += 2) {
                const int at = (kc * 16 + (lm & 1) * 8 + lr) * LD_D + (dt + (lm >> 1)) * 8;
                unsigned bg[4], bq[4];
                ldmatrix_x4_trans(bg, gb + at);
                mma16816(dv[dt], pa, bg[0], bg[1]);
                mma16816(dv[dt + 1], pa, bg[2], bg[3]);
                ldmatrix_x4_trans(bq, qb + at);
                mma16816(dk[dt], da, bq[0], bq[1]);
                mma16816(dk[dt + 1], da, bq[2], bq[3]);
            }
        }
        __syncthreads();
    }

    elem_t* DK = dqkv + p.k_off + base;
    elem_t* DV = dqkv + p.v_off + base;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int j = r ? jb : ja;
        if (j >= p.n) continue;
#pragma unroll
        for (int dt = 0; dt < HEAD_DIM / 8; ++dt) {
            st2(DK + (long long)j * p.st + dt * 8 + 2 * t, dk[dt][2 * r], dk[dt][2 * r + 1]);
            st2(DV + (long long)j * p.st + dt * 8 + 2 * t, dv[dt][2 * r], dv[dt][2 * r + 1]);
        }
    }
}
