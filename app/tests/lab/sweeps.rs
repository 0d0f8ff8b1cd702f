//! The Mixture lab and the law calculators: sweeps run, fitted, predicted; dropped texts and sweeps.

use egui_kittest::kittest::Queryable;
use sigmix::DeviceChoice;
use sigmix_app::jobs::{LawReport, LawSweep};
use sigmix_app::lab::{Lab, Tab};
use sigmix_app::ui::train::Status;

use super::common::*;

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
