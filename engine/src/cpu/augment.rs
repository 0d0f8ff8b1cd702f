//! CPU twin of `shaders/augment.wgsl`: the same crop, flip, jitter and hashed noise per pixel.

use rayon::prelude::*;

use crate::cpu::kernel;
use crate::error::Result;
use crate::ops::augment::{AugmentShape, VIEW_PARAMS, noise};
use crate::tensor::Tensor;

fn texel(img: &[f32], size: usize, x: i64, y: i64) -> [f32; 3] {
    let last = size as i64 - 1;
    let (cx, cy) = (x.clamp(0, last) as usize, y.clamp(0, last) as usize);
    let i = (cy * size + cx) * 3;
    [img[i], img[i + 1], img[i + 2]]
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|k| a[k] * (1.0 - t) + b[k] * t)
}

pub(crate) fn augment(images: &Tensor, src: &Tensor, view: &Tensor, out: &Tensor, s: &AugmentShape) -> Result<()> {
    let (n_in, n_out) = (s.in_size, s.out_size);
    let image_len = n_in * n_in * 3;
    kernel("augment", [images, src, view], [out], |[images, src, view], [out]| {
        let src: &[u32] = bytemuck::cast_slice(src);
        out.par_chunks_mut(3).enumerate().for_each(|(idx, px)| {
            let v = idx / (n_out * n_out);
            let (oy, ox) = ((idx % (n_out * n_out)) / n_out, idx % n_out);
            let vp = &view[v * VIEW_PARAMS..(v + 1) * VIEW_PARAMS];
            let mut fx = (ox as f32 + 0.5) / n_out as f32;
            if vp[4] != 0.0 {
                fx = 1.0 - fx;
            }
            let fy = (oy as f32 + 0.5) / n_out as f32;
            let (sx, sy) = (vp[0] + fx * vp[2] - 0.5, vp[1] + fy * vp[3] - 0.5);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (tx, ty) = (sx - x0, sy - y0);
            let start = (src[v] as usize * image_len).min(images.len().saturating_sub(image_len));
            let img = &images[start..start + image_len];
            let (xi, yi) = (x0 as i64, y0 as i64);
            let top = mix(texel(img, n_in, xi, yi), texel(img, n_in, xi + 1, yi), tx);
            let bottom = mix(texel(img, n_in, xi, yi + 1), texel(img, n_in, xi + 1, yi + 1), tx);
            let c = mix(top, bottom, ty).map(|c| c * vp[5]);
            let gray = c[0] * 0.299 + c[1] * 0.587 + c[2] * 0.114;
            for k in 0..3 {
                let sat = gray + (c[k] - gray) * vp[7];
                let e = (idx * 3 + k) as u32;
                px[k] = ((sat - 0.5) * vp[6] + 0.5).clamp(0.0, 1.0) + s.noise_std * noise(s.seed, e);
            }
        });
    })
}
