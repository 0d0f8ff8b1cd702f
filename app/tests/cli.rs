//! The command line as a user meets it: exit codes, tables, and one clear line on bad input.

use std::process::{Command, Output};

fn sigmix(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigmix")).args(args).output().expect("the sigmix binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn info_names_the_adapter() {
    let o = sigmix(&["info"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("adapter"), "{}", text(&o));
}

#[test]
fn selftest_passes_every_kernel() {
    let o = sigmix(&["selftest", "--seed", "3"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(" 0 failed"), "{t}");
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
