//! The source model: the classifier trained supervised on clean shape images (augmented on
//! the device by the augment kernel), and its predictions on a set of images.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::data::ShapeImages;
use crate::error::{Result, finite_loss};
use crate::kernels::augment::{AugmentShape, VIEW_PARAMS, augment};
use crate::kernels::cross_entropy::cross_entropy;
use crate::models::Classifier;
use crate::optim::{AdamW, AdamWConfig};
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::tensor::{DType, Device, Tensor};
use crate::tta::TtaConfig;

/// Read the training loss back every this many steps.
pub const SOURCE_LOG_EVERY: usize = 20;

/// Trains the source classifier; `on_step(step, loss)` after every step (the loss when read).
/// `None` when `stop` was set.
pub(crate) async fn train_source(
    device: &Device,
    cfg: &TtaConfig,
    stop: &AtomicBool,
    on_step: &mut dyn FnMut(usize, Option<f32>),
) -> Result<Option<(Classifier, Vec<(usize, f32)>)>> {
    let rows = cfg.source_batch;
    let pool = ShapeImages::generate(cfg.train_images, cfg.image_size, cfg.seed);
    let images = Tensor::from_f32(device, "training images", &[pool.len(), pool.image_len()], &pool.pixels)?;
    let src = Tensor::from_u32(device, "view sources", &[rows], &vec![0; rows])?;
    let view = Tensor::empty(device, "view parameters", &[rows, VIEW_PARAMS], DType::F32)?;
    let x = Tensor::empty(device, "augmented images", &[rows, cfg.classifier.input], DType::F32)?;
    let targets = Tensor::from_u32(device, "labels", &[rows], &vec![0; rows])?;
    let losses = Tensor::empty(device, "losses", &[rows], DType::F32)?;
    let dlogits = Tensor::empty(device, "logit gradient", &[rows, cfg.classifier.classes], DType::F32)?;
    let model = Classifier::new(device, &cfg.classifier, rows, cfg.seed)?;
    let optim = AdamWConfig { weight_decay: 0.01, ..AdamWConfig::default() };
    let mut opt_body = AdamW::new(device, model.body(), optim.clone())?;
    let mut opt_norms = AdamW::new(device, model.norms(), optim)?;
    let mut rng = Rng::new(cfg.seed).fork(0x5_0c);
    let mut curve = Vec::new();
    for step in 1..=cfg.source_steps {
        crate::clock::yield_now().await;
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut ids = Vec::with_capacity(rows);
        let mut params = Vec::with_capacity(rows * VIEW_PARAMS);
        for _ in 0..rows {
            ids.push(rng.below(pool.len()) as u32);
            params.extend(cfg.source_augment.draw(&mut rng, cfg.image_size).to_floats());
        }
        let labels: Vec<u32> = ids.iter().map(|i| pool.labels[*i as usize]).collect();
        src.write_u32(&ids)?;
        view.write_f32(&params)?;
        targets.write_u32(&labels)?;
        let shape = AugmentShape {
            views: rows,
            in_size: cfg.image_size,
            out_size: cfg.image_size,
            noise_std: cfg.source_augment.noise_std,
            seed: rng.next_u64() as u32,
        };
        let lr = cfg.source_schedule.at(step - 1, cfg.source_steps);
        let mut rec = Recorder::reusing_bind_groups(device);
        augment(&mut rec, &images, &src, &view, &x, &shape)?;
        rec.clear(model.body().grads())?;
        rec.clear(model.norms().grads())?;
        model.forward(&mut rec, &x)?;
        cross_entropy(&mut rec, model.logits(), &targets, &losses, Some(&dlogits), 1.0 / rows as f32)?;
        model.backward(&mut rec, &x, &dlogits)?;
        opt_body.step(&mut rec, model.body(), lr)?;
        opt_norms.step(&mut rec, model.norms(), lr)?;
        rec.submit()?;
        let loss = if step % SOURCE_LOG_EVERY == 0 || step == cfg.source_steps {
            let l = finite_loss(step, losses.read_f32().await?.iter().sum::<f32>() / rows as f32)?;
            curve.push((step, l));
            Some(l)
        } else {
            None
        };
        on_step(step, loss);
    }
    Ok(Some((model, curve)))
}

/// The class `model` predicts for each image of `pixels` (whole images of the model's input
/// width), in passes of the model's rows (the last one padded with copies of the last image).
pub(crate) async fn predict(device: &Device, model: &Classifier, pixels: &[f32]) -> Result<Vec<u32>> {
    let (rows, width) = (model.rows(), model.config().input);
    let count = pixels.len() / width;
    let x = Tensor::empty(device, "images", &[rows, width], DType::F32)?;
    let mut out = Vec::with_capacity(count);
    for start in (0..count).step_by(rows) {
        let take = rows.min(count - start);
        let mut batch = pixels[start * width..(start + take) * width].to_vec();
        while batch.len() < rows * width {
            batch.extend_from_slice(&pixels[(count - 1) * width..count * width]);
        }
        x.write_f32(&batch)?;
        let mut rec = Recorder::new(device);
        model.forward(&mut rec, &x)?;
        rec.submit()?;
        let logits = model.logits().read_f32().await?;
        out.extend(argmax_rows(&logits, model.config().classes).into_iter().take(take));
    }
    Ok(out)
}

/// The index of each row's largest value (the first on ties).
pub(crate) fn argmax_rows(values: &[f32], width: usize) -> Vec<u32> {
    values
        .chunks(width)
        .map(|r| {
            r.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, v)| if *v > b.1 { (i, *v) } else { b }).0 as u32
        })
        .collect()
}
