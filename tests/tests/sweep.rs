//! Sweeps end to end on the CPU backend: rows appended as runs finish, a killed sweep resumed
//! with nothing lost or repeated, shards merged back into the whole plan, the law fitted.

use std::path::{Path, PathBuf};

use sigmix::laws::{FitOptions, MixtureForm};
use sigmix::sweep::{
    ParamCount, Shard, SweepOptions, SweepOutcome, SweepPlan, SweepWriter, fit_and_predict, merge, mixture_form_for,
    read_rows, run_sweep,
};
use sigmix_tests::cpu;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigmix-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

fn sweep(path: &Path, resume: bool, shard: Shard) -> sigmix::Result<SweepOutcome> {
    let plan = SweepPlan::preset("smoke").expect("preset");
    run_sweep(&cpu(), &plan, path, SweepOptions { resume, shard, ..Default::default() }, &mut |_| {})
}

#[test]
fn a_killed_sweep_resumes_without_losing_or_repeating_a_run() {
    let path = temp("resume.jsonl");
    let full = sweep(&path, false, Shard::ALL).expect("the smoke sweep runs");
    assert!(full.complete() && full.trained == 28, "{} of {}", full.rows.len(), full.planned);
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.lines().count(), 28);

    // Kill it after 10 runs, in the middle of writing the 11th line.
    let lines: Vec<&str> = text.lines().collect();
    let torn = format!("{}\n{}", lines[..10].join("\n"), &lines[10][..lines[10].len() / 2]);
    std::fs::write(&path, torn).expect("write");

    let again = sweep(&path, false, Shard::ALL).expect_err("an existing file needs --resume").to_string();
    assert!(again.contains("--resume"), "{again}");

    let resumed = sweep(&path, true, Shard::ALL).expect("resumes");
    assert_eq!(resumed.trained, 18);
    assert!(resumed.complete());
    let rows = read_rows(&path).expect("readable").rows;
    assert_eq!(rows.len(), 28);
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 28, "no run repeated");
    for (kept, before) in rows.iter().zip(&full.rows).take(10) {
        assert_eq!(kept, before, "finished runs are kept as they were");
    }
    for (redone, before) in rows.iter().zip(&full.rows).skip(10) {
        let (a, b) = (redone.columns["mean_loss"], before.columns["mean_loss"]);
        assert!((a - b).abs() < 1e-3 * b, "{}: the same run gives the same loss ({a} vs {b})", redone.id);
    }
}

#[test]
fn shards_merge_into_the_whole_plan_and_conflicts_are_refused() {
    let (a, b, all) = (temp("shard0.jsonl"), temp("shard1.jsonl"), temp("all.jsonl"));
    let first = sweep(&a, false, Shard { index: 0, count: 2 }).expect("shard 0");
    assert!(!first.complete() && first.trained == 14);
    let second = sweep(&b, false, Shard { index: 1, count: 2 }).expect("shard 1");
    assert_eq!(second.trained, 14);
    let report = merge(&[a.clone(), b.clone(), a.clone()], &all).expect("merges");
    assert_eq!((report.rows, report.duplicates), (28, 14));
    let rows = read_rows(&all).expect("readable").rows;
    assert!(rows.iter().enumerate().all(|(i, r)| r.index == i), "plan order");

    // The same run with another result in a second file cannot be merged silently.
    let mut text = std::fs::read_to_string(&b).expect("read");
    text = text.replacen("\"mean_loss\":", "\"mean_loss\":1", 1);
    let c = temp("conflict.jsonl");
    std::fs::write(&c, text).expect("write");
    let err = merge(&[b, c], &temp("bad.jsonl")).expect_err("conflict").to_string();
    assert!(err.contains("different results") && err.contains("conflict.jsonl"), "{err}");
}

/// Two sweeps on one file would train the same runs twice and append both: the second is
/// refused while the first holds the file, and may resume once it lets go.
#[test]
fn a_second_sweep_on_a_file_being_written_is_refused() {
    let path = temp("locked.jsonl");
    sweep(&path, false, Shard { index: 0, count: 9 }).expect("a few runs");
    let before = read_rows(&path).expect("rows").rows.len();
    let (first, _) = SweepWriter::open(&path, true).expect("the first sweep opens it");
    let err = sweep(&path, true, Shard::ALL).expect_err("the file is held").to_string();
    assert!(err.contains("locked.jsonl") && err.contains("another sweep") && err.contains("--resume"), "{err}");
    assert_eq!(read_rows(&path).expect("rows").rows.len(), before, "nothing was appended beside the first");
    drop(first);
    let done = sweep(&path, true, Shard::ALL).expect("resumes once the first let go");
    assert!(done.complete() && done.trained == 28 - before, "{} trained", done.trained);
}

#[test]
fn a_file_of_another_sweep_is_not_resumed_into() {
    let path = temp("other.jsonl");
    sweep(&path, false, Shard { index: 0, count: 9 }).expect("a few runs");
    let text = std::fs::read_to_string(&path).expect("read").replace("\"sweep\":\"smoke\"", "\"sweep\":\"other\"");
    std::fs::write(&path, text).expect("write");
    let err = sweep(&path, true, Shard::ALL).expect_err("not this plan").to_string();
    assert!(err.contains("`other`") && err.contains("another --out"), "{err}");

    std::fs::write(&path, "{\"sweep\": 1}\n{}\n").expect("write");
    let err = sweep(&path, true, Shard::ALL).expect_err("not rows").to_string();
    assert!(err.contains("line 1, column") && err.contains("other.jsonl"), "{err}");
}

#[test]
fn the_law_is_fitted_on_the_small_sizes_and_predicts_the_largest() {
    let path = temp("fit.jsonl");
    let outcome = sweep(&path, false, Shard::ALL).expect("runs");
    // The smoke sweep's 21 runs below the largest size are just enough for the joint law's 21.
    assert_eq!(mixture_form_for(&outcome.rows, MixtureForm::Joint), MixtureForm::Joint);
    assert_eq!(mixture_form_for(&outcome.rows[..20], MixtureForm::Joint), MixtureForm::Additive);
    for form in [MixtureForm::Additive, MixtureForm::Joint] {
        let fits = fit_and_predict(
            &outcome.rows,
            ParamCount::NonEmbedding,
            form,
            &FitOptions { starts: 2, hops: 2, ..Default::default() },
        )
        .expect("fits");
        assert_eq!(fits.len(), 5, "four domains and the mean");
        for f in &fits {
            assert_eq!(f.fit.law, form.name());
            assert_eq!((f.fit.rows, f.held_out.len()), (21, 7), "{}", f.target);
            assert!(f.held_out_mre.is_finite() && f.fit.train_mre < 0.2, "{}: {}", f.target, f.fit.train_mre);
        }
    }
    let too_few =
        fit_and_predict(&outcome.rows[..14], ParamCount::Total, MixtureForm::Additive, &FitOptions::default());
    assert!(too_few.expect_err("two sizes").to_string().contains("at least three"));
}
