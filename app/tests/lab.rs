//! The lab as a user meets it, rendered headless by egui_kittest: every panel opens, Play
//! trains and plots, the Mixture lab runs a sweep, fits and predicts, and the main screen
//! renders to a non-blank image (written to docs/ with SIGMIX_WRITE_DOCS=1).

// Helpers of a test may panic: the panic is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sigmix::DeviceChoice;
use sigmix_app::jobs::{LawReport, LawSweep};
use sigmix_app::lab::{Lab, Tab};
use sigmix_app::ui::attention::MapSource;
use sigmix_app::ui::train::Status;

fn lab() -> Harness<'static, Lab> {
    harness(Lab::new(DeviceChoice::Cpu))
}

/// The window at its default size around `lab`.
fn harness(lab: Lab) -> Harness<'static, Lab> {
    Harness::builder().with_size([1280.0, 820.0]).build_ui_state(|ui, lab: &mut Lab| lab.show(ui), lab)
}

/// Steps the UI until `done` holds, failing after `secs`.
fn step_until(h: &mut Harness<'_, Lab>, secs: u64, what: &str, done: impl Fn(&Lab) -> bool) {
    let start = Instant::now();
    h.step();
    while !done(h.state()) {
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
}

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
fn the_mixture_lab_runs_a_sweep_fits_and_predicts() {
    let dir = std::env::temp_dir().join(format!("sigmix-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("smoke.jsonl");
    let _ = std::fs::remove_file(&path);
    let mut h = lab();
    {
        let m = &mut h.state_mut().mixture;
        m.preset = "smoke".into();
        m.path = path.to_string_lossy().into_owned();
        m.export_dir = dir.clone();
        m.load();
    }
    h.state_mut().tab = Tab::Mixture;
    h.run_steps(2);
    h.get_by_label("Run").click();
    step_until(&mut h, 300, "the sweep and its fit", |l| l.mixture.settled());
    let m = &h.state().mixture;
    assert!(m.error.is_none(), "{:?}", m.error);
    assert_eq!(m.rows.len(), 28);
    assert_eq!(m.fits.len(), 5);
    // While the sweep runs, the sizes whose runs are all in are refitted: three of four
    // sizes finished are 21 runs, the fourth's first run is not enough to count it.
    let mut partial = Lab::new(DeviceChoice::Cpu).mixture;
    partial.preset = "smoke".into();
    partial.path = dir.join("none.jsonl").to_string_lossy().into_owned();
    partial.load();
    partial.rows = m.rows[..22].to_vec();
    let (sizes, rows) = partial.finished_sizes();
    assert_eq!((sizes, rows.len()), (3, 21));
    assert_eq!(std::fs::read_to_string(&path).expect("the runs are on disk").lines().count(), 28);
    h.get_by_label("Train this run");
    h.get_by_label("Save plot PNG").click();
    h.run_steps(2);
    let pngs = std::fs::read_dir(&dir)
        .expect("dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png")))
        .count();
    assert_eq!(pngs, 1, "the plot was exported");

    // Reopening finds the finished sweep on disk.
    let mut again = Lab::new(DeviceChoice::Cpu);
    again.mixture.path = path.to_string_lossy().into_owned();
    again.mixture.preset = "smoke".into();
    again.mixture.load();
    assert_eq!(again.mixture.rows.len(), 28);
}

/// The classroom lesson as the docs tell it, from the committed runs of one classroom sweep
/// (`data/classroom-seed1.jsonl`): dropped onto the lab, the joint law fitted on the four
/// smaller widths predicts the largest width's mean loss within 1%, and the mixture it finds
/// best for code is mostly code. The docs' picture of the Mixture lab is this screen.
#[test]
fn the_mixture_lab_shows_the_classroom_lesson_from_its_recorded_runs() {
    let runs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/classroom-seed1.jsonl");
    let mut h = lab();
    h.run_steps(2);
    drop_file(&mut h, "classroom-seed1.jsonl", std::fs::read(&runs).expect("the recorded classroom runs"));
    step_until(&mut h, 300, "the classroom fit", |l| l.mixture.settled());
    let m = &h.state().mixture;
    assert!(m.error.is_none(), "{:?}", m.error);
    assert_eq!((h.state().tab, m.preset.as_str(), m.rows.len()), (Tab::Mixture, "classroom", 45));
    let mean = m.fits.iter().find(|f| f.target == "mean_loss").expect("the mean loss was fitted");
    assert_eq!(mean.fit.law, "mixture-joint");
    assert_eq!(mean.held_out.len(), 9, "width 64 is held out");
    assert!(mean.held_out_mre < 0.01, "the mean loss of width 64 within 1%: {:.4}", mean.held_out_mre);
    let largest = sigmix::sweep::uniform_at_largest(&m.rows).expect("a uniform run at width 64, 3200 steps");
    let (n, d) = (largest.non_embedding_params as f64, largest.n_tokens as f64);
    let best = sigmix::sweep::optimal_for(&m.fits, "code_loss", n, d).expect("an optimum");
    let code = m.domains().iter().position(|x| x == "code").expect("a code domain");
    assert!(best.weights[code] > 0.5, "the code optimum is mostly code: {:?}", best.weights);
    h.state_mut().mixture.target = "code_loss".into();
    h.run_steps(3);
    h.get_by_label_contains("Train this run");
    write_doc_image(&mut h, "lab-mixture.png");
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

/// With SIGMIX_WRITE_DOCS set, saves the current screen as docs/`name` (the README shows them).
fn write_doc_image(h: &mut Harness<'_, Lab>, name: &str) {
    if std::env::var_os("SIGMIX_WRITE_DOCS").is_some() {
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(name);
        h.render().expect("renders").save(&out).expect("writes the image");
    }
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
fn the_mixture_lab_fits_the_public_table_and_predicts_its_largest_models() {
    let table = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/dmsl_llm_slimpajama_small.csv");
    let mut h = lab();
    h.state_mut().tab = Tab::Mixture;
    h.state_mut().mixture.external = table.to_string_lossy().into_owned();
    h.run_steps(2);
    h.get_by_label("Fit table").click();
    step_until(&mut h, 300, "the table's fits", |l| !l.mixture.fits.is_empty() || l.mixture.error.is_some());
    let m = &h.state().mixture;
    assert!(m.error.is_none(), "{:?}", m.error);
    assert_eq!(m.fits.len(), 8, "one fit per loss column");
    let c4 = m.fits.iter().find(|f| f.target == "c4_loss").expect("c4");
    assert_eq!(c4.held_out.len(), 440);
    assert!(c4.held_out_mre < 0.02, "937M predicted within 2%: {}", c4.held_out_mre);
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

/// A file dropped onto the window, as the windowing layer would hand it over.
#[derive(Debug)]
struct DroppedBytes {
    path: std::path::PathBuf,
    bytes: Vec<u8>,
}

impl egui::DroppedFile for DroppedBytes {
    fn path(&self) -> &std::path::Path {
        &self.path
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Ok(self.bytes.clone())
    }
}

fn drop_file(h: &mut Harness<'_, Lab>, name: &str, bytes: Vec<u8>) {
    let file = DroppedBytes { path: std::path::PathBuf::from(name), bytes };
    h.input_mut().dropped_files.push(std::sync::Arc::new(file));
    h.run_steps(2);
}

/// Some text of the user's own: a pantry list, 21 KB.
fn ledger() -> Vec<u8> {
    let items = ["jars of plum jam", "tins of beans", "bags of rice", "bottles of oil", "boxes of tea"];
    (0..800)
        .map(|i| format!("shelf {}: {} {}\n", i % 12, (i * 7) % 31, items[i % items.len()]))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn a_dropped_text_becomes_a_domain_trained_and_swept_and_a_dropped_sweep_comes_back() {
    let dir = std::env::temp_dir().join(format!("sigmix-lab-texts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut h = lab();
    h.run_steps(2);
    drop_file(&mut h, "tiny.txt", b"too short".to_vec());
    h.get_by_label_contains("at least 4096");
    assert!(h.state().texts.is_empty(), "a text too small to hold out is refused");

    drop_file(&mut h, "Ledger.txt", ledger());
    assert_eq!(h.state().texts.len(), 1);
    h.get_by_label_contains("ledger (21 KB)");
    let names = ["prose", "code", "arithmetic", "records", "ledger"];
    assert_eq!(h.state().train.config.domain_names(), names);
    assert_eq!(h.state().mixture.domains(), names);

    // The Train panel trains on it: five held-out losses, the text's learnt well below ln 256.
    h.state_mut().tab = Tab::Train;
    h.state_mut().train.load_preset("smoke");
    assert_eq!(h.state().train.config.mixture.len(), 5, "a preset keeps the texts");
    h.run_steps(2);
    h.get_by_label("Play").click();
    step_until(&mut h, 120, "the smoke run with a text domain", |l| l.train.status != Status::Running);
    let t = &h.state().train;
    assert_eq!(t.status, Status::Finished, "{:?}", t.error);
    let last = t.evals.last().expect("an evaluation");
    assert_eq!(last.per_domain.len(), 5);
    assert!(last.per_domain[4] < 4.0, "the ledger's held-out loss fell: {}", last.per_domain[4]);

    // The Mixture lab sweeps it: one more weight per run, one more loss to fit.
    {
        let m = &mut h.state_mut().mixture;
        m.preset = "smoke".into();
        m.path = dir.join("smoke+ledger.jsonl").to_string_lossy().into_owned();
        m.export_dir = dir.clone();
        m.load();
    }
    h.state_mut().tab = Tab::Mixture;
    h.run_steps(2);
    h.get_by_label("Run").click();
    step_until(&mut h, 300, "the sweep with a text domain", |l| l.mixture.settled());
    let m = &h.state().mixture;
    assert!(m.error.is_none(), "{:?}", m.error);
    assert_eq!(m.rows.len(), 28);
    assert!(m.rows.iter().all(|r| r.columns.contains_key("weight_ledger") && r.columns.contains_key("ledger_loss")));
    let ledger_fit = m.fits.iter().find(|f| f.target == "ledger_loss").expect("the text's loss is fitted");
    assert_eq!(ledger_fit.fit.domains, names);

    // Download, then drop the file onto a fresh lab: the runs come back and are fitted again.
    h.get_by_label("Download").click();
    h.run_steps(2);
    let saved = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("smoke-")))
        .expect("the runs were downloaded");
    let mut fresh = lab();
    fresh.run_steps(2);
    drop_file(&mut fresh, "smoke-runs.jsonl", std::fs::read(&saved).expect("read"));
    step_until(&mut fresh, 120, "the dropped sweep's fit", |l| l.mixture.settled());
    let m = &fresh.state().mixture;
    assert!(m.error.is_none(), "{:?}", m.error);
    assert_eq!(fresh.state().tab, Tab::Mixture);
    assert_eq!(m.rows.len(), 28);
    assert!(m.fits.iter().any(|f| f.target == "ledger_loss"));
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

#[test]
fn the_distillation_calculator_fits_on_a_sweep_it_runs() {
    let dir = std::env::temp_dir().join(format!("sigmix-lab-distill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("distill-smoke.jsonl");
    let mut h = lab();
    {
        let f = &mut h.state_mut().laws.distill_fit;
        f.path = path.to_string_lossy().into_owned();
        f.load();
        assert_eq!((f.planned, f.rows.len()), (25, 0));
    }
    h.state_mut().tab = Tab::Laws;
    h.run_steps(2);
    h.get_by_label("Distillation: student loss against teacher loss").click();
    h.run_steps(2);
    // The section sits below the fold: scroll it into view, then click.
    h.get_by_label("Run distillation sweep").scroll_to_me();
    h.run_steps(3);
    h.get_by_label("Run distillation sweep").click();
    step_until(&mut h, 120, "the distillation sweep and its fit", |l| {
        l.laws.distill_fit.report.is_some() || l.laws.distill_fit.error.is_some()
    });
    let f = &h.state().laws.distill_fit;
    assert!(f.error.is_none(), "{:?}", f.error);
    assert_eq!(f.rows.len(), 25);
    let Some(LawReport::Distillation(report)) = f.report.as_ref() else { panic!("a distillation report") };
    assert!(report.supervised_mre.is_finite() && report.distill_mre.is_finite());
    assert_eq!(report.crossovers.len(), 4);
    assert_eq!(std::fs::read_to_string(&path).expect("on disk").lines().count(), 25);
    assert!(dir.join("distill-smoke.weights").join("teacher-w64l1-s40.f32").exists(), "the teacher is kept");
    h.run_steps(2);
    h.get_by_label_contains("largest student predicted").scroll_to_me();
    h.run_steps(3);
    write_doc_image(&mut h, "lab-distill.png");

    // The same runs dropped onto a fresh lab go to the distillation fit, not the Mixture lab.
    let bytes = std::fs::read(&path).expect("read");
    let mut fresh = lab();
    drop_file(&mut fresh, "kd-runs.jsonl", bytes);
    step_until(&mut fresh, 60, "the dropped sweep's fit", |l| {
        l.laws.distill_fit.report.is_some() || l.laws.distill_fit.error.is_some()
    });
    assert_eq!(fresh.state().tab, Tab::Laws);
    assert!(fresh.state().laws.distill_fit.error.is_none(), "{:?}", fresh.state().laws.distill_fit.error);
    assert_eq!(fresh.state().laws.distill_fit.rows.len(), 25);

    // The Mixture lab does not offer distillation sweeps: they fit other laws.
    assert_eq!(LawSweep::of_preset("distill"), Some(LawSweep::Distillation));
    assert_eq!(LawSweep::of_preset("classroom"), None);
}

#[test]
fn the_forgetting_calculator_fits_on_a_sweep_it_runs() {
    let dir = std::env::temp_dir().join(format!("sigmix-lab-forgetting-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("forgetting-smoke.jsonl");
    let mut h = lab();
    {
        let f = &mut h.state_mut().laws.forgetting_fit;
        f.path = path.to_string_lossy().into_owned();
        f.load();
        assert_eq!((f.planned, f.rows.len()), (21, 0));
    }
    h.state_mut().tab = Tab::Laws;
    h.run_steps(2);
    h.get_by_label("Forgetting with pretraining-data injection").click();
    h.run_steps(2);
    h.get_by_label("Run forgetting sweep").scroll_to_me();
    h.run_steps(3);
    h.get_by_label("Run forgetting sweep").click();
    step_until(&mut h, 120, "the forgetting sweep and its fit", |l| {
        l.laws.forgetting_fit.report.is_some() || l.laws.forgetting_fit.error.is_some()
    });
    let f = &h.state().laws.forgetting_fit;
    assert!(f.error.is_none(), "{:?}", f.error);
    assert_eq!(f.rows.len(), 21);
    let Some(LawReport::Forgetting(report)) = f.report.as_ref() else { panic!("a forgetting report") };
    assert_eq!((report.pretrained.len(), report.finetuned.len()), (3, 18));
    assert!(dir.join("forgetting-smoke.weights").join("pretrain-w16l1-s40.f32").exists(), "pretrained weights kept");
    h.run_steps(2);
    h.get_by_label_contains("largest size predicted").scroll_to_me();
    h.run_steps(3);
    write_doc_image(&mut h, "lab-forgetting.png");

    // Exports: the runs, the fit, and a CSV row per finetuning run.
    let exports = dir.join("exports");
    h.state_mut().laws.forgetting_fit.export_dir = exports.clone();
    for button in ["Download runs", "Download fit", "Export CSV"] {
        // Every law sweep panel has these; the forgetting panel's are the last on the tab.
        // Scrolling is animated: let it settle before clicking where the button now is.
        h.get_all_by_label(button).last().expect("a button").scroll_to_me();
        h.run_steps(8);
        h.get_all_by_label(button).last().expect("a button").click();
        h.run_steps(2);
        let notice = h.state().laws.forgetting_fit.notice.clone();
        assert!(notice.as_deref().is_some_and(|n| n.starts_with("saved")), "{button}: {notice:?}");
    }
    let saved = |ext: &str| {
        let found = std::fs::read_dir(&exports).expect("exports").flatten().map(|e| e.path());
        found.filter(|p| p.extension().is_some_and(|x| x == ext)).collect::<Vec<_>>()
    };
    assert_eq!(saved("jsonl").len(), 1);
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved("json")[0]).expect("fit")).expect("JSON");
    assert!(fit["forgetting_tokens"]["mre"].as_f64().is_some_and(f64::is_finite), "{fit}");
    let csv = std::fs::read_to_string(&saved("csv")[0]).expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 19, "a header and 18 finetuning runs:\n{csv}");
    assert!(lines[0].starts_with("run,from,n,d_ft,p,") && lines[0].contains("dialogue_loss"), "{}", lines[0]);
    let predicted = lines.iter().filter(|l| l.starts_with("w48l1") && !l.ends_with(",,,")).count();
    assert_eq!(predicted, 6, "the largest size's runs carry the laws' predictions:\n{csv}");

    // The same runs dropped onto a fresh lab go to the forgetting fit.
    let bytes = std::fs::read(&path).expect("read");
    let mut fresh = lab();
    drop_file(&mut fresh, "ft-runs.jsonl", bytes);
    step_until(&mut fresh, 60, "the dropped sweep's fit", |l| {
        l.laws.forgetting_fit.report.is_some() || l.laws.forgetting_fit.error.is_some()
    });
    assert_eq!(fresh.state().tab, Tab::Laws);
    assert!(fresh.state().laws.forgetting_fit.error.is_none(), "{:?}", fresh.state().laws.forgetting_fit.error);
    assert!(fresh.state().laws.distill_fit.rows.is_empty(), "not taken for a distillation sweep");
    assert_eq!(LawSweep::of_preset("forgetting"), Some(LawSweep::Forgetting));
}

#[test]
fn the_moe_calculator_fits_on_a_sweep_it_runs_and_shows_the_optimal_sparsity() {
    let dir = std::env::temp_dir().join(format!("sigmix-lab-moe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("moe-sparsity-smoke.jsonl");
    let mut h = lab();
    {
        let f = &mut h.state_mut().laws.moe_fit;
        f.path = path.to_string_lossy().into_owned();
        f.load();
        assert_eq!((f.planned, f.rows.len()), (18, 0));
    }
    h.state_mut().tab = Tab::Laws;
    h.run_steps(2);
    h.get_by_label("Run MoE sparsity sweep").scroll_to_me();
    h.run_steps(8);
    h.get_by_label("Run MoE sparsity sweep").click();
    step_until(&mut h, 120, "the MoE sparsity sweep and its fit", |l| {
        l.laws.moe_fit.report.is_some() || l.laws.moe_fit.error.is_some()
    });
    let f = &h.state().laws.moe_fit;
    assert!(f.error.is_none(), "{:?}", f.error);
    let Some(LawReport::Moe(report)) = f.report.as_ref() else { panic!("an MoE report") };
    assert_eq!((report.slices.len(), report.optimal.len()), (6, 13));
    h.run_steps(2);
    h.get_by_label_contains("largest size predicted: MoE law").scroll_to_me();
    h.run_steps(8);
    write_doc_image(&mut h, "lab-moe-sparsity.png");

    // Dropped onto a fresh lab, the runs go to the MoE fit.
    let bytes = std::fs::read(&path).expect("read");
    let mut fresh = lab();
    drop_file(&mut fresh, "moe-runs.jsonl", bytes);
    step_until(&mut fresh, 60, "the dropped sweep's fit", |l| {
        l.laws.moe_fit.report.is_some() || l.laws.moe_fit.error.is_some()
    });
    assert_eq!(fresh.state().tab, Tab::Laws);
    assert!(fresh.state().laws.moe_fit.error.is_none(), "{:?}", fresh.state().laws.moe_fit.error);
    assert_eq!(LawSweep::of_preset("moe-sparsity"), Some(LawSweep::MoeSparsity));
    assert_eq!(LawSweep::of_rows(&fresh.state().laws.moe_fit.rows), Some(LawSweep::MoeSparsity));
}
