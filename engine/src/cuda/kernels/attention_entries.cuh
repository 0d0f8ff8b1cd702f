// The kernels' entry points, shared by attention_f32.cu and attention_mma.cu (appended after
// either): each defines elem_t, to_f32, BLOCK_THREADS and the templates attn_forward,
// attn_backward_dq and attn_backward_dkdv.

// D_i = rowsum(dO_i * O_i) in f32, the softmax backward's per-row term; one thread per row, any
// block size.
extern "C" __global__ void softmax_backward_prep(const elem_t* __restrict__ o, const elem_t* __restrict__ dout,
                                                 float* __restrict__ delta, AttnParams p) {
    const BlockHead hd = block_head(p);
    const int z = hd.z;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= p.n) return;
    const long long at = hd.o + (long long)i * p.o_st;
    float s = 0.0f;
    for (int c = 0; c < HEAD_DIM; ++c) s = fmaf(to_f32(o[at + c]), to_f32(dout[at + c]), s);
    delta[(long long)z * p.n + i] = s;
}

extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    sigmoid_forward(const elem_t* qkv, elem_t* o, float* lse, AttnParams p) {
    attn_forward<true>(qkv, o, lse, p);
}
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS)
    softmax_forward(const elem_t* qkv, elem_t* o, float* lse, AttnParams p) {
    attn_forward<false>(qkv, o, lse, p);
}
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) sigmoid_backward_dq(
    const elem_t* qkv, const elem_t* dout, elem_t* dqkv, const float* lse, const float* delta, AttnParams p) {
    attn_backward_dq<true>(qkv, dout, dqkv, lse, delta, p);
}
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) softmax_backward_dq(
    const elem_t* qkv, const elem_t* dout, elem_t* dqkv, const float* lse, const float* delta, AttnParams p) {
    attn_backward_dq<false>(qkv, dout, dqkv, lse, delta, p);
}
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) sigmoid_backward_dkdv(
    const elem_t* qkv, const elem_t* dout, elem_t* dqkv, const float* lse, const float* delta, AttnParams p) {
    attn_backward_dkdv<true>(qkv, dout, dqkv, lse, delta, p);
}
extern "C" __global__ void __launch_bounds__(BLOCK_THREADS) softmax_backward_dkdv(
    const elem_t* qkv, const elem_t* dout, elem_t* dqkv, const float* lse, const float* delta, AttnParams p) {
    attn_backward_dkdv<false>(qkv, dout, dqkv, lse, delta, p);
}
