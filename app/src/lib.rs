//! The sigmix lab: an egui app that trains small models, runs sweeps, fits scaling laws and
//! explains them. The `sigmix` binary opens it when given no subcommand.

pub mod figure;
pub mod jobs;
pub mod lab;
pub mod ui;
