//! The GPT's backward pass (on both backends) against finite differences of the f64 reference model, and
//! the guarantees a training step makes (no allocation, clear shape errors).

use std::collections::HashMap;

use sigmix::kernels::norm::NormKind;
use sigmix::models::{Gpt, GptConfig};
use sigmix::nn::AttentionKind;
use sigmix::reference::{self, gpt::Params};
use sigmix::rng::Rng;
use sigmix::{Device, Recorder};
use sigmix_tests::{block_on, devices, gpu};

fn named(model: &Gpt, flat: &[f32]) -> Params {
    let mut map = HashMap::new();
    for (name, offset, shape) in model.weights().layout().entries() {
        let n: usize = shape.iter().product();
        map.insert(name.to_string(), reference::to_f64(&flat[offset..offset + n]));
    }
    map
}

fn check_model_gradient(cfg: GptConfig) {
    for dev in devices() {
        check_model_gradient_on(&dev, &cfg);
    }
}

fn check_model_gradient_on(dev: &Device, cfg: &GptConfig) {
    let cfg = cfg.clone();
    let batch = 2;
    let model = Gpt::new(dev, &cfg, batch, 7).expect("model builds");
    assert_eq!(cfg.param_count(), model.weights().count(), "GptConfig::param_count disagrees with the model");
    let mut rng = Rng::new(3);
    let rows = batch * cfg.context;
    let tokens: Vec<u32> = (0..rows).map(|_| rng.below(cfg.vocab) as u32).collect();
    let targets: Vec<u32> = (0..rows).map(|_| rng.below(cfg.vocab) as u32).collect();
    model.set_batch(&tokens, &targets).expect("upload");
    let mut rec = Recorder::new(dev);
    rec.clear(model.weights().grads()).expect("clear");
    model.forward(&mut rec, true).expect("forward");
    model.backward(&mut rec).expect("backward");
    rec.submit().expect("submit");
    let gpu_loss = block_on(model.read_mean_loss()).expect("loss") as f64;
    let params = model.weights().params().to_f32().expect("params");
    let grads = named(&model, &model.weights().grads().to_f32().expect("grads"));
    let mut p = named(&model, &params);

    let ref_loss = reference::gpt::loss(&cfg, &p, &tokens, &targets, batch);
    assert!(
        ((gpu_loss - ref_loss) / ref_loss).abs() < 1e-5,
        "loss on {}: {gpu_loss} vs reference {ref_loss}",
        dev.label()
    );

    let h = 1e-5;
    let names: Vec<String> = grads.keys().cloned().collect();
    for name in names {
        let n = p[&name].len();
        let mut numeric = vec![0.0; n];
        for i in 0..n {
            let orig = p[&name][i];
            p.get_mut(&name).expect("present")[i] = orig + h;
            let up = reference::gpt::loss(&cfg, &p, &tokens, &targets, batch);
            p.get_mut(&name).expect("present")[i] = orig - h;
            let down = reference::gpt::loss(&cfg, &p, &tokens, &targets, batch);
            p.get_mut(&name).expect("present")[i] = orig;
            numeric[i] = (up - down) / (2.0 * h);
        }
        let analytic: Vec<f32> = grads[&name].iter().map(|v| *v as f32).collect();
        let norm: f64 = numeric.iter().map(|v| v * v).sum::<f64>().sqrt();
        let err = if norm < 1e-9 {
            analytic.iter().map(|v| v.abs() as f64).fold(0.0, f64::max)
        } else {
            reference::rel_err(&analytic, &numeric)
        };
        assert!(
            err < 1e-3,
            "{name} on {}: gradient vs finite differences of the reference, rel. error {err:.2e}",
            dev.label()
        );
    }
}

fn tiny() -> GptConfig {
    GptConfig {
        vocab: 13,
        context: 5,
        d_model: 8,
        n_layers: 2,
        n_heads: 2,
        mlp_ratio: 2,
        attention: AttentionKind::Naive,
        ..GptConfig::default()
    }
}

/// Flash kernels need head dimensions of at least 16: one wider layer.
fn tiny_flash(attention: AttentionKind) -> GptConfig {
    GptConfig { d_model: 32, n_layers: 1, mlp_ratio: 1, context: 6, attention, ..tiny() }
}

#[test]
fn gpt_gradients_match_finite_differences_layernorm_tied() {
    check_model_gradient(tiny());
}

#[test]
fn gpt_gradients_match_finite_differences_rmsnorm_untied() {
    check_model_gradient(GptConfig { norm: NormKind::RmsNorm, tied_head: false, context: 7, ..tiny() });
}

#[test]
fn gpt_gradients_match_finite_differences_flash_softmax() {
    check_model_gradient(tiny_flash(AttentionKind::Softmax));
}

#[test]
fn gpt_gradients_match_finite_differences_flash_sigmoid() {
    check_model_gradient(tiny_flash(AttentionKind::Sigmoid));
    check_model_gradient(GptConfig { sigmoid_bias: Some(0.0), ..tiny_flash(AttentionKind::Sigmoid) });
}

#[test]
fn gpt_gradients_match_finite_differences_with_qk_norm() {
    check_model_gradient(GptConfig { qk_norm: true, ..tiny_flash(AttentionKind::Sigmoid) });
    check_model_gradient(GptConfig { qk_norm: true, n_heads: 2, ..tiny() });
}

#[test]
fn a_training_step_allocates_no_buffers() {
    // Devices of their own: other tests allocate on the shared ones concurrently.
    for gpu in [Device::Cpu(sigmix::Cpu::new()), Device::Gpu(sigmix::Gpu::new().expect("adapter"))] {
        training_step_allocates_nothing(&gpu);
    }
}

fn training_step_allocates_nothing(gpu: &Device) {
    let cfg = tiny();
    let model = Gpt::new(gpu, &cfg, 3, 1).expect("model");
    let mut opt = sigmix::optim::AdamW::new(gpu, model.weights(), Default::default()).expect("optimiser");
    let tokens = vec![1u32; 3 * cfg.context];
    let step = |opt: &mut sigmix::optim::AdamW| {
        model.set_batch(&tokens, &tokens).expect("upload");
        let mut rec = Recorder::new(gpu);
        rec.clear(model.weights().grads()).expect("clear");
        model.forward(&mut rec, true).expect("forward");
        model.backward(&mut rec).expect("backward");
        opt.step(&mut rec, model.weights(), 1e-3).expect("step");
        rec.submit().expect("submit");
        // Reading the loss back, as the trainer does every few steps.
        block_on(model.read_mean_loss()).expect("loss");
    };
    step(&mut opt); // the first step creates the uniform arena and the read-back buffer
    let before = gpu.buffers_created();
    for _ in 0..3 {
        step(&mut opt);
    }
    assert_eq!(gpu.buffers_created(), before, "training steps created buffers");
}

#[test]
fn a_wrong_shape_names_both_shapes() {
    let gpu = gpu();
    let a = sigmix::Tensor::from_f32(&gpu, "a", &[2, 3], &[0.0; 6]).expect("a");
    let b = sigmix::Tensor::from_f32(&gpu, "b", &[4, 5], &[0.0; 20]).expect("b");
    let c = sigmix::Tensor::from_f32(&gpu, "c", &[2, 5], &[0.0; 10]).expect("c");
    let mut rec = Recorder::new(&gpu);
    let err =
        sigmix::kernels::matmul::matmul(&mut rec, &a, &b, &c, Default::default()).expect_err("must fail").to_string();
    assert!(err.contains("[4, 5]") && err.contains("[3, 5]"), "{err}");
}

#[test]
fn a_model_too_large_for_the_adapter_fails_before_allocating() {
    let gpu = Device::Gpu(sigmix::Gpu::new().expect("adapter"));
    let before = gpu.buffers_created();
    let cfg =
        GptConfig { context: 4096, n_heads: 16, d_model: 64, attention: AttentionKind::Naive, ..GptConfig::default() };
    let err = Gpt::new(&gpu, &cfg, 64, 1).err().expect("must fail").to_string();
    assert!(err.contains("needs") && err.contains("allows at most"), "{err}");
    assert_eq!(gpu.buffers_created(), before, "buffers were allocated before the size check");
}

#[test]
fn out_of_vocabulary_tokens_are_refused() {
    let gpu = gpu();
    let cfg = tiny();
    let model = Gpt::new(&gpu, &cfg, 1, 1).expect("model");
    let bad = vec![cfg.vocab as u32; cfg.context];
    let err = model.set_batch(&bad, &bad).expect_err("must fail").to_string();
    assert!(err.contains("vocabulary"), "{err}");
}
