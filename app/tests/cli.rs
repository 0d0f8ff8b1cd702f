//! The command line as a user meets it: exit codes, tables, and one clear line on bad input.

// Helpers of a test may panic: the panic is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Output};

fn sigmix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigmix")).args(args).output().expect("the sigmix binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn info_names_the_device_and_the_adapter() {
    let o = sigmix(&["info", "--device", "cpu"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("native CPU backend"), "{}", text(&o));
    let o = sigmix(&["info", "--device", "gpu"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("adapter"), "{}", text(&o));
}

#[test]
fn an_unknown_device_is_refused_with_the_choices() {
    let o = sigmix(&["info", "--device", "tpu"]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("auto, gpu, cpu"), "{t}");
}

#[test]
fn selftest_passes_every_kernel_on_both_backends() {
    for device in ["cpu", "gpu"] {
        let o = sigmix(&["selftest", "--seed", "3", "--device", device]);
        let t = text(&o);
        assert!(o.status.success(), "{t}");
        assert!(t.contains(" 0 failed"), "{t}");
    }
}

#[test]
fn an_unknown_preset_lists_the_real_ones() {
    let o = sigmix(&["train", "--preset", "huge"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("no preset named `huge`") && t.contains("tiny"), "{t}");
    assert_eq!(t.lines().count(), 1, "one clear line, got: {t}");
}

#[test]
fn a_malformed_config_names_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("sigmix-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.json");
    std::fs::write(&path, "{\n  \"steps\": 10,\n  \"batch\": \"many\"\n}\n").expect("write");
    let o = sigmix(&["train", "--config", path.to_str().expect("utf-8 path")]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("bad.json") && t.contains("line 3"), "{t}");
}

#[test]
fn train_writes_a_run_record() {
    let out = std::env::temp_dir().join(format!("sigmix-run-{}.json", std::process::id()));
    let o = sigmix(&["train", "--preset", "smoke", "--steps", "12", "--out", out.to_str().expect("utf-8 path")]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("unigram entropy"), "{t}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("record written")).expect("valid JSON");
    assert_eq!(record["config"]["steps"], 12);
    assert_eq!(record["domains"].as_array().map(|a| a.len()), Some(4));
}

#[test]
fn an_adapter_that_does_not_exist_is_explained() {
    let o = Command::new(env!("CARGO_BIN_EXE_sigmix"))
        .arg("info")
        .env("SIGMIX_ADAPTER", "no-such-gpu")
        .output()
        .expect("runs");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("matched none of") && t.contains("mesa-vulkan-drivers"), "{t}");
}

#[test]
fn fit_reports_train_and_held_out_error_on_the_public_table() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/dmsl_llm_slimpajama_small.csv");
    let o = sigmix(&[
        "fit",
        "--law",
        "chinchilla",
        "--data",
        data,
        "--target",
        "c4_loss",
        "--fit-max-n",
        "7e8",
        "--starts",
        "2",
        "--hops",
        "1",
        "--json",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let v: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).expect("JSON");
    assert_eq!(v[0]["held_out_rows"], 440, "the 937M rows are held out");
    assert!(v[0]["held_out_mre"].as_f64().is_some_and(|m| m < 0.1), "{t}");
}

#[test]
fn a_malformed_run_table_names_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("sigmix-fit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("runs.csv");
    std::fs::write(&path, "model_size,n_tokens,loss\n1e7,1e9,3.1\n2e7,oops,2.9\n").expect("write");
    let o = sigmix(&["fit", "--law", "chinchilla", "--data", path.to_str().expect("utf-8"), "--target", "loss"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("runs.csv") && t.contains("line 3") && t.contains("column 2"), "{t}");
}

#[test]
fn a_sweep_fits_predicts_and_feeds_fit_and_mix() {
    let dir = std::env::temp_dir().join(format!("sigmix-cli-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (runs, fits) = (dir.join("runs.jsonl"), dir.join("fits.json"));
    let _ = std::fs::remove_file(&runs);
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();
    let o = sigmix(&[
        "--device",
        "cpu",
        "sweep",
        "--preset",
        "smoke",
        "--out",
        &path(&runs),
        "--fit-out",
        &path(&fits),
        "--check-optimum",
        "code_loss",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("28 of 28 planned runs") && t.contains("| mean_loss | 21 |") && t.contains("predicted"), "{t}");
    // The mixtures within the held-out size's middle budget, measured and predicted.
    assert!(t.contains("within one (N, D) group") && t.contains("| code_loss | 5120 | 5 |"), "{t}");
    // The optimum for code trained against the uniform run at the largest size and budget.
    assert!(t.contains("training w48l1-s40-m00 at the mixture predicted best for code_loss"), "{t}");
    assert!(t.contains("gain predicted") && t.contains("measured"), "{t}");

    let o = sigmix(&["--device", "cpu", "sweep", "--preset", "smoke", "--out", &path(&runs)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--resume"), "{}", text(&o));

    let o = sigmix(&[
        "fit",
        "--law",
        "mixture-additive",
        "--data",
        &path(&runs),
        "--target",
        "mean_loss",
        "--n-col",
        "non_embedding_params",
        "--fit-max-n",
        "2e4",
        "--bootstrap",
        "4",
        "--starts",
        "2",
        "--hops",
        "2",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("| mean_loss | 21 |") && t.contains("bootstrap refits") && t.contains("gamma3"), "{t}");

    let o = sigmix(&["mix", "--fit", &path(&fits), "--n", "1e5,1e6", "--d", "1e6", "--floor", "0.05"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("prose") && t.contains("records") && t.lines().count() == 4, "{t}");

    for (input, out) in [(&runs, dir.join("runs.png")), (&fits, dir.join("fits.svg"))] {
        let o = sigmix(&["plot", &path(input), "-o", &path(&out)]);
        assert!(o.status.success(), "{}", text(&o));
        let bytes = std::fs::read(&out).expect("the plot is written");
        assert!(bytes.starts_with(b"\x89PNG") || bytes.starts_with(b"<svg"), "{out:?} is not an image");
        assert!(bytes.len() > 10_000, "{out:?} is nearly empty: {} bytes", bytes.len());
    }
    let o = sigmix(&["plot", &path(&runs), "--target", "nope_loss", "-o", &path(&dir.join("x.png"))]);
    assert!(!o.status.success() && text(&o).contains("prose_loss"), "{}", text(&o));
}

#[test]
fn a_sweep_plan_can_be_listed_and_sharded() {
    let o = sigmix(&["sweep", "--preset", "classroom", "--dry-run", "--shard", "1/4"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // 45 runs: every fourth from index 1 is 11; the other mixtures only at 1600 steps.
    assert_eq!(t.lines().count(), 1 + 11, "{t}");
    assert!(t.contains("41 w64l2-s1600-m04") && !t.contains("s800-m04"), "{t}");
    let o = sigmix(&["sweep", "--shard", "4/4", "--dry-run"]);
    assert!(!o.status.success() && text(&o).contains("I/N"), "{}", text(&o));
}

#[test]
fn without_a_display_the_lab_says_so_in_one_line() {
    let o = Command::new(env!("CARGO_BIN_EXE_sigmix"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("the sigmix binary runs");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert_eq!(t.lines().count(), 1, "{t}");
    assert!(t.contains("no display") && t.contains("sigmix --help"), "{t}");
}

#[test]
fn train_takes_a_text_file_as_a_domain_and_refuses_one_too_small() {
    let dir = std::env::temp_dir().join(format!("sigmix-cli-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let notes = dir.join("notes.txt");
    let line = "the ferry leaves at nine and the market opens at ten\n";
    std::fs::write(&notes, line.repeat(200)).expect("write");
    let o = sigmix(&["train", "--preset", "smoke", "--device", "cpu", "--text", notes.to_str().expect("utf-8")]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.lines().any(|l| l.starts_with("notes ")), "the text's held-out loss is reported: {t}");

    let tiny = dir.join("tiny.txt");
    std::fs::write(&tiny, "too short").expect("write");
    let o = sigmix(&["train", "--preset", "smoke", "--device", "cpu", "--text", tiny.to_str().expect("utf-8")]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("at least 4096") && t.lines().count() <= 2, "one clear line: {t}");
}

#[test]
fn cuda_requests_without_a_card_get_one_clear_line() {
    if Command::new("nvidia-smi").output().is_ok_and(|o| o.status.success()) {
        return; // a card is present: bench/gpu.sh exercises these
    }
    let o = sigmix(&["selftest", "--cuda"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("built without CUDA") || err.contains("libcuda"), "{err}");
    let o = sigmix(&["bench", "--backend", "cuda"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("attention suite only"));
}

#[test]
fn the_tta_preset_prints_every_method_and_refuses_a_batch_that_does_not_split_the_stream() {
    let dir = std::env::temp_dir().join(format!("sigmix-cli-tta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("tta.csv");
    let args = ["train", "--preset", "tta", "--device", "cpu", "--steps", "100", "--stream-len", "256"];
    let o = sigmix(
        &[&args[..], &["--severities", "2,5", "--test-batches", "1,64", "--csv", csv.to_str().expect("utf-8")]]
            .concat(),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("| severity | batch | source | tent | filter | realm |"), "{t}");
    assert!(t.contains("| 5 | 1 |") && t.contains("| 2 | 64 |"), "{t}");
    assert!(t.contains("Tent at batch 1, severity 5"), "{t}");
    let curves = std::fs::read_to_string(&csv).expect("curves written");
    assert!(curves.starts_with("corruption,severity,batch,method,seen"));
    assert!(curves.lines().any(|l| l.starts_with("mixed,5,1,realm,256,")), "the last point of a stream");
    let o = sigmix(&[&args[..], &["--test-batches", "1,48"]].concat());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("256 samples") && t.contains("batches of 48"), "{t}");
    assert_eq!(t.lines().count(), 1, "one clear line, got: {t}");
    let o = sigmix(&[&args[..], &["--corruption", "fog"]].concat());
    assert!(text(&o).contains("unknown corruption \"fog\""), "{}", text(&o));
}

#[test]
fn the_byol_presets_train_and_refuse_a_batch_of_one_and_a_kappa_that_does_not_divide() {
    let dir = std::env::temp_dir().join(format!("sigmix-cli-byol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("byol.csv");
    let o = sigmix(&[
        "train",
        "--preset",
        "byol",
        "--device",
        "cpu",
        "--steps",
        "50",
        "--csv",
        csv.to_str().expect("utf-8"),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("| step | samples seen | probe test accuracy: online | target |"), "{t}");
    assert!(t.contains("| 50 | 3200 |"), "the last probe at 50 steps of 64: {t}");
    let curves = std::fs::read_to_string(&csv).expect("curves written");
    assert!(curves.starts_with("what,step,samples_seen,value\n") && curves.contains("target_probe,50,3200,"));
    let o = sigmix(&["train", "--preset", "byol", "--device", "cpu", "--batch", "1"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("1 samples per step"), "{t}");
    assert_eq!(t.lines().count(), 1, "one clear line, got: {t}");
    let o = sigmix(&["train", "--preset", "ema-rule", "--device", "cpu", "--kappas", "1,3"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("κ = 3") && t.contains("1600 base steps"), "{t}");
    assert_eq!(t.lines().count(), 1, "one clear line, got: {t}");
}

/// Runs the law sweep `preset` into a fresh folder as `<stem>.jsonl` with its fit written to
/// `<stem>-fit.json`; hands back the folder, the printed text (after checking it succeeded),
/// the command line's first arguments (to run the same sweep again with more) and the fit.
fn law_sweep(preset: &str, stem: &str) -> (std::path::PathBuf, String, Vec<String>, serde_json::Value) {
    let dir = std::env::temp_dir().join(format!("sigmix-cli-{stem}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = |name: String| dir.join(name).to_str().expect("utf-8 path").to_string();
    let args: Vec<String> = ["--device", "cpu", "sweep", "--preset", preset, "--out"]
        .map(String::from)
        .into_iter()
        .chain([path(format!("{stem}.jsonl"))])
        .collect();
    let fits = path(format!("{stem}-fit.json"));
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(["--fit-out", &fits]);
    let o = sigmix(&all);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let report = serde_json::from_str(&std::fs::read_to_string(&fits).expect("fit written")).expect("JSON");
    (dir, t, args, report)
}

#[test]
fn the_distillation_sweep_trains_its_teacher_first_and_answers_the_compute_question() {
    let (dir, t, _, report) = law_sweep("distill-smoke", "kd");
    assert!(t.find("teacher-w64l1-s40").expect("the teacher is listed") < t.find("w16l1-s10-m00").expect("a student"));
    for want in [
        "25 of 25 planned runs",
        "supervised, largest student: held-out MRE",
        "distilled, largest student",
        "at equal training compute",
    ] {
        assert!(t.contains(want), "missing `{want}`:\n{t}");
    }
    assert!(report["distill_mre"].as_f64().is_some_and(f64::is_finite), "{report}");
    assert!(dir.join("kd.weights").join("teacher-w64l1-s40.f32").exists());
}

#[test]
fn the_forgetting_sweep_pretrains_finetunes_and_reports_what_injection_prevents() {
    let (dir, t, args, report) = law_sweep("forgetting-smoke", "ft");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();
    assert!(t.find("pretrain-w16l1-s40").expect("pretrained first") < t.find("w16l1-ft10-p0.000").expect("finetuned"));
    for want in [
        "21 of 21 planned runs",
        "per injected fraction p",
        "injection",
        "pretraining loss after finetuning, largest size: held-out MRE",
        "the injected-tokens form",
        "dialogue loss after finetuning, largest size",
    ] {
        assert!(t.contains(want), "missing `{want}`:\n{t}");
    }
    assert!(report["forgetting"]["mre"].as_f64().is_some_and(f64::is_finite), "{report}");
    assert!(report["forgetting_tokens"]["mre"].as_f64().is_some_and(f64::is_finite), "{report}");
    assert_eq!(report["by_injection"].as_array().map(Vec::len), Some(3));
    assert!(dir.join("ft.weights").join("pretrain-w48l1-s40.f32").exists());

    // A text of the user's own replaces the dialogue as the target.
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "the quick brown fox jumps over the lazy dog. ".repeat(200)).expect("write");
    let o = sigmix(&[&args[..], &["--text", &path(&notes), "--dry-run"]].concat());
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("0.250,0.250,0.250,0.250,0.000") && t.contains("0.050,0.050,0.050,0.050,0.800"), "{t}");
    let o = sigmix(&[&args[..], &["--text", &path(&notes), "--show-plan"]].concat());
    let t = text(&o);
    assert!(t.contains("\"notes\"") && !t.contains("\"dialogue\""), "{t}");
}

#[test]
fn the_moe_sparsity_sweep_prints_its_isoflop_slices_and_the_optimal_sparsity() {
    let (_, t, _, report) = law_sweep("moe-sparsity-smoke", "moe");
    for want in [
        "18 of 18 planned runs",
        "IsoFLOP slices (top-2 routing",
        "w48l1 · 20 steps",
        "(held out)",
        "largest size: held-out MRE",
        "optimal sparsity per compute budget",
    ] {
        assert!(t.contains(want), "missing `{want}`:\n{t}");
    }
    assert!(report["mre"].as_f64().is_some_and(f64::is_finite), "{report}");
    assert_eq!(report["optimal"].as_array().map(Vec::len), Some(13));
}

/// `sigmix … | head`: the reader goes away before the output is written. The command ends
/// (quietly, like any Unix tool) instead of panicking on the closed pipe.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_command_without_a_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigmix"))
        .args(["sweep", "--preset", "classroom", "--dry-run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sigmix binary runs");
    // Close the reading end at once: the first line printed meets a closed pipe.
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("it ends");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "a panic's exit code: {err}");
}
