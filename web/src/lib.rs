//! The browser build: the engine on the visitor's GPU through WebGPU, driven from
//! `web/index.html`. This first piece runs the engine's selftest in the page (every kernel
//! against the f64 reference, awaited through the browser's event loop); the lab's panels
//! follow. On native targets the crate is empty.

#[cfg(target_arch = "wasm32")]
mod browser {
    use sigmix::{Device, DeviceChoice};
    use wasm_bindgen::prelude::*;

    /// What the page shows and the headless test reads.
    #[derive(serde::Serialize)]
    struct Report {
        adapter: sigmix::gpu::GpuInfo,
        passed: usize,
        total: usize,
        checks: Vec<sigmix::selftest::Check>,
    }

    fn js(e: impl std::fmt::Display) -> JsValue {
        JsValue::from_str(&e.to_string())
    }

    /// Opens the browser's WebGPU adapter and runs every kernel check; resolves to a JSON
    /// report (adapter, passed, total, checks) or rejects with the reason.
    #[wasm_bindgen]
    pub async fn selftest(seed: u32) -> Result<String, JsValue> {
        let device = Device::open_async(DeviceChoice::Gpu).await.map_err(js)?;
        let checks = sigmix::selftest::run_all_async(&device, seed as u64).await.map_err(js)?;
        let passed = checks.iter().filter(|c| c.passed()).count();
        let report = Report { adapter: device.info(), passed, total: checks.len(), checks };
        serde_json::to_string(&report).map_err(js)
    }
}
