//! Forgetting end to end: a finetuning run starts from a pretrained model's weights on both
//! backends alike and refuses to start from a random one; finetuning on dialogue raises the
//! pretraining loss and injected pretraining data holds it down; a forgetting sweep fits its
//! laws, and a killed one resumes with every finished run intact, finetuning the same
//! pretrained models (kept beside the file, or trained again once each when they are gone).

use std::path::{Path, PathBuf};

use sigmix::data::{DIALOGUE, dialogue};
use sigmix::laws::FitOptions;
use sigmix::models::GptConfig;
use sigmix::sweep::{SweepOutcome, SweepPlan, fit_forgetting, read_rows};
use sigmix::train::{RunConfig, Trainer, train_trainer_async};
use sigmix_tests::{assert_resumed, block_on, cpu, devices, sweep_counting_retrained, tear, temp_path};

fn pretrain() -> RunConfig {
    RunConfig {
        model: GptConfig { context: 32, d_model: 32, n_layers: 1, n_heads: 2, ..GptConfig::default() },
        batch: 4,
        steps: 40,
        train_bytes: 40_000,
        eval_every: 0,
        eval_batches: 1,
        log_every: 1,
        mixture: vec![1.0; 4],
        ..RunConfig::default()
    }
    .with_dialogue_target(8_000)
    .expect("dialogue")
}

fn finetune(p: f64) -> RunConfig {
    RunConfig {
        steps: 30,
        mixture: vec![p / 4.0, p / 4.0, p / 4.0, p / 4.0, 1.0 - p],
        init_from: Some("pretrain".into()),
        ..pretrain()
    }
}

fn pretrained_weights() -> Vec<f32> {
    let t = block_on(train_trainer_async(Trainer::new(&cpu(), &pretrain()).expect("builds"), &mut |_| {}))
        .expect("pretrains");
    block_on(t.read_weights()).expect("reads")
}

#[test]
fn a_finetuning_run_needs_its_pretrained_weights_before_its_first_step() {
    let mut t = Trainer::new(&cpu(), &finetune(0.0)).expect("builds");
    let err = t.step().expect_err("no weights yet").to_string();
    assert!(err.contains("`pretrain`") && err.contains("start_from"), "{err}");
    let err = t.start_from(&[0.0; 7]).expect_err("wrong length").to_string();
    assert!(err.contains("7 numbers"), "{err}");
}

#[test]
fn finetuning_forgets_injection_holds_it_down_and_both_backends_agree() {
    let weights = pretrained_weights();
    let pt = |losses: &[f32]| losses[..4].iter().sum::<f32>() / 4.0;
    let mut before = Trainer::new(&cpu(), &finetune(0.0)).expect("builds");
    before.start_from(&weights).expect("loads");
    let start = before.evaluate_now().expect("evaluates").per_domain;
    let after = |dev: &sigmix::tensor::Device, p: f64| {
        let mut t = Trainer::new(dev, &finetune(p)).expect("builds");
        t.start_from(&weights).expect("loads");
        let t = block_on(train_trainer_async(t, &mut |_| {})).expect("finetunes");
        t.record().final_eval().expect("evaluated").per_domain.clone()
    };
    let plain = after(&cpu(), 0.0);
    let injected = after(&cpu(), 0.3);
    assert!(plain[4] < start[4] - 0.3, "the target is learnt: {} → {}", start[4], plain[4]);
    assert!(pt(&plain) > pt(&start) + 0.05, "finetuning forgets: {} → {}", pt(&start), pt(&plain));
    assert!(pt(&injected) < pt(&plain) - 0.02, "injection holds it down: {} vs {}", pt(&injected), pt(&plain));
    for dev in devices().into_iter().skip(1) {
        let other = after(&dev, 0.0);
        for (a, b) in other.iter().zip(&plain) {
            assert!((a - b).abs() < 5e-3 * b, "{} vs the CPU backend: {a} vs {b}", dev.info().name);
        }
    }
}

#[test]
fn forgetting_plans_refuse_what_they_cannot_train() {
    let mut plan = SweepPlan::preset("forgetting-smoke").expect("preset");
    plan.forgetting.as_mut().expect("forgetting").injections.push(1.0);
    let err = plan.runs().expect_err("p = 1").to_string();
    assert!(err.contains("injected fraction 1"), "{err}");
    let mut plan = SweepPlan::preset("forgetting-smoke").expect("preset");
    plan.base.remove_texts();
    let err = plan.runs().expect_err("no target").to_string();
    assert!(err.contains("--text"), "{err}");
    let runs = SweepPlan::preset("forgetting").expect("preset").runs().expect("plans");
    assert_eq!(runs.len(), 52);
    assert_eq!(runs[4].config.init_from.as_deref(), Some("pretrain-w32l2-s800"));
    assert_eq!(runs[5].config.mixture, vec![0.0025, 0.0025, 0.0025, 0.0025, 0.99]);
    assert_eq!(runs[0].config.texts[0].name, DIALOGUE);
    assert_eq!(runs[0].config.texts[0], dialogue(60_000).expect("dialogue").reference(), "needs no file");
}

fn temp(name: &str) -> PathBuf {
    temp_path("sigmix-forgetting", name)
}

/// Runs the smoke sweep into `path`, counting the runs trained again for their weights.
fn sweep(path: &Path, resume: bool) -> (SweepOutcome, usize) {
    sweep_counting_retrained("forgetting-smoke", path, resume)
}

#[test]
fn a_forgetting_sweep_fits_its_laws_and_resumes_with_its_pretrained_models() {
    let path = temp("forgetting.jsonl");
    let weights = path.with_extension("weights");
    let _ = std::fs::remove_dir_all(&weights);
    let (full, retrained) = sweep(&path, false);
    assert!(full.complete() && full.trained == 21 && retrained == 0);
    assert!(weights.join("pretrain-w48l1-s40.f32").exists(), "the pretrained weights are kept");

    let report = fit_forgetting(&full.rows, &FitOptions::default()).expect("fits");
    assert_eq!((report.pretrained.len(), report.finetuned.len()), (3, 18));
    for f in [&report.forgetting, &report.forgetting_tokens] {
        assert_eq!((f.law.rows, f.held_out.len(), f.mre_by_injection.len()), (12, 6, 3));
        assert!(f.mre.is_finite(), "{f:?}");
    }
    assert_eq!((report.target_law.rows, report.target_held_out.len()), (12, 6));
    assert!(report.target_mre.is_finite());
    let ps: Vec<f64> = report.by_injection.iter().map(|s| s.p).collect();
    assert_eq!(ps, vec![0.0, 0.05, 0.2]);
    assert!(report.by_injection[0].rise > 0.0, "finetuning forgets: {:?}", report.by_injection[0]);
    assert!(report.by_injection[2].rise < report.by_injection[0].rise, "{:?}", report.by_injection);
    assert!(report.takeaway().starts_with("5% injection"), "{}", report.takeaway());

    // Killed while writing the 5th line (the 2nd finetuning run): resumed, the pretrained
    // models come from their files.
    let text = std::fs::read_to_string(&path).expect("read");
    let kill = || tear(&path, &text, 4);
    kill();
    let (resumed, retrained) = sweep(&path, true);
    assert_eq!((resumed.trained, retrained), (17, 0));
    assert_resumed(&read_rows(&path).expect("readable").rows, &full.rows, 4);

    // Without the weights folder each pretrained model is trained once more, to the same runs.
    std::fs::remove_dir_all(&weights).expect("remove");
    kill();
    let (again, retrained) = sweep(&path, true);
    assert_eq!((again.trained, retrained), (17, 3));
    assert_resumed(&again.rows, &full.rows, 4);
}
