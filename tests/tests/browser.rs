//! The browser build end to end: build the static site (web/build.sh: the engine compiled to
//! wasm32, wasm-bindgen), serve it on 127.0.0.1 and drive Debian's Chromium headless
//! (web/test/selftest.mjs): with WebGPU on Chromium's software adapter the engine's whole
//! selftest must pass in the page and twelve steps of the tiny preset must lower the loss, and
//! without the WebGPU flags the page must explain that WebGPU is missing and train the tiny
//! preset on the engine's CPU backend (wasm, one thread) instead; and the lab itself must open
//! on its canvas from a link, restore the link's state, train through its Train panel on
//! WebGPU, take a text file dropped onto it as a domain, and draw a non-blank screen
//! (`SIGMIX_LAB_SCREENSHOT=path` keeps the picture); and its Mixture lab must run the smoke
//! sweep in the page, fit the law, and find the runs again after a reload; and when the
//! engine's WebGPU device is destroyed mid-run, the lab must say so, keep the run's curve, and
//! train again after its "Restart GPU" and "Play" buttons are clicked.
//!
//! Needs chromium, node, wasm-bindgen-cli and web/test/node_modules (`.ci/install-deps`
//! installs them). Where they are missing the test says so and passes, except under CI
//! (`CI` set), where a missing tool is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What is missing to run the browser test, if anything.
fn missing(root: &Path) -> Vec<String> {
    let runs = |cmd: &str, arg: &str| Command::new(cmd).arg(arg).output().is_ok_and(|o| o.status.success());
    let mut out = Vec::new();
    if !Path::new(&std::env::var("SIGMIX_CHROMIUM").unwrap_or("/usr/bin/chromium".into())).exists() {
        out.push("chromium (apt-get install chromium)".to_string());
    }
    if !runs("node", "--version") {
        out.push("node".to_string());
    }
    if !runs("wasm-bindgen", "--version") {
        out.push("wasm-bindgen-cli (see web/build.sh)".to_string());
    }
    if !root.join("web/test/node_modules/playwright-core").exists() {
        out.push("web/test/node_modules (npm ci --prefix web/test)".to_string());
    }
    out
}

#[test]
fn the_selftest_passes_training_works_and_the_lab_opens_from_a_link_in_headless_chromium() {
    let root = root();
    let lacking = missing(&root);
    if !lacking.is_empty() {
        assert!(std::env::var_os("CI").is_none(), "the browser test needs: {}", lacking.join(", "));
        eprintln!("browser test skipped: missing {}", lacking.join(", "));
        return;
    }
    // Its own target dir: the cargo running this test holds the lock on the usual one.
    let outer = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let build = Command::new("bash")
        .arg("web/build.sh")
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", outer.join("web-build"))
        .status()
        .expect("runs web/build.sh");
    assert!(build.success(), "web/build.sh failed");
    let out = Command::new("node")
        .args(["web/test/selftest.mjs", "web/dist"])
        .current_dir(&root)
        .output()
        .expect("runs the headless browser test");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser checks failed:\n{text}");
    assert!(text.contains("\"selftest in the browser\",\"ok\":true"), "{text}");
    assert!(text.contains("\"a few training steps of the tiny preset lower the loss\",\"ok\":true"), "{text}");
    assert!(text.contains("\"no WebGPU: explained, and the CPU backend trains instead\",\"ok\":true"), "{text}");
    let lab = "\"the lab opens from a link, restores its state, trains on WebGPU, takes a dropped text, and draws\",\"ok\":true";
    assert!(text.contains(lab), "{text}");
    let sweep = "\"the Mixture lab sweeps and fits in the page, and keeps the runs across a reload\",\"ok\":true";
    assert!(text.contains(sweep), "{text}");
    let lost =
        "\"a lost GPU device: the lab says so, keeps the run's curve, and trains again after Restart GPU\",\"ok\":true";
    assert!(text.contains(lost), "{text}");
}
