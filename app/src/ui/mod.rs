//! The lab's panels, one file each.

pub mod attention;
pub mod laws;
pub mod mixture;
pub mod moe;
pub mod placeholders;
pub mod train;
pub mod widgets;
