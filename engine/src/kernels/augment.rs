//! Launcher for `shaders/augment.wgsl`: random resized crops, flips, colour jitter and noise
//! of source images into encoder input rows, on the device (only 8 floats per view travel).

use crate::cpu;
use crate::error::{Error, Result};
use crate::gpu::{Access, KernelSpec};
use crate::kernels::{expect_shape, groups_for, u32_of};
pub use crate::ops::augment::{AugmentShape, VIEW_PARAMS, noise, pcg};
use crate::recorder::{Exec, Recorder};
use crate::rng::Rng;
use crate::tensor::Tensor;

const AUGMENT: KernelSpec = KernelSpec {
    shader: "augment",
    entry: "augment",
    storage: &[(1, Access::Read), (2, Access::Read), (3, Access::Read), (4, Access::ReadWrite)],
};

/// One view's augmentation: crop box (source pixels), flip and colour multipliers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewParams {
    /// Crop box left and top edges and its width and height, in source pixels.
    pub crop: [f32; 4],
    /// Mirror left-right.
    pub flip: bool,
    /// Brightness multiplier.
    pub brightness: f32,
    /// Contrast multiplier around mid-grey.
    pub contrast: f32,
    /// Saturation multiplier around the pixel's grey.
    pub saturation: f32,
}

impl ViewParams {
    /// The whole image, unchanged (for evaluation).
    pub fn identity(in_size: usize) -> ViewParams {
        let s = in_size as f32;
        ViewParams { crop: [0.0, 0.0, s, s], flip: false, brightness: 1.0, contrast: 1.0, saturation: 1.0 }
    }

    /// The 8 floats the shader reads.
    pub fn to_floats(&self) -> [f32; VIEW_PARAMS] {
        let [x, y, w, h] = self.crop;
        [x, y, w, h, self.flip as u8 as f32, self.brightness, self.contrast, self.saturation]
    }
}

/// How strong the random views are.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Smallest crop area as a fraction of the image (the largest is the whole image).
    pub min_crop_area: f32,
    /// Colour multipliers are drawn from [1 − jitter, 1 + jitter].
    pub jitter: f32,
    /// Standard deviation of the additive pixel noise.
    pub noise_std: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig { min_crop_area: 0.35, jitter: 0.4, noise_std: 0.05 }
    }
}

impl AugmentConfig {
    /// One random view of an `in_size`² image: a crop of random area and aspect ratio
    /// (3/4..4/3) at a random place, a coin-flip mirror, and colour multipliers.
    pub fn draw(&self, rng: &mut Rng, in_size: usize) -> ViewParams {
        let s = in_size as f64;
        let area = s * s * (self.min_crop_area as f64 + (1.0 - self.min_crop_area as f64) * rng.uniform());
        let aspect = (0.75f64.ln() + (4.0f64 / 3.0 / 0.75).ln() * rng.uniform()).exp();
        let w = (area * aspect).sqrt().min(s);
        let h = (area / aspect).sqrt().min(s);
        let x = (s - w) * rng.uniform();
        let y = (s - h) * rng.uniform();
        let mut jitter = || (1.0 + self.jitter as f64 * (2.0 * rng.uniform() - 1.0)) as f32;
        let (brightness, contrast, saturation) = (jitter(), jitter(), jitter());
        let flip = rng.uniform() < 0.5;
        ViewParams { crop: [x as f32, y as f32, w as f32, h as f32], flip, brightness, contrast, saturation }
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        let ok = (0.05..=1.0).contains(&self.min_crop_area)
            && (0.0..1.0).contains(&self.jitter)
            && (0.0..=1.0).contains(&self.noise_std);
        if !ok {
            return Err(Error::Config(format!(
                "augmentations {self:?}: min_crop_area must be in 0.05..=1, jitter in 0..1, noise_std in 0..=1"
            )));
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    views: u32,
    in_size: u32,
    out_size: u32,
    seed: u32,
    noise_std: f32,
    _f: [f32; 3],
}

/// Writes `out` (views × out_size² × 3) from `images` (n × in_size² × 3) through the views'
/// source indices `src` (u32, one per view) and parameters `view` (views × 8).
pub fn augment(
    rec: &mut Recorder,
    images: &Tensor,
    src: &Tensor,
    view: &Tensor,
    out: &Tensor,
    s: &AugmentShape,
) -> Result<()> {
    const OP: &str = "augment";
    if s.in_size == 0 || s.out_size == 0 || s.views == 0 {
        return Err(Error::Config(format!("{OP}: sizes and view count must be positive, got {s:?}")));
    }
    let image_len = s.in_size * s.in_size * 3;
    if images.is_empty() || !images.len().is_multiple_of(image_len) {
        return Err(Error::Config(format!(
            "{OP}: images hold {} floats, not a whole number of {}×{}×3 images",
            images.len(),
            s.in_size,
            s.in_size
        )));
    }
    expect_shape(OP, "src", src, &[s.views])?;
    expect_shape(OP, "view", view, &[s.views, VIEW_PARAMS])?;
    expect_shape(OP, "out", out, &[s.views, s.out_size * s.out_size * 3])?;
    let p = Params {
        views: u32_of(OP, "views", s.views)?,
        in_size: u32_of(OP, "in_size", s.in_size)?,
        out_size: u32_of(OP, "out_size", s.out_size)?,
        seed: s.seed,
        noise_std: s.noise_std,
        _f: [0.0; 3],
    };
    match rec.exec(OP, &[images, src, view, out])? {
        Exec::Gpu(g) => {
            let groups = groups_for(g.gpu(), s.views * s.out_size * s.out_size, 64);
            let b = [images.binding()?, src.binding()?, view.binding()?, out.binding()?];
            g.dispatch(&AUGMENT, &[], &p, &b, groups)
        }
        Exec::Cpu => cpu::augment::augment(images, src, view, out, s),
    }
}
