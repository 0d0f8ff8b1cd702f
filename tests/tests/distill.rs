//! Distillation end to end: a student learns from a teacher's logits computed batch by batch on
//! both backends alike; a distillation sweep trains its teachers first, fits the supervised and
//! distillation laws, and a killed sweep resumes with every finished run intact and without
//! training its teachers again (or trains one again, once, when its weights are gone).

use std::path::{Path, PathBuf};

use sigmix::kernels::distill::DistillLoss;
use sigmix::laws::FitOptions;
use sigmix::models::GptConfig;
use sigmix::optim::LrSchedule;
use sigmix::sweep::{SweepOutcome, fit_distillation, read_rows};
use sigmix::train::{DistillSpec, RunConfig, Trainer, train_trainer_async};
use sigmix_tests::{assert_resumed, block_on, cpu, devices, sweep_counting_retrained, tear, temp_path};

fn student(steps: usize) -> RunConfig {
    RunConfig {
        model: GptConfig { context: 32, d_model: 32, n_layers: 1, n_heads: 2, ..GptConfig::default() },
        batch: 4,
        steps,
        train_bytes: 40_000,
        eval_every: 0,
        eval_batches: 1,
        log_every: 1,
        ..RunConfig::default()
    }
}

fn distilled(teacher: &RunConfig, loss: DistillLoss) -> RunConfig {
    RunConfig {
        distill: Some(DistillSpec { teacher: teacher.model.clone(), teacher_run: "teacher".into(), loss }),
        schedule: LrSchedule { lr: 3e-3, warmup: 5, min_ratio: 0.1 },
        ..student(30)
    }
}

#[test]
fn a_student_distilled_from_its_own_copy_has_nothing_to_learn() {
    // Same architecture and seed: the teacher is the student's initial state, so the first
    // step's pure distillation loss is 0 (same batch, same logits).
    let cfg = distilled(&student(1), DistillLoss::default());
    let init = Trainer::with_texts(&cpu(), &student(1), &[]).expect("builds");
    let weights = block_on(init.read_weights()).expect("reads");
    let mut t = Trainer::with_teacher(&cpu(), &cfg, &[], Some(&weights)).expect("builds");
    let first = t.step().expect("steps").loss.expect("logged");
    assert!(first.abs() < 1e-6, "loss {first}");
}

#[test]
fn both_backends_distil_alike_and_the_student_moves_towards_its_teacher() {
    let teacher_cfg =
        RunConfig { model: GptConfig { d_model: 64, n_heads: 4, ..student(1).model }, seed: 9, ..student(40) };
    let teacher =
        block_on(train_trainer_async(Trainer::with_texts(&cpu(), &teacher_cfg, &[]).expect("builds"), &mut |_| {}))
            .expect("trains");
    let weights = block_on(teacher.read_weights()).expect("reads");
    let cfg = distilled(&teacher_cfg, DistillLoss { temperature: 2.0, lambda: 0.7 });
    let mut curves = Vec::new();
    for dev in devices() {
        let t = Trainer::with_teacher(&dev, &cfg, &[], Some(&weights)).expect("builds");
        let t = block_on(train_trainer_async(t, &mut |_| {})).expect("distils");
        curves.push(t.record().curve);
    }
    let (a, b) = (&curves[0], &curves[1]);
    for (x, y) in a.iter().zip(b).take(4) {
        assert!((x.loss - y.loss).abs() < 2e-3 * x.loss, "step {}: CPU {} vs GPU {}", x.step, x.loss, y.loss);
    }
    let (first, last) = (a[0].loss, a[a.len() - 1].loss);
    assert!(last < 0.85 * first, "the distillation loss fell only from {first} to {last}");
}

#[test]
fn a_teacher_trained_on_one_backend_teaches_on_the_other() {
    // Width 48: biases of 48 numbers leave alignment gaps in a GPU's parameter slab; the
    // weights travel packed, so the gaps never shift them.
    let teacher_cfg = RunConfig { model: GptConfig { d_model: 48, n_heads: 3, ..student(1).model }, ..student(3) };
    let [cpu, gpu] = devices();
    let trained =
        block_on(train_trainer_async(Trainer::with_texts(&cpu, &teacher_cfg, &[]).expect("builds"), &mut |_| {}))
            .expect("trains");
    let weights = block_on(trained.read_weights()).expect("reads");
    assert_eq!(weights.len(), teacher_cfg.model.param_count());
    let on_gpu = Trainer::with_texts(&gpu, &teacher_cfg, &[]).expect("builds");
    on_gpu.model().weights().write_packed(&weights).expect("loads");
    assert_eq!(block_on(on_gpu.read_weights()).expect("reads"), weights, "the round trip keeps every number");
    let cfg = RunConfig { distill: distilled(&teacher_cfg, DistillLoss::default()).distill, ..student(2) };
    let mut t = Trainer::with_teacher(&gpu, &cfg, &[], Some(&weights)).expect("a CPU teacher on the GPU");
    assert!(t.step().expect("steps").loss.expect("logged").is_finite());
}

#[test]
fn a_distillation_run_refuses_a_missing_or_wrong_teacher() {
    let cfg = distilled(&student(1), DistillLoss::default());
    let err = Trainer::with_texts(&cpu(), &cfg, &[]).err().expect("no weights").to_string();
    assert!(err.contains("train that teacher first"), "{err}");
    let err = Trainer::with_teacher(&cpu(), &cfg, &[], Some(&[0.0; 10])).err().expect("too short").to_string();
    assert!(err.contains("hold 10 numbers"), "{err}");
    let mut other = cfg.clone();
    other.distill.as_mut().expect("set").teacher.context = 64;
    let err = other.validate().expect_err("context differs").to_string();
    assert!(err.contains("same of both"), "{err}");
    let mut hot = cfg;
    hot.distill.as_mut().expect("set").loss.lambda = 1.5;
    assert!(hot.validate().expect_err("λ > 1").to_string().contains("[0, 1]"));
}

fn temp(name: &str) -> PathBuf {
    temp_path("sigmix-distill", name)
}

/// Runs the smoke sweep into `path`, counting the runs trained again for their weights.
fn sweep(path: &Path, resume: bool) -> (SweepOutcome, usize) {
    sweep_counting_retrained("distill-smoke", path, resume)
}

#[test]
fn a_distillation_sweep_fits_both_laws_and_resumes_with_its_teachers() {
    let path = temp("distill.jsonl");
    let _ = std::fs::remove_dir_all(path.with_extension("weights"));
    let (full, retrained) = sweep(&path, false);
    assert!(full.complete() && full.trained == 25 && retrained == 0);
    assert!(path.with_extension("weights").join("teacher-w64l1-s40.f32").exists(), "the teacher's weights are kept");

    let report = fit_distillation(&full.rows, &FitOptions::default()).expect("fits");
    assert_eq!((report.supervised.rows, report.distill.rows), (9, 9));
    assert_eq!((report.supervised_held_out.len(), report.distill_held_out.len()), (3, 3));
    assert!(report.supervised_mre.is_finite() && report.distill_mre.is_finite());
    assert_eq!(report.teachers.len(), 1);
    assert_eq!(report.crossovers.len(), 4, "one per student size and teacher");
    assert_eq!(report.measured_gain.len(), 12);

    // Killed while writing the 9th line: resumed, the teacher's weights come from its file.
    let text = std::fs::read_to_string(&path).expect("read");
    let kill = || tear(&path, &text, 8);
    kill();
    let (resumed, retrained) = sweep(&path, true);
    assert_eq!((resumed.trained, retrained), (17, 0));
    assert_resumed(&read_rows(&path).expect("readable").rows, &full.rows, 8);

    // Without the teachers' folder the teacher is trained once more, to the same students.
    std::fs::remove_dir_all(path.with_extension("weights")).expect("remove");
    kill();
    let (again, retrained) = sweep(&path, true);
    assert_eq!((again.trained, retrained), (17, 1));
    assert_resumed(&again.rows, &full.rows, 8);
}
