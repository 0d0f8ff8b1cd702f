//! The layering of the engine and the app (docs/architecture.md), checked on the source: each
//! module may only import the layers below it. A `use crate::kernels::…` in the CPU backend,
//! say, fails here with the file and line, before it grows into an import cycle.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The lines of `module` (a folder or a file of `<krate>/src`) that name `crate::<f>` for any
/// forbidden `f`, as "file:line: text".
fn forbidden_imports(krate: &str, module: &str, forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(krate).join("src");
    let dir = src.join(module);
    let files = if dir.is_dir() { rust_files(&dir) } else { vec![src.join(format!("{module}.rs"))] };
    assert!(!files.is_empty(), "no source files for module {module}");
    let mut hits = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for f in forbidden {
                let named = format!("crate::{f}");
                let at = code.find(&named);
                let whole = at.is_some_and(|a| {
                    code[a + named.len()..].chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                });
                if whole {
                    hits.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
                }
            }
        }
    }
    hits
}

fn assert_layer(module: &str, forbidden: &[&str]) {
    assert_layer_in("engine", module, forbidden);
}

fn assert_layer_in(krate: &str, module: &str, forbidden: &[&str]) {
    let hits = forbidden_imports(krate, module, forbidden);
    assert!(
        hits.is_empty(),
        "{krate}: `{module}` imports a layer above it (docs/architecture.md; shared descriptors belong in `ops`):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_cpu_backend_never_imports_the_launchers_or_anything_above_them() {
    assert_layer("cpu", &["kernels", "reference", "selftest", "nn", "models", "train", "sweep", "selfsup", "tta"]);
}

#[test]
fn the_f64_reference_never_imports_the_launchers_or_a_backend() {
    assert_layer("reference", &["kernels", "cpu", "gpu", "selftest", "train", "sweep", "selfsup", "tta"]);
}

#[test]
fn op_descriptors_import_only_the_foundation_and_tensors() {
    assert_layer(
        "ops",
        &[
            "kernels",
            "cpu",
            "gpu",
            "recorder",
            "reference",
            "selftest",
            "nn",
            "models",
            "optim",
            "data",
            "train",
            "sweep",
        ],
    );
}

#[test]
fn the_laws_depend_on_the_foundation_only() {
    assert_layer(
        "laws",
        &[
            "cpu",
            "gpu",
            "tensor",
            "recorder",
            "kernels",
            "ops",
            "reference",
            "selftest",
            "nn",
            "optim",
            "models",
            "data",
            "train",
            "selfsup",
            "tta",
            "sweep",
        ],
    );
}

#[test]
fn the_gpu_device_never_imports_the_launchers() {
    assert_layer("gpu", &["kernels", "reference", "selftest", "nn", "models", "train", "sweep"]);
}

#[test]
fn the_lab_panels_never_import_the_window_and_the_jobs_never_import_either() {
    assert_layer_in("app", "ui", &["lab", "cli"]);
    assert_layer_in("app", "jobs", &["lab", "ui", "cli"]);
}
