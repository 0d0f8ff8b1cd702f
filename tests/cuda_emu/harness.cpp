// Runs the attention kernels under cuda_emu.h on one problem read from a file and writes O and
// dQ, dK, dV back (tests/tests/cuda.rs drives it). Built with -DHEAD_DIM=d, and -DSIGMIX_F32 for
// the f32 kernels or -DELEM_F16 for the f16 ones (bf16 otherwise).
//
// Input: int32 batch, heads, n, d, kind (0 sigmoid, 1 softmax), causal, alibi, then int32 shared
// memory bytes of the forward, dQ and dK/dV kernels, float32 bias, float32 QKV (3*B*H*n*d) and
// dO (B*H*n*d), packed (B, H, n, d). Output: float32 O then dQKV.
#include <cstdio>
#include <cstdlib>

#include "cuda_emu.h"
#include "attention_common.cuh"
#ifdef SIGMIX_F32
#include "attention_f32.cu"
const unsigned THREADS_PER_BLOCK = 64;
static elem_t to_elem(float x) { return x; }
static float from_elem(elem_t x) { return x; }
#else
#include "attention_mma.cu"
const unsigned THREADS_PER_BLOCK = 128;
static elem_t to_elem(float x) { return emu_round(x); }
static float from_elem(elem_t x) { return to_f32(x); }
#endif
#include "attention_entries.cuh"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <input> <output>\n", argv[0]);
        return 2;
    }
    FILE* in = std::fopen(argv[1], "rb");
    if (!in) return 3;
    int hdr[10];
    float bias;
    if (std::fread(hdr, 4, 10, in) != 10 || std::fread(&bias, 4, 1, in) != 1) return 4;
    const int batch = hdr[0], heads = hdr[1], n = hdr[2], d = hdr[3], kind = hdr[4];
    if (d != HEAD_DIM) return 5;
    const size_t one = (size_t)batch * heads * n * d, stats = (size_t)batch * heads * n;
    std::vector<float> qkv_f(3 * one), dout_f(one);
    if (std::fread(qkv_f.data(), 4, 3 * one, in) != 3 * one || std::fread(dout_f.data(), 4, one, in) != one) return 6;
    std::fclose(in);

    std::vector<elem_t> qkv(3 * one), dout(one), o(one, to_elem(NAN)), dqkv(3 * one, to_elem(NAN));
    for (size_t i = 0; i < 3 * one; ++i) qkv[i] = to_elem(qkv_f[i]);
    for (size_t i = 0; i < one; ++i) dout[i] = to_elem(dout_f[i]);
    std::vector<float> lse(stats, NAN), delta(stats, NAN);

    AttnParams p{};
    p.n = n, p.d = d, p.heads = heads, p.causal = hdr[5], p.alibi = hdr[6];
    p.scale = 1.0f / std::sqrt((float)d), p.bias = bias;
    p.st = d, p.sh = (long long)n * d, p.sb = (long long)heads * n * d;
    p.q_off = 0, p.k_off = (long long)one, p.v_off = 2 * (long long)one;
    p.o_st = p.st, p.o_sh = p.sh, p.o_sb = p.sb;

    const dim3 grid{(unsigned)((n + 63) / 64), (unsigned)(batch * heads), 1};
    const bool sig = kind == 0;
    emu_launch(sig ? sigmoid_forward : softmax_forward, grid, THREADS_PER_BLOCK, hdr[7], qkv.data(), o.data(),
               lse.data(), p);
    if (!sig) {
        const dim3 prep{(unsigned)((n + 127) / 128), (unsigned)(batch * heads), 1};
        emu_launch(softmax_backward_prep, prep, 128, 0, o.data(), dout.data(), delta.data(), p);
    }
    emu_launch(sig ? sigmoid_backward_dq : softmax_backward_dq, grid, THREADS_PER_BLOCK, hdr[8], qkv.data(),
               dout.data(), dqkv.data(), lse.data(), delta.data(), p);
    emu_launch(sig ? sigmoid_backward_dkdv : softmax_backward_dkdv, grid, THREADS_PER_BLOCK, hdr[9], qkv.data(),
               dout.data(), dqkv.data(), lse.data(), delta.data(), p);

    FILE* out = std::fopen(argv[2], "wb");
    if (!out) return 7;
    for (auto x : o) {
        const float f = from_elem(x);
        std::fwrite(&f, 4, 1, out);
    }
    for (auto x : dqkv) {
        const float f = from_elem(x);
        std::fwrite(&f, 4, 1, out);
    }
    std::fclose(out);
    return 0;
}
