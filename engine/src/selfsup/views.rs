//! What every self-supervised run shares: the unlabelled pool and the held-out probe images
//! on the device, M augmented views per sample drawn each step, and the linear probe of an
//! encoder's representation on un-augmented held-out images.

use crate::data::{SHAPE_CLASSES, ShapeImages};
use crate::error::Result;
use crate::kernels::augment::{AugmentConfig, AugmentShape, VIEW_PARAMS, ViewParams, augment};
use crate::models::Encoder;
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::selfsup::probe::{Labelled, linear_probe};
use crate::tensor::{DType, Device, Tensor};

/// Mixed into the seed of the held-out probe images, so they are never training images.
const PROBE_SEED: u64 = 0x0050_4f42_4553;

/// The images and view buffers of one run: `rows` = samples × views per step.
pub(crate) struct ViewBatch {
    pool_len: usize,
    image_size: usize,
    view_size: usize,
    images: Tensor,
    probe_images: Tensor,
    /// Labels of the held-out probe images.
    pub probe_labels: Vec<u32>,
    src: Tensor,
    view: Tensor,
    /// The augmented views of the last `draw` (rows × view_size² × 3).
    pub views: Tensor,
}

impl ViewBatch {
    /// Generates `train_images` pool images and `probe_images` held-out ones from `seed` and
    /// uploads them, with view buffers for `rows` views per step.
    pub fn new(
        device: &Device,
        train_images: usize,
        probe_images: usize,
        image_size: usize,
        view_size: usize,
        rows: usize,
        seed: u64,
    ) -> Result<ViewBatch> {
        let pool = ShapeImages::generate(train_images, image_size, seed);
        let held_out = ShapeImages::generate(probe_images, image_size, seed ^ PROBE_SEED);
        let image_len = pool.image_len();
        Ok(ViewBatch {
            pool_len: pool.len(),
            image_size,
            view_size,
            images: Tensor::from_f32(device, "training images", &[pool.len(), image_len], &pool.pixels)?,
            probe_images: Tensor::from_f32(device, "probe images", &[held_out.len(), image_len], &held_out.pixels)?,
            probe_labels: held_out.labels,
            src: Tensor::from_u32(device, "view sources", &[rows], &vec![0; rows])?,
            view: Tensor::empty(device, "view parameters", &[rows, VIEW_PARAMS], DType::F32)?,
            views: Tensor::empty(device, "views", &[rows, view_size * view_size * 3], DType::F32)?,
        })
    }

    fn rows(&self) -> usize {
        self.src.len()
    }

    fn shape(&self, noise_std: f32, seed: u32) -> AugmentShape {
        AugmentShape { views: self.rows(), in_size: self.image_size, out_size: self.view_size, noise_std, seed }
    }

    /// Draws `samples` pool images and `views` random views of each (rows i·views + α), and
    /// records the augmentation into `views`. The pixel noise's seed comes from `noise` when
    /// given, else from `rng`: with `noise`, `rng` is consumed per sample alone, so one draw of
    /// κ·B samples takes the same images and crops as κ draws of B.
    pub fn draw(
        &self,
        rec: &mut Recorder,
        rng: &mut Rng,
        samples: usize,
        views: usize,
        aug: &AugmentConfig,
        noise: Option<&mut Rng>,
    ) -> Result<()> {
        let mut src = Vec::with_capacity(samples * views);
        let mut params = Vec::with_capacity(samples * views * VIEW_PARAMS);
        for _ in 0..samples {
            let image = rng.below(self.pool_len) as u32;
            for _ in 0..views {
                src.push(image);
                params.extend(aug.draw(rng, self.image_size).to_floats());
            }
        }
        self.src.write_u32(&src)?;
        self.view.write_f32(&params)?;
        let noise_seed = noise.unwrap_or(rng).next_u64() as u32;
        augment(rec, &self.images, &self.src, &self.view, &self.views, &self.shape(aug.noise_std, noise_seed))
    }

    /// The encoder's representation of every held-out image (identity views, no noise).
    pub async fn features(&self, device: &Device, enc: &Encoder) -> Result<Vec<f32>> {
        let rows = enc.rows();
        let count = self.probe_labels.len();
        let repr = enc.config().repr;
        let identity = ViewParams::identity(self.image_size).to_floats();
        self.view.write_f32(&identity.repeat(rows))?;
        let mut out = Vec::with_capacity(count * repr);
        for start in (0..count).step_by(rows) {
            let ids: Vec<u32> = (0..rows).map(|r| (start + r).min(count - 1) as u32).collect();
            self.src.write_u32(&ids)?;
            let mut rec = Recorder::new(device);
            augment(&mut rec, &self.probe_images, &self.src, &self.view, &self.views, &self.shape(0.0, 0))?;
            enc.forward_repr(&mut rec, &self.views)?;
            rec.submit()?;
            let h = enc.repr().read_f32().await?;
            let take = rows.min(count - start);
            out.extend_from_slice(&h[..take * repr]);
        }
        Ok(out)
    }

    /// Probe (train, test) accuracy: fitted on the first half of the probe images, scored on
    /// the rest.
    pub async fn probe(&self, device: &Device, enc: &Encoder) -> Result<(f64, f64)> {
        let x = self.features(device, enc).await?;
        let dim = enc.config().repr;
        let labels = &self.probe_labels;
        let half = labels.len() / 2;
        let train = Labelled { features: &x[..half * dim], labels: &labels[..half] };
        let test = Labelled { features: &x[half * dim..], labels: &labels[half..] };
        linear_probe(&train, &test, dim, SHAPE_CLASSES.len())
    }
}
