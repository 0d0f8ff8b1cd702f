// augment.wgsl — the contrastive demo's data augmentations, one output pixel per invocation:
// random resized crop (bilinear, edges clamped), horizontal flip, colour jitter (brightness,
// saturation, contrast) and additive noise from a counter-based hash (no RNG state).
//
// Sources: `images`, n_images × in_size × in_size × 3 (height, width, RGB). View v reads
// image src[v] through its 8 parameters view[v·8 ..]:
//   x0, y0, w, h   crop box in source pixels (continuous; pixel centres at k + 0.5)
//   flip           1 mirrors the view left-right
//   brightness, contrast, saturation   multipliers (1 = unchanged)
// Output: views × out_size × out_size × 3, the encoder's input rows.
//   c = bilinear(src, crop) · brightness
//   c = gray + (c − gray) · saturation          gray = 0.299 r + 0.587 g + 0.114 b
//   c = clamp((c − 0.5) · contrast + 0.5, 0, 1) + noise_std · ν
// with ν = u₁ + u₂ + u₃ − 1.5 from three hashes of (seed, element): mean 0, variance 1/4.

struct Params {
    views: u32, in_size: u32, out_size: u32, seed: u32,
    noise_std: f32, _f0: f32, _f1: f32, _f2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> images: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read> view: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// PCG-style integer hash (Jarzynski & Olano 2020).
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// A uniform in [0, 1) from 24 bits of the hash of (seed, element, draw).
fn hashed_unit(element: u32, draw: u32) -> f32 {
    return f32(pcg(p.seed ^ pcg(element * 3u + draw)) >> 8u) / 16777216.0;
}

fn texel(base: u32, x: i32, y: i32) -> vec3<f32> {
    let last = i32(p.in_size) - 1;
    let cx = u32(clamp(x, 0, last));
    let cy = u32(clamp(y, 0, last));
    let i = base + (cy * p.in_size + cx) * 3u;
    return vec3<f32>(images[i], images[i + 1u], images[i + 2u]);
}

@compute @workgroup_size(64)
fn augment(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let idx = (wg.x + wg.y * nwg.x) * 64u + lid.x;
    let per_view = p.out_size * p.out_size;
    if (idx >= p.views * per_view) {
        return;
    }
    let v = idx / per_view;
    let oy = (idx % per_view) / p.out_size;
    let ox = idx % p.out_size;
    let vp = v * 8u;
    var fx = (f32(ox) + 0.5) / f32(p.out_size);
    if (view[vp + 4u] != 0.0) {
        fx = 1.0 - fx;
    }
    let fy = (f32(oy) + 0.5) / f32(p.out_size);
    let sx = view[vp] + fx * view[vp + 2u] - 0.5;
    let sy = view[vp + 1u] + fy * view[vp + 3u] - 0.5;
    let x0 = floor(sx);
    let y0 = floor(sy);
    let tx = sx - x0;
    let ty = sy - y0;
    let base = src[v] * p.in_size * p.in_size * 3u;
    let xi = i32(x0);
    let yi = i32(y0);
    let top = mix(texel(base, xi, yi), texel(base, xi + 1, yi), tx);
    let bottom = mix(texel(base, xi, yi + 1), texel(base, xi + 1, yi + 1), tx);
    var c = mix(top, bottom, ty) * view[vp + 5u];
    let gray = dot(c, vec3<f32>(0.299, 0.587, 0.114));
    c = gray + (c - gray) * view[vp + 7u];
    c = clamp((c - 0.5) * view[vp + 6u] + 0.5, vec3<f32>(0.0), vec3<f32>(1.0));
    for (var k = 0u; k < 3u; k++) {
        let e = idx * 3u + k;
        let nu = hashed_unit(e, 0u) + hashed_unit(e, 1u) + hashed_unit(e, 2u) - 1.5;
        out[e] = c[k] + p.noise_std * nu;
    }
}
