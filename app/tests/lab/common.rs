//! The headless window around a `Lab`, stepping it until a job is done, dropping files on it.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use sigmix::DeviceChoice;
use sigmix_app::lab::Lab;

pub fn lab() -> Harness<'static, Lab> {
    harness(Lab::new(DeviceChoice::Cpu))
}

/// The window at its default size around `lab`.
pub fn harness(lab: Lab) -> Harness<'static, Lab> {
    Harness::builder().with_size([1280.0, 820.0]).build_ui_state(|ui, lab: &mut Lab| lab.show(ui), lab)
}

/// Steps the UI until `done` holds, failing after `secs`.
pub fn step_until(h: &mut Harness<'_, Lab>, secs: u64, what: &str, done: impl Fn(&Lab) -> bool) {
    let start = Instant::now();
    h.step();
    while !done(h.state()) {
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
}

/// With SIGMIX_WRITE_DOCS set, saves the current screen as docs/`name` (the README shows them).
pub fn write_doc_image(h: &mut Harness<'_, Lab>, name: &str) {
    if std::env::var_os("SIGMIX_WRITE_DOCS").is_some() {
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(name);
        h.render().expect("renders").save(&out).expect("writes the image");
    }
}

/// A file dropped onto the window, as the windowing layer would hand it over.
#[derive(Debug)]
pub struct DroppedBytes {
    pub path: std::path::PathBuf,
    pub bytes: Vec<u8>,
}

impl egui::DroppedFile for DroppedBytes {
    fn path(&self) -> &std::path::Path {
        &self.path
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Ok(self.bytes.clone())
    }
}

pub fn drop_file(h: &mut Harness<'_, Lab>, name: &str, bytes: Vec<u8>) {
    let file = DroppedBytes { path: std::path::PathBuf::from(name), bytes };
    h.input_mut().dropped_files.push(std::sync::Arc::new(file));
    h.run_steps(2);
}
