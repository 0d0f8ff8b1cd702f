//! Faults a long job meets, injected into the real `sigmix` binary: a sweep killed with
//! SIGKILL at random points, a disk that fills up under it, a folder it may not write to, a
//! training run that diverges.
//! Every finished run survives, none is repeated, and the error says what happened.

// Helpers of a test may panic: the panic is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sigmix::sweep::{SweepRow, read_rows};

fn sigmix() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sigmix"));
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn smoke_sweep(out: &Path) -> Command {
    let mut c = sigmix();
    c.args(["sweep", "--preset", "smoke", "--device", "cpu", "--no-fit", "--resume", "--out"]).arg(out);
    c
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigmix-faults-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A row without what differs between two runs of the same cell (timing).
fn comparable(row: &SweepRow) -> serde_json::Value {
    let mut v = serde_json::to_value(row).expect("serialises");
    if let Some(m) = v.as_object_mut() {
        m.remove("seconds");
        m.remove("tokens_per_sec");
    }
    v
}

/// The smoke sweep run once without faults: what every interrupted copy must agree with.
fn reference(dir: &Path) -> Vec<SweepRow> {
    let path = dir.join("whole.jsonl");
    let o = smoke_sweep(&path).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = read_rows(&path).expect("reads").rows;
    assert_eq!(rows.len(), 28, "the smoke sweep plans 28 runs");
    rows
}

/// Every row of `path` is a finished run of the reference, each index once.
fn check_intact(path: &Path, whole: &[SweepRow]) -> usize {
    let read = read_rows(path).expect("a killed sweep's file still reads");
    let mut seen = std::collections::HashSet::new();
    for row in &read.rows {
        assert!(seen.insert(row.index), "run {} appears twice", row.index);
        assert_eq!(
            comparable(row),
            comparable(&whole[row.index]),
            "run {} differs from the uninterrupted sweep",
            row.index
        );
    }
    read.rows.len()
}

#[test]
fn a_sweep_killed_at_random_points_resumes_with_every_finished_run_intact() {
    let dir = scratch("kill");
    let whole = reference(&dir);
    let path = dir.join("cut.jsonl");
    // A fixed xorshift stream of kill times: random points, the same in every run of the test.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut kills, mut counts) = (0, Vec::new());
    while kills < 6 {
        let mut child = smoke_sweep(&path).spawn().expect("starts");
        let wait = Duration::from_millis(100 + next() % 500);
        let t0 = Instant::now();
        while t0.elapsed() < wait && child.try_wait().expect("polls").is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if child.try_wait().expect("polls").is_some() {
            break;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        kills += 1;
        counts.push(check_intact(&path, &whole));
    }
    eprintln!("killed {kills} times; runs kept after each kill: {counts:?}");
    assert!(kills >= 3, "the sweep was killed only {kills} times: make the kill times shorter");
    assert!(counts.windows(2).all(|w| w[1] >= w[0]), "finished runs were lost between kills: {counts:?}");
    let o = smoke_sweep(&path).output().expect("runs");
    assert!(o.status.success(), "the last resume finishes: {}", stderr(&o));
    assert_eq!(check_intact(&path, &whole), 28, "after {kills} kills ({counts:?} runs kept), every run once");
}

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_the_sweep_with_a_clear_error_and_keeps_what_was_written() {
    let dir = scratch("full");
    let small = dir.join("small");
    std::fs::create_dir_all(&small).expect("mount point");
    // A 12 KiB tmpfs holds about a dozen runs. Mounting needs root (CI runs as root).
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12k", "tmpfs"])
        .arg(&small)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(std::env::var_os("CI").is_none(), "CI must be able to mount a small tmpfs for this test");
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Mounted(small.clone());
    let whole = reference(&dir);
    let path = small.join("runs.jsonl");
    let o = smoke_sweep(&path).output().expect("runs");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("runs.jsonl") && err.contains("No space left"),
        "the error names the file and the cause: {err}"
    );
    assert_eq!(err.trim().lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    let kept = check_intact(&path, &whole);
    eprintln!("the disk filled after {kept} runs: {}", err.trim());
    assert!((1..28).contains(&kept), "{kept} runs fitted before the disk filled");
    // Moved to a disk with room, the same file resumes to the end.
    let moved = dir.join("moved.jsonl");
    std::fs::copy(&path, &moved).expect("copies");
    let o = smoke_sweep(&moved).output().expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(check_intact(&moved, &whole), 28);
}

#[test]
fn a_read_only_folder_stops_the_sweep_with_a_clear_error_and_changes_nothing() {
    let dir = scratch("ro");
    let folder = dir.join("ro");
    std::fs::create_dir_all(&folder).expect("mount point");
    // Root writes through file permissions, not through a read-only mount: a tmpfs, filled
    // with the first runs of a sweep, then remounted read-only (needs root; CI runs as root).
    let mount = |args: &[&str]| Command::new("mount").args(args).arg(&folder).stderr(Stdio::null()).status();
    if !mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI must be able to mount a tmpfs for this test");
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Mounted(folder.clone());
    let whole = reference(&dir);
    let text = std::fs::read_to_string(dir.join("whole.jsonl")).expect("reads");
    let first: String = text.split_inclusive('\n').take(10).collect();
    let path = folder.join("runs.jsonl");
    std::fs::write(&path, &first).expect("writes before the remount");
    assert!(mount(&["-o", "remount,ro"]).is_ok_and(|s| s.success()), "remounts read-only");

    for (what, out) in [("resuming", path.clone()), ("starting", folder.join("new.jsonl"))] {
        let o = smoke_sweep(&out).output().expect("runs");
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains(".jsonl") && err.contains("Read-only file system"),
            "{what}: names the file and the cause: {err}"
        );
        assert_eq!(err.trim().lines().filter(|l| l.starts_with("error:")).count(), 1, "{what}: {err}");
        eprintln!("{what} in a read-only folder: {}", err.trim());
    }
    assert_eq!(std::fs::read_to_string(&path).expect("still reads"), first, "the runs written before are untouched");
    assert_eq!(check_intact(&path, &whole), 10);
    assert!(!folder.join("new.jsonl").exists());
}

#[test]
fn a_diverging_run_stops_with_a_message_and_keeps_its_record_so_far() {
    let dir = scratch("nan");
    let out = dir.join("run.json");
    let o = sigmix()
        .args(["train", "--preset", "smoke", "--device", "cpu", "--lr", "1e4", "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("lower the learning rate") && err.contains("run.json"), "{err}");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("the record so far was written")).expect("JSON");
    let steps = record["curve"].as_array().map_or(0, |c| c.len());
    assert!(record["config"]["optim"].is_object() || record["config"].is_object());
    assert!(record["diverged"]["step"].as_u64().is_some(), "the record says where it diverged: {record}");
    assert!(steps < 60, "the curve stops where the loss was last finite ({steps} points)");
}
