//! Wall-clock time that also works in the browser, where `std::time::Instant` panics
//! (wasm32-unknown-unknown has no clock of its own; `web-time` reads `performance.now()`).

#[cfg(not(target_arch = "wasm32"))]
pub use std::time::Instant;
#[cfg(target_arch = "wasm32")]
pub use web_time::Instant;
