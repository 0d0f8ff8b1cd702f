//! Where a job's work runs: natively on a thread of its own, blocking on the engine's
//! read-backs there; in the browser as a task on the page's event loop, where every read-back
//! and every training step hands the page its turn. Jobs are written once, as futures.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A running job's work.
pub struct Task {
    ended: Arc<AtomicBool>,
    #[cfg(not(target_arch = "wasm32"))]
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Task {
    /// Starts the future `work` makes (named `name` where threads have names).
    pub fn spawn<F>(name: &str, work: impl FnOnce() -> F + Send + 'static) -> Task
    where
        F: Future<Output = ()> + 'static,
    {
        let ended = Arc::new(AtomicBool::new(false));
        let flag = ended.clone();
        // The future is made where it runs: it need not be Send, only what it starts from.
        let body = move || async move {
            work().await;
            flag.store(true, Ordering::Release);
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let handle = std::thread::Builder::new().name(name.into()).spawn(move || pollster::block_on(body()));
            if handle.is_err() {
                ended.store(true, Ordering::Release);
            }
            Task { ended, handle: handle.ok() }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let _ = name;
            wasm_bindgen_futures::spawn_local(body());
            Task { ended }
        }
    }

    /// Whether the work has finished.
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Natively waits for the work to finish (after asking it to stop); in the browser the task
    /// sees its stop request at its next step and ends by itself.
    pub fn join(&mut self) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
