//! One procedural image and M augmented views of it, made by the same kernel training uses:
//! what the lab shows so a user sees what "a view" means.

use crate::data::ShapeImages;
use crate::error::Result;
use crate::kernels::augment::{AugmentConfig, AugmentShape, VIEW_PARAMS, augment};
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::tensor::{DType, Device, Tensor};

/// A source image and its views, RGB floats in rows of pixels.
#[derive(Clone, Debug)]
pub struct ViewPreview {
    /// Shape class of the image (index into `data::SHAPE_CLASSES`).
    pub class: usize,
    /// Side of the source image.
    pub source_size: usize,
    /// source_size² × 3 floats.
    pub source: Vec<f32>,
    /// Side of each view.
    pub view_size: usize,
    /// One view_size² × 3 block per view.
    pub views: Vec<Vec<f32>>,
}

/// Draws image `seed` and `views` random views of it on `device`.
pub fn preview_views(
    device: &Device,
    aug: &AugmentConfig,
    image_size: usize,
    view_size: usize,
    views: usize,
    seed: u64,
) -> Result<ViewPreview> {
    aug.validate()?;
    // generate() cycles through the classes from 0: draw up to the seed's class, keep the last.
    let class = (seed % crate::data::SHAPE_CLASSES.len() as u64) as usize;
    let many = ShapeImages::generate(class + 1, image_size, seed);
    let img = ShapeImages {
        size: image_size,
        pixels: many.pixels[class * many.image_len()..].to_vec(),
        labels: vec![class as u32],
    };
    let mut rng = Rng::new(seed).fork(0x7ee);
    let params: Vec<f32> = (0..views).flat_map(|_| aug.draw(&mut rng, image_size).to_floats()).collect();
    let images = Tensor::from_f32(device, "preview image", &[1, img.image_len()], &img.pixels)?;
    let src = Tensor::from_u32(device, "preview sources", &[views], &vec![0; views])?;
    let view = Tensor::from_f32(device, "preview views", &[views, VIEW_PARAMS], &params)?;
    let out = Tensor::empty(device, "preview output", &[views, view_size * view_size * 3], DType::F32)?;
    let shape =
        AugmentShape { views, in_size: image_size, out_size: view_size, noise_std: aug.noise_std, seed: seed as u32 };
    let mut rec = Recorder::new(device);
    augment(&mut rec, &images, &src, &view, &out, &shape)?;
    rec.submit()?;
    let flat = out.to_f32()?;
    Ok(ViewPreview {
        class,
        source_size: image_size,
        source: img.pixels,
        view_size,
        views: flat.chunks(view_size * view_size * 3).map(<[f32]>::to_vec).collect(),
    })
}
