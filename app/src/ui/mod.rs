//! The lab's panels, one file each.

pub mod attention;
pub mod byol;
pub mod contrastive;
pub mod distill_lab;
pub mod forgetting_lab;
pub mod law_sweep;
pub mod laws;
pub mod mixture;
pub mod moe;
pub mod moe_sparsity_lab;
pub mod train;
pub mod tta;
pub mod widgets;
