//! The lab as a user meets it, rendered headless by egui_kittest: every panel opens, Play
//! trains and plots (`panels`), the Mixture lab and the law calculators run sweeps, fit and
//! predict (`sweeps`), and the main screen renders to a non-blank image (written to docs/ with
//! SIGMIX_WRITE_DOCS=1). One test binary; `common` holds the harness and its helpers.

// Helpers of a test may panic: the panic is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod panels;
mod sweeps;
