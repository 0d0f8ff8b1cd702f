// A CPU emulation of the little of CUDA the attention kernels use, so their logic (tiling,
// masks, online softmax, and above all the mma.sync fragment layouts and shuffles) is checked
// against the f64 reference on machines without a GPU. A block runs as one OS thread per CUDA
// thread; __syncthreads, warp shuffles and the warp-collective MMA are barriers; shared memory
// is a buffer poisoned with NaN bits before each block. Blocks run one after another.
//
// The MMA follows the PTX ISA's fragment layout of mma.m16n8k16 (see attention_mma.cu), with
// products of the 16-bit inputs summed in f32.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define SIGMIX_EMULATE 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(x)
#define __shared__ static

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
struct uint4 {
    unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

inline thread_local dim3 threadIdx;
inline dim3 blockIdx, blockDim, gridDim;

struct EmuWarp {
    std::barrier<> sync{32};
    uint32_t a[32][4];
    uint32_t b[32][2];
    float v[32];
    const unsigned short* rows[32];
};

struct EmuBlock {
    explicit EmuBlock(unsigned threads, size_t shared_bytes)
        : block(threads), warps(threads / 32), shared((shared_bytes + 15) / 16) {}
    std::barrier<> block;
    std::vector<EmuWarp> warps;
    std::vector<uint4> shared;
};
inline EmuBlock* emu_block = nullptr;

inline unsigned emu_lane() { return threadIdx.x & 31; }
inline EmuWarp& emu_warp() { return emu_block->warps[threadIdx.x >> 5]; }
inline void __syncthreads() { emu_block->block.arrive_and_wait(); }

inline float __shfl_xor_sync(unsigned, float v, int mask) {
    EmuWarp& w = emu_warp();
    w.v[emu_lane()] = v;
    w.sync.arrive_and_wait();
    const float r = w.v[emu_lane() ^ mask];
    w.sync.arrive_and_wait();
    return r;
}

inline float __uint_as_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline float __int_as_float(int i) { return __uint_as_float((unsigned)i); }
inline float __expf(float x) { return expf(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

#if defined(ELEM_F16)
inline uint16_t emu_round(float x) {
    _Float16 h = (_Float16)x;
    uint16_t bits;
    std::memcpy(&bits, &h, 2);
    return bits;
}
inline float to_f32(unsigned short x) {
    _Float16 h;
    std::memcpy(&h, &x, 2);
    return (float)h;
}
#else
inline uint16_t emu_round(float x) {  // f32 -> bf16, round to nearest even
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
inline float to_f32(unsigned short x) { return __uint_as_float((unsigned)x << 16); }
#endif

inline unsigned pack2(float lo, float hi) { return emu_round(lo) | ((unsigned)emu_round(hi) << 16); }
inline float sigmoid_fast(float x) { return 0.5f + 0.5f * tanhf(0.5f * x); }
inline float emu_elem(uint32_t reg, int high) { return to_f32((unsigned short)(high ? reg >> 16 : reg & 0xffffu)); }

// C += A * B, m16n8k16, collective over the warp.
inline void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    EmuWarp& w = emu_warp();
    const unsigned lane = emu_lane();
    for (int r = 0; r < 4; ++r) w.a[lane][r] = a[r];
    w.b[lane][0] = b0;
    w.b[lane][1] = b1;
    w.sync.arrive_and_wait();
    const int g = lane >> 2, t = lane & 3;
    for (int e = 0; e < 4; ++e) {
        const int row = g + (e >= 2 ? 8 : 0), col = 2 * t + (e & 1);
        float acc = c[e];
        for (int k = 0; k < 16; ++k) {
            const uint32_t ar = w.a[(row % 8) * 4 + (k % 8) / 2][(row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)];
            const uint32_t br = w.b[col * 4 + (k % 8) / 2][k >= 8 ? 1 : 0];
            acc += emu_elem(ar, k & 1) * emu_elem(br, k & 1);
        }
        c[e] = acc;
    }
    w.sync.arrive_and_wait();
}

// ldmatrix .x4: lane l addresses row l % 8 of matrix l / 8; register i of lane l holds row l / 4,
// columns 2(l % 4) and 2(l % 4) + 1 of matrix i, or with .trans column l / 4, rows 2(l % 4), +1.
inline void emu_ldmatrix(unsigned (&r)[4], const unsigned short* row, bool trans) {
    EmuWarp& w = emu_warp();
    const unsigned lane = emu_lane();
    w.rows[lane] = row;
    w.sync.arrive_and_wait();
    for (int i = 0; i < 4; ++i) {
        if (trans) {
            const unsigned short* r0 = w.rows[i * 8 + 2 * (lane % 4)];
            const unsigned short* r1 = w.rows[i * 8 + 2 * (lane % 4) + 1];
            r[i] = r0[lane / 4] | ((unsigned)r1[lane / 4] << 16);
        } else {
            const unsigned short* src = w.rows[i * 8 + lane / 4];
            r[i] = src[2 * (lane % 4)] | ((unsigned)src[2 * (lane % 4) + 1] << 16);
        }
    }
    w.sync.arrive_and_wait();
}
inline void ldmatrix_x4(unsigned (&r)[4], const unsigned short* row) { emu_ldmatrix(r, row, false); }
inline void ldmatrix_x4_trans(unsigned (&r)[4], const unsigned short* row) { emu_ldmatrix(r, row, true); }

// cp.async as a plain copy (zeros when src_bytes is 0); groups complete at once.
inline void cp_async16(void* dst, const void* src, int src_bytes) {
    if (src_bytes == 16) {
        std::memcpy(dst, src, 16);
    } else {
        std::memset(dst, 0, 16);
    }
}
inline void cp_async_commit() {}
template <int N>
inline void cp_async_wait() {}

#define DYNAMIC_SHARED(name) uint4* name = emu_block->shared.data()

// Runs `kernel` over the grid, one block at a time.
template <typename... Params, typename... Args>
void emu_launch(void (*kernel)(Params...), dim3 grid, unsigned threads, size_t shared_bytes, Args... args) {
    gridDim = grid;
    blockDim = dim3{threads, 1, 1};
    for (unsigned y = 0; y < grid.y; ++y) {
        for (unsigned x = 0; x < grid.x; ++x) {
            EmuBlock block(threads, shared_bytes);
            std::memset(block.shared.data(), 0xff, block.shared.size() * sizeof(uint4));  // NaN bits
            emu_block = &block;
            blockIdx = dim3{x, y, 1};
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < threads; ++t) {
                pool.emplace_back([=] {
                    threadIdx = dim3{t, 0, 0};
                    kernel(args...);
                });
            }
            for (auto& th : pool) th.join();
            emu_block = nullptr;
        }
    }
}
