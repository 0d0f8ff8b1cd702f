//! Every WGSL file of the engine, embedded at build time and registered by name.

/// (name, source) of every shader in `shaders/`; the naga test walks this list too.
pub const ALL: &[(&str, &str)] = &[
    // The wide register tile of the two matmul files, concatenated in front (WGSL has no
    // includes; contrastive_pairs.wgsl writes its tiles out, see there).
    ("tile_8x16", include_str!("../../../shaders/tile_8x16.wgsl")),
    ("matmul", concat!(include_str!("../../../shaders/tile_8x16.wgsl"), include_str!("../../../shaders/matmul.wgsl"))),
    ("elementwise", include_str!("../../../shaders/elementwise.wgsl")),
    ("embedding", include_str!("../../../shaders/embedding.wgsl")),
    ("optim", include_str!("../../../shaders/optim.wgsl")),
    ("moe", include_str!("../../../shaders/moe.wgsl")),
    (
        "moe_matmul",
        concat!(include_str!("../../../shaders/tile_8x16.wgsl"), include_str!("../../../shaders/moe_matmul.wgsl")),
    ),
    ("contrastive", include_str!("../../../shaders/contrastive.wgsl")),
    ("contrastive_pairs", include_str!("../../../shaders/contrastive_pairs.wgsl")),
    ("augment", include_str!("../../../shaders/augment.wgsl")),
    // The row kernels share their workgroup reductions, concatenated in front (WGSL has no
    // includes).
    ("row_reduce", include_str!("../../../shaders/row_reduce.wgsl")),
    (
        "softmax",
        concat!(include_str!("../../../shaders/row_reduce.wgsl"), include_str!("../../../shaders/softmax.wgsl")),
    ),
    ("norm", concat!(include_str!("../../../shaders/row_reduce.wgsl"), include_str!("../../../shaders/norm.wgsl"))),
    (
        "cross_entropy",
        concat!(include_str!("../../../shaders/row_reduce.wgsl"), include_str!("../../../shaders/cross_entropy.wgsl")),
    ),
    ("byol", concat!(include_str!("../../../shaders/row_reduce.wgsl"), include_str!("../../../shaders/byol.wgsl"))),
    ("bayes", concat!(include_str!("../../../shaders/row_reduce.wgsl"), include_str!("../../../shaders/bayes.wgsl"))),
    (
        "distill",
        concat!(include_str!("../../../shaders/row_reduce.wgsl"), include_str!("../../../shaders/distill.wgsl")),
    ),
    (
        "entropy",
        concat!(include_str!("../../../shaders/row_reduce.wgsl"), include_str!("../../../shaders/entropy.wgsl")),
    ),
    // The attention kernels share a prelude, concatenated here (WGSL has no includes).
    ("attention_common", include_str!("../../../shaders/attention_common.wgsl")),
    (
        "attention_sigmoid",
        concat!(
            include_str!("../../../shaders/attention_common.wgsl"),
            include_str!("../../../shaders/attention_sigmoid.wgsl")
        ),
    ),
    (
        "attention_softmax",
        concat!(
            include_str!("../../../shaders/attention_common.wgsl"),
            include_str!("../../../shaders/attention_softmax.wgsl")
        ),
    ),
];

/// The source of shader `name`, if registered.
pub fn source(name: &str) -> Option<&'static str> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
