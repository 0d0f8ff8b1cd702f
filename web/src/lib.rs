//! The browser build: the lab on a canvas (eframe's web runner, drawing and computing through
//! WebGPU), driven from `web/index.html`; also the engine's selftest in the page (every kernel
//! against the f64 reference) and a short training run of a preset for the headless test, all
//! awaited through the browser's event loop so the page never freezes; where the browser has
//! no WebGPU, training runs on the engine's CPU backend in the page instead. On native targets
//! the crate is empty.

#[cfg(target_arch = "wasm32")]
mod browser {
    use sigmix::train::{RunConfig, Trainer};
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

    thread_local! {
        /// The running lab's web runner (kept so the lab lives as long as the page).
        static RUNNER: std::cell::RefCell<Option<eframe::WebRunner>> = const { std::cell::RefCell::new(None) };
    }

    /// The open lab's status as JSON (`Lab::status`: panel, link, the Train run, the sweep's
    /// progress, text domains, a lost device), computed when asked, or "" before the lab has
    /// opened: what the headless test watches.
    #[wasm_bindgen]
    pub fn lab_status() -> String {
        use sigmix_app::lab::Lab;
        RUNNER.with(|r| {
            let runner = r.borrow();
            let lab = runner.as_ref().and_then(|runner| runner.app_mut::<Lab>());
            lab.map_or_else(String::new, |lab| lab.status().to_string())
        })
    }

    /// Opens the lab on the canvas with id `canvas_id`, in the state of the page's URL fragment
    /// (`#tab=mixture&preset=tiny&…`, as the lab's "Copy link" writes it). Training uses the
    /// visitor's GPU when it is a hardware one, else the engine's CPU backend in the page.
    #[wasm_bindgen]
    pub async fn start_lab(canvas_id: String) -> Result<(), JsValue> {
        use wasm_bindgen::JsCast;
        let window = web_sys::window().ok_or("no window")?;
        let link = window.location().hash().unwrap_or_default();
        let canvas: web_sys::HtmlCanvasElement = window
            .document()
            .and_then(|d| d.get_element_by_id(&canvas_id))
            .ok_or_else(|| format!("no element with id `{canvas_id}`"))?
            .dyn_into()?;
        let runner = eframe::WebRunner::new();
        runner
            .start(
                canvas,
                eframe::WebOptions::default(),
                Box::new(move |_cc| Ok(Box::new(sigmix_app::lab::Lab::with_link(DeviceChoice::Auto, &link)))),
            )
            .await?;
        RUNNER.with(|r| r.replace(Some(runner)));
        Ok(())
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

    /// Measures steady-state training tokens/s of preset `preset` on `device` ("gpu" or "cpu")
    /// exactly as `sigmix bench train` does natively (sigmix::train::measure_async: the first
    /// step and `warm` more left out, `timed` timed between two drains of the device), so the
    /// two numbers compare on one adapter. Resolves to the measurement as JSON.
    #[wasm_bindgen]
    pub async fn bench_train(preset: String, device: String, warm: u32, timed: u32) -> Result<String, JsValue> {
        let choice: DeviceChoice = device.parse().map_err(js)?;
        let device = Device::open_async(choice).await.map_err(js)?;
        let cfg = RunConfig::preset(&preset).map_err(js)?;
        let r = sigmix::train::measure_async(&device, &cfg, warm as usize, timed as usize).await.map_err(js)?;
        serde_json::to_string(&r).map_err(js)
    }

    /// What a training run in the page reports.
    #[derive(serde::Serialize)]
    struct TrainReport {
        adapter: sigmix::gpu::GpuInfo,
        preset: String,
        params: usize,
        /// (step, training loss) at every step.
        losses: Vec<(usize, f32)>,
        tokens_per_sec: f64,
        /// Mean held-out loss after the last step.
        eval_loss: Option<f32>,
    }

    /// Trains preset `preset` for `steps` steps on `device` ("gpu": the browser's WebGPU
    /// adapter; "cpu": the engine's CPU backend in this thread, for browsers without WebGPU),
    /// reading the loss at every step; each GPU read-back yields to the browser. Resolves to a
    /// JSON report.
    #[wasm_bindgen]
    pub async fn train(preset: String, steps: u32, device: String) -> Result<String, JsValue> {
        let choice: DeviceChoice = device.parse().map_err(js)?;
        let device = Device::open_async(choice).await.map_err(js)?;
        let mut cfg = RunConfig::preset(&preset).map_err(js)?;
        cfg.steps = steps.max(1) as usize;
        cfg.log_every = 1;
        cfg.eval_every = 0;
        let mut trainer = Trainer::new(&device, &cfg).map_err(js)?;
        let (mut losses, mut tokens_per_sec, mut eval_loss) = (Vec::new(), 0.0, None);
        while !trainer.finished() {
            let out = trainer.step_async().await.map_err(js)?;
            if let Some(l) = out.loss {
                losses.push((out.step, l));
            }
            tokens_per_sec = out.tokens_per_sec;
            if let Some(e) = out.eval {
                eval_loss = Some(e.mean());
            }
        }
        let report =
            TrainReport { adapter: device.info(), preset, params: trainer.params(), losses, tokens_per_sec, eval_loss };
        serde_json::to_string(&report).map_err(js)
    }
}
