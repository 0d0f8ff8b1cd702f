//! Every panel opens, trains or runs its job, and shows what it should; links and a lost device.

use egui_kittest::kittest::Queryable;
use sigmix::DeviceChoice;
use sigmix_app::lab::{Lab, Tab};
use sigmix_app::ui::attention::MapSource;
use sigmix_app::ui::train::Status;

use super::common::*;

#[test]
fn every_panel_opens_and_says_what_it_is() {
    let mut h = lab();
    h.run_steps(2);
    for (tab, label, _) in Tab::ALL {
        h.get_by_label(label).click();
        h.run_steps(3);
        assert_eq!(h.state().tab, tab, "clicking {label}");
        match tab {
            Tab::Attention => {
                h.get_by_label("Time the flash kernels");
            }
            Tab::Moe => {
                h.get_by_label_contains("sparsity S");
            }
            Tab::Contrastive => {
                h.get_by_label("another sample");
            }
            Tab::Tta => {
                h.get_by_label_contains("the stream at mixed severity 5");
            }
            Tab::Byol => {
                h.get_by_label_contains("samples seen by every run");
            }
            Tab::Laws => {
                h.get_by_label_contains("optimal sparsity S*");
            }
            Tab::Train => {
                h.get_by_label("Play");
            }
            Tab::Mixture => {
                h.get_by_label("Fit");
            }
        }
    }
}

#[test]
fn play_trains_a_tiny_preset_and_plots_the_loss() {
    let mut h = lab();
    h.state_mut().tab = Tab::Train;
    h.state_mut().train.load_preset("smoke");
    h.run_steps(2);
    h.get_by_label("Play").click();
    step_until(&mut h, 120, "the smoke run to finish", |l| l.train.status != Status::Running);
    let t = &h.state().train;
    assert_eq!(t.status, Status::Finished, "{:?}", t.error);
    assert!(t.curve.len() >= 5, "loss points plotted: {}", t.curve.len());
    let (first, last) = (t.curve[0][1], t.curve[t.curve.len() - 1][1]);
    assert!(last < first, "the loss fell: {first} → {last}");
    assert!(!t.evals.is_empty(), "a held-out evaluation was recorded");
    write_doc_image(&mut h, "lab-train.png");

    // Step takes exactly one step of a fresh run.
    h.get_by_label("Reset").click();
    h.run_steps(2);
    h.get_by_label("Step").click();
    step_until(&mut h, 60, "one step", |l| !l.train.curve.is_empty());
    assert_eq!(h.state().train.curve.len(), 1);
}

#[test]
fn the_attention_panel_shows_the_trained_models_heads() {
    let mut h = lab();
    h.state_mut().train.load_preset("smoke");
    h.run_steps(2);
    h.get_by_label("Play").click();
    step_until(&mut h, 120, "the smoke run to finish", |l| l.train.status != Status::Running);
    let a = h.state().train.attention.clone().expect("attention inputs captured at the evaluation");
    let cfg = &h.state().train.config.model;
    assert_eq!((a.layers(), a.context, a.heads), (cfg.n_layers, cfg.context, cfg.n_heads));
    h.state_mut().tab = Tab::Attention;
    h.run_steps(2);
    h.get_by_label("trained model").click();
    h.run_steps(3);
    assert_eq!(h.state().attention.source, MapSource::Trained);
    h.get_by_label_contains("on its own text");
    let (sig, soft) = h.state().attention.trained_maps(&a);
    let n = a.context;
    for i in 0..n {
        let s: f64 = soft[i * n..(i + 1) * n].iter().sum();
        assert!((s - 1.0).abs() < 1e-9, "softmax row {i} sums to {s}");
        assert!(sig[i * n + i + 1..(i + 1) * n].iter().all(|p| *p == 0.0), "causal: nothing after query {i}");
    }
    // The trained head is not the uniform causal average a model without training would give.
    let uniform: f64 = (0..n).map(|i| (soft[i * n] - 1.0 / (i + 1) as f64).abs()).sum();
    assert!(uniform > 1e-3, "the trained map differs from uniform attention");
    write_doc_image(&mut h, "lab-attention-trained.png");
}

#[test]
fn the_main_screen_renders() {
    let mut h = lab();
    h.state_mut().tab = Tab::Laws;
    h.run_steps(3);
    let image = h.render().expect("renders headless");
    let first = *image.get_pixel(0, 0);
    let varied = image.pixels().filter(|p| **p != first).count();
    assert!(varied > (image.width() * image.height()) as usize / 20, "the screen is nearly blank");
    write_doc_image(&mut h, "lab-laws.png");
}

#[test]
fn the_attention_panel_shows_both_maps_and_times_the_kernels() {
    let mut h = lab();
    h.state_mut().tab = Tab::Attention;
    h.run_steps(2);
    let (sig, soft) = h.state().attention.maps();
    let n = h.state().attention.n;
    for i in 0..n {
        let s: f64 = soft[i * n..(i + 1) * n].iter().sum();
        assert!((s - 1.0).abs() < 1e-9, "softmax rows sum to 1");
        assert!(sig[i * n + i + 1..(i + 1) * n].iter().all(|p| *p == 0.0), "causal: nothing after the query");
    }
    h.get_by_label("Time the flash kernels").click();
    step_until(&mut h, 120, "the kernel timing", |l| l.attention.timed());
    h.get_by_label_contains("softmax / sigmoid");
    write_doc_image(&mut h, "lab-attention.png");
}

#[test]
fn the_moe_panel_trains_and_shows_every_expert_loaded() {
    let mut h = lab();
    h.state_mut().tab = Tab::Moe;
    {
        let m = &mut h.state_mut().moe;
        m.train.load_preset("smoke");
        m.moe.experts = 4;
        m.train.config.steps = 40;
    }
    h.run_steps(2);
    // Top-1 with renormalised gates leaves the router untrained by the loss: the panel says so.
    let warning = "the loss gives the router no gradient";
    assert!(h.query_by_label_contains(warning).is_none(), "top-2 is fine");
    h.state_mut().moe.moe.top_k = 1;
    h.run_steps(2);
    assert!(h.query_by_label_contains(warning).is_some(), "renormalised top-1 is flagged");
    h.state_mut().moe.moe.top_k = 2;
    h.run_steps(2);
    h.get_by_label("Play").click();
    step_until(&mut h, 120, "the MoE run to finish", |l| l.moe.train.status != Status::Running);
    let m = &h.state().moe;
    assert_eq!(m.train.status, Status::Finished, "{:?}", m.train.error);
    assert_eq!(m.train.expert_load.len(), 1, "one layer's load");
    assert_eq!(m.train.expert_load[0].len(), 4);
    assert!(m.train.expert_load[0].iter().all(|f| *f > 0.0), "{:?}", m.train.expert_load);
    write_doc_image(&mut h, "lab-moe.png");
}

#[test]
fn the_contrastive_panel_shows_views_runs_every_m_and_probes() {
    let mut h = lab();
    h.state_mut().tab = Tab::Contrastive;
    {
        let c = &mut h.state_mut().contrastive;
        c.base.steps = 60;
        c.base.train_images = 400;
        c.base.probe_images = 400;
        c.passes = 64;
        c.base.probe_every = 30;
    }
    h.run_steps(2);
    h.get_by_label_contains("8 views of it");
    h.get_by_label("Run").click();
    step_until(&mut h, 300, "the three runs to finish", |l| !l.contrastive.running());
    let c = &h.state().contrastive;
    assert!(c.message.is_none(), "{:?}", c.message);
    assert_eq!(c.records.len(), 3, "one run per M");
    for s in &c.series {
        let (first, last) = (s.curve[0][1], s.curve[s.curve.len() - 1][1]);
        assert!(last < first, "M={}: loss {first} → {last}", s.views);
        let at: Vec<f64> = s.probes.iter().map(|p| p[0]).collect();
        assert_eq!(at, vec![0.0, 30.0 * 64.0, 60.0 * 64.0], "M={}: probed before, midway and after", s.views);
        assert_eq!(s.curve.last().map(|p| p[0]), Some(60.0 * 64.0), "same encoder passes for every M");
    }
    write_doc_image(&mut h, "lab-contrastive.png");
}

#[test]
fn the_tta_panel_trains_a_source_model_and_streams_every_method() {
    let mut h = lab();
    h.state_mut().tab = Tab::Tta;
    // A short run; for the docs' picture, the panel's default (severity 5, one sample at a
    // time, the preset's source model and stream), where Tent's collapse shows.
    let docs = std::env::var_os("SIGMIX_WRITE_DOCS").is_some();
    if !docs {
        let t = &mut h.state_mut().tta;
        t.config.source_steps = 300;
        t.config.train_images = 1000;
        t.config.stream_len = 512;
        t.severity = 4;
        t.batch = 8;
    }
    let (severity, stream_len) = (h.state().tta.severity, h.state().tta.config.stream_len as f64);
    h.run_steps(2);
    h.get_by_label_contains(&format!("the stream at mixed severity {severity}"));
    h.get_by_label("Play").click();
    step_until(&mut h, 300, "the four streams to finish", |l| !l.tta.running());
    let t = &h.state().tta;
    assert!(t.message.is_none(), "{:?}", t.message);
    let clean = t.clean_accuracy.expect("the source model was scored");
    assert!(clean > 0.3, "the source model learned something: {clean}");
    let r = t.record.as_ref().expect("finished");
    assert_eq!(r.streams.len(), 4, "one stream per method");
    assert_eq!(t.series.len(), 4);
    for s in &t.series {
        assert_eq!(s.accuracy.last().map(|p| p[0]), Some(stream_len), "{:?} plotted to the stream's end", s.method);
        assert!(s.top_share.iter().all(|p| (0.2..=1.0).contains(&p[1])));
    }
    write_doc_image(&mut h, "lab-tta.png");
}

#[test]
fn the_byol_panel_runs_every_kappa_with_and_without_the_rule() {
    let mut h = lab();
    h.state_mut().tab = Tab::Byol;
    // A short run; for the docs' picture, the panel's default experiment.
    if std::env::var_os("SIGMIX_WRITE_DOCS").is_none() {
        let b = &mut h.state_mut().byol.config.base;
        // The panel's slider keeps whole multiples of 160 steps.
        b.steps = 160;
        b.samples = 4;
        b.train_images = 300;
        b.probe_images = 300;
        h.state_mut().byol.kappas = [true, true, false];
    }
    let b = h.state().byol.config.base.clone();
    let seen = (b.samples * b.steps) as f64;
    h.run_steps(2);
    h.get_by_label("Play").click();
    step_until(&mut h, 600, "every run to finish", |l| !l.byol.running());
    let p = &h.state().byol;
    assert!(p.message.is_none(), "{:?}", p.message);
    let kappas: Vec<(usize, bool)> = p.plan.iter().map(|r| (r.kappa, r.rule)).collect();
    let want_runs = if std::env::var_os("SIGMIX_WRITE_DOCS").is_none() { 5 } else { 7 };
    assert_eq!(p.records.len(), want_runs, "κ = 1 once, then each κ with and without the rule: {kappas:?}");
    for (run, c) in p.plan.iter().zip(&p.curves) {
        assert_eq!(
            c.loss.last().map(|q| q[0]),
            Some(seen),
            "κ={} rule={}: loss to the same samples",
            run.kappa,
            run.rule
        );
        assert_eq!(c.target.len(), p.config.probes + 1, "probed before training and at every quarter");
        assert!(c.target.iter().chain(&c.online).all(|q| (0.0..=1.0).contains(&q[1])));
    }
    h.get_by_label_contains("spread over κ (target)");
    write_doc_image(&mut h, "lab-byol.png");
}

#[test]
fn a_link_with_play_starts_the_tta_panel_it_opens() {
    let lab = Lab::with_link(DeviceChoice::Cpu, "tab=tta&play");
    let mut h = harness(lab);
    h.run_steps(2);
    assert_eq!(h.state().tab, Tab::Tta);
    assert!(h.state().tta.running(), "the streams started");
    assert_ne!(h.state().train.status, Status::Running, "and not the Train panel's run");
    h.get_by_label("Stop").click();
    step_until(&mut h, 60, "the stopped job to end", |l| !l.tta.running());
    assert!(h.state().tta.message.is_none(), "stopping is not an error: {:?}", h.state().tta.message);
}

#[test]
fn a_lost_gpu_device_keeps_the_curve_shows_the_banner_and_restarts() {
    // Every other test here trains on the CPU backend, so destroying the lab's GPU device
    // (as a driver reset would) touches this test's run only.
    let mut h = harness(Lab::new(DeviceChoice::Gpu));
    h.state_mut().tab = Tab::Train;
    h.state_mut().train.load_preset("smoke");
    h.run_steps(2);
    h.get_by_label("Play").click();
    step_until(&mut h, 120, "a few steps on the GPU", |l| {
        l.train.curve.len() >= 2 || l.train.status != Status::Running
    });
    let Ok(sigmix::Device::Gpu(gpu)) = sigmix_app::jobs::device(DeviceChoice::Gpu) else { panic!("the lab's GPU") };
    gpu.destroy();
    step_until(&mut h, 120, "the run to stop on the lost device", |l| l.train.status != Status::Running);
    let t = &h.state().train;
    assert_eq!(t.status, Status::Failed, "the run stops");
    assert!(t.error.as_deref().is_some_and(|e| e.contains("lost")), "{:?}", t.error);
    let kept = t.curve.len();
    assert!(kept >= 1, "the curve recorded before the loss stays");
    assert!(sigmix_app::jobs::gpu_lost().is_some());
    h.get_by_label_contains("The GPU device was lost");
    h.get_by_label("Restart GPU").click();
    h.run_steps(2);
    assert!(sigmix_app::jobs::gpu_lost().is_none(), "the banner's button forgets the lost device");
    h.get_by_label("Play").click();
    step_until(&mut h, 300, "the restarted run", |l| l.train.status != Status::Running);
    let t = &h.state().train;
    assert_eq!(t.status, Status::Finished, "{:?}", t.error);
}
