//! Wall-clock time that also works in the browser, where `std::time::Instant` panics
//! (wasm32-unknown-unknown has no clock of its own; `web-time` reads `performance.now()`).

#[cfg(not(target_arch = "wasm32"))]
pub use std::time::Instant;
#[cfg(target_arch = "wasm32")]
pub use web_time::Instant;

/// How long the browser may go without its turn: about one frame.
#[cfg(target_arch = "wasm32")]
const FRAME_SECS: f64 = 0.012;

/// In the browser, hands the page its turn (drawing, input) when it has not had one for about
/// a frame, so a long training loop never freezes it; natively does nothing. A message-channel
/// round trip, not a timer: nested timers are clamped to 4 ms, a message is not.
pub async fn yield_now() {
    #[cfg(target_arch = "wasm32")]
    {
        use std::cell::Cell;
        thread_local! {
            static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
        }
        let now = Instant::now();
        if LAST.get().is_some_and(|t| now.duration_since(t).as_secs_f64() < FRAME_SECS) {
            return;
        }
        if let Ok(channel) = web_sys::MessageChannel::new() {
            let promise = js_sys::Promise::new(&mut |resolve, _| {
                channel.port1().set_onmessage(Some(&resolve));
                if channel.port2().post_message(&wasm_bindgen::JsValue::NULL).is_err() {
                    let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
                }
            });
            // `channel` lives across the await, so its ports cannot be collected meanwhile.
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            channel.port1().set_onmessage(None);
        }
        LAST.set(Some(Instant::now()));
    }
}
