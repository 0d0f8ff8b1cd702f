//! f64 oracle for the augmentation kernel, written straight from its definition.

use crate::ops::augment::{VIEW_PARAMS, noise};

/// Views (views × out_size² × 3) of `images` (n × in_size² × 3) through `src` and `view`.
pub fn augment(
    images: &[f64],
    in_size: usize,
    src: &[u32],
    view: &[f64],
    out_size: usize,
    noise_std: f64,
    seed: u32,
) -> Vec<f64> {
    let pixel = |img: usize, x: f64, y: f64| -> [f64; 3] {
        let clamp = |v: f64| v.clamp(0.0, (in_size - 1) as f64) as usize;
        let at = |x: f64, y: f64, k: usize| images[((img * in_size + clamp(y)) * in_size + clamp(x)) * 3 + k];
        let (x0, y0) = (x.floor(), y.floor());
        let (tx, ty) = (x - x0, y - y0);
        [0, 1, 2].map(|k| {
            let top = at(x0, y0, k) * (1.0 - tx) + at(x0 + 1.0, y0, k) * tx;
            let bottom = at(x0, y0 + 1.0, k) * (1.0 - tx) + at(x0 + 1.0, y0 + 1.0, k) * tx;
            top * (1.0 - ty) + bottom * ty
        })
    };
    let mut out = Vec::with_capacity(src.len() * out_size * out_size * 3);
    for (v, &img) in src.iter().enumerate() {
        let p = &view[v * VIEW_PARAMS..(v + 1) * VIEW_PARAMS];
        for oy in 0..out_size {
            for ox in 0..out_size {
                let mut fx = (ox as f64 + 0.5) / out_size as f64;
                if p[4] != 0.0 {
                    fx = 1.0 - fx;
                }
                let fy = (oy as f64 + 0.5) / out_size as f64;
                let c = pixel(img as usize, p[0] + fx * p[2] - 0.5, p[1] + fy * p[3] - 0.5).map(|c| c * p[5]);
                let gray = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
                for ck in c {
                    let e = out.len() as u32;
                    let jittered = ((gray + (ck - gray) * p[7] - 0.5) * p[6] + 0.5).clamp(0.0, 1.0);
                    out.push(jittered + noise_std * noise(seed, e) as f64);
                }
            }
        }
    }
    out
}
