//! The sigmix lab: an egui app that trains small models, runs sweeps, fits scaling laws and
//! explains them. The `sigmix` binary opens it when given no subcommand.

#[cfg(not(target_arch = "wasm32"))]
pub mod figure;
pub mod lab;
pub mod ui;
