// tile_8x16.wgsl — the 8 × 16 register tile of matmul_wide and moe_matmul_wide, concatenated
// in front of their files (WGSL has no includes). contrastive_pairs.wgsl writes the same update
// out by hand: through this helper its backward ran 1.34x slower on SwiftShader (1214 -> 1631
// ms at B·M = 4,096), while the matmuls ran as fast or faster on both software adapters.
//
// Row a of the tile is m_a, its columns 4h..4h+4 in m_a[h]: eight named 4 × 4 matrices, not an
// indexed array (SwiftShader keeps an indexed private array in memory: such a version of the
// wide matmul ran 3x slower there).
struct Tile8x16 {
    m0: mat4x4<f32>,
    m1: mat4x4<f32>,
    m2: mat4x4<f32>,
    m3: mat4x4<f32>,
    m4: mat4x4<f32>,
    m5: mat4x4<f32>,
    m6: mat4x4<f32>,
    m7: mat4x4<f32>,
}

// One step of k: the tile += rows (lo, hi) ⊗ the sixteen columns `bm` (four vec4s), 128
// multiply-adds.
fn tile_add(t: ptr<function, Tile8x16>, lo: vec4<f32>, hi: vec4<f32>, bm: mat4x4<f32>) {
    (*t).m0 += lo.x * bm;
    (*t).m1 += lo.y * bm;
    (*t).m2 += lo.z * bm;
    (*t).m3 += lo.w * bm;
    (*t).m4 += hi.x * bm;
    (*t).m5 += hi.y * bm;
    (*t).m6 += hi.z * bm;
    (*t).m7 += hi.w * bm;
}
