//! Waiting for the GPU and reading buffers back.
//!
//! Two ways to wait: `device.poll(Wait)` (the default), or polling without blocking and
//! sleeping in between (`SIGMIX_WAIT=sleep`), which was reported 1.1–2× faster with older
//! Mesa because a blocking wait could spin a core that lavapipe's workers needed. Measured
//! here with Mesa 25.0.7 and wgpu 30 on 2 cores (`sigmix train --preset tiny --steps 60`,
//! two runs each): blocking 2,669 and 2,767 tokens/s, sleeping 2,577 and 2,503, so blocking
//! is the default and the other stays one variable away for drivers that spin.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

fn blocking_wait() -> bool {
    !std::env::var("SIGMIX_WAIT").is_ok_and(|v| v == "sleep")
}

/// Polls the device until `done()` holds, sleeping between polls unless asked to block.
fn poll_until(gpu: &Gpu, done: impl Fn() -> bool) -> Result<()> {
    let err = |e: wgpu::PollError| Error::Gpu { what: "a wait for results".into(), reason: e.to_string() };
    if blocking_wait() {
        while !done() {
            gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(err)?;
        }
        return Ok(());
    }
    let mut nap = Duration::from_micros(50);
    loop {
        gpu.device.poll(wgpu::PollType::Poll).map_err(err)?;
        if done() {
            return Ok(());
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(2));
    }
}

/// Blocks until every submitted command buffer has finished.
pub(crate) fn wait_idle(gpu: &Gpu) -> Result<()> {
    let flag = Arc::new(AtomicU8::new(0));
    let f = flag.clone();
    gpu.queue.on_submitted_work_done(move || f.store(1, Ordering::Release));
    // An empty submit makes sure the callback is attached to a real submission.
    gpu.queue.submit([]);
    poll_until(gpu, || flag.load(Ordering::Acquire) != 0)
}

/// A mappable buffer of at least `size` bytes: reused from earlier reads when one is free,
/// so reading the loss every few steps allocates nothing after the first time.
fn staging(gpu: &Gpu, size: u64) -> wgpu::Buffer {
    if let Ok(mut pool) = gpu.staging.lock()
        && let Some(i) = pool.iter().position(|b| b.size() >= size)
    {
        return pool.swap_remove(i);
    }
    // Powers of two keep the pool small when sizes vary.
    let size = size.max(256).next_power_of_two();
    gpu.note_buffer(size);
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback staging"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// A staging copy on its way to the host: the buffer and the map callback's state.
struct PendingRead {
    staging: wgpu::Buffer,
    bytes: u64,
    state: Arc<MapState>,
}

/// What the map callback reports (0 = pending, 1 = mapped, 2 = failed) and who to wake.
#[derive(Default)]
struct MapState {
    status: AtomicU8,
    waker: Mutex<Option<Waker>>,
}

/// Copies the range into a staging buffer and asks for it to be mapped.
fn start_read(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, bytes: u64) -> PendingRead {
    let size = bytes.div_ceil(4) * 4;
    let staging = staging(gpu, size);
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(src, offset, &staging, 0, Some(size));
    gpu.queue.submit([enc.finish()]);
    let state = Arc::new(MapState::default());
    let s = state.clone();
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        s.status.store(if r.is_ok() { 1 } else { 2 }, Ordering::Release);
        if let Ok(mut w) = s.waker.lock()
            && let Some(w) = w.take()
        {
            w.wake();
        }
    });
    PendingRead { staging, bytes, state }
}

/// Copies the mapped bytes out and returns the staging buffer to the pool.
fn finish_read(gpu: &Gpu, p: PendingRead) -> Result<Vec<u8>> {
    if p.state.status.load(Ordering::Acquire) != 1 {
        // Natively wgpu reports a lost device only once the queue is next waited on, after
        // the failed map: wait once, so the reason below says "lost", not "mapping failed".
        #[cfg(not(target_arch = "wasm32"))]
        if gpu.lost().is_none() {
            let _ = wait_idle(gpu);
        }
        let reason = match gpu.lost() {
            Some(why) => format!("the GPU device was lost ({why}); open a new one to go on"),
            None => "mapping failed".into(),
        };
        return Err(Error::Gpu { what: "a buffer read-back".into(), reason });
    }
    let view = p
        .staging
        .get_mapped_range(..)
        .map_err(|e| Error::Gpu { what: "a buffer read-back".into(), reason: e.to_string() })?;
    let out = view[..p.bytes as usize].to_vec();
    drop(view);
    p.staging.unmap();
    if let Ok(mut pool) = gpu.staging.lock() {
        pool.push(p.staging);
    }
    Ok(out)
}

/// Copies `bytes` bytes at `offset` of `src` into host memory, blocking (native only).
pub(crate) fn read_bytes(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
    let p = start_read(gpu, src, offset, bytes);
    poll_until(gpu, || p.state.status.load(Ordering::Acquire) != 0)?;
    finish_read(gpu, p)
}

/// Resolves when a `PendingRead` is mapped. In the browser the map callback wakes it from
/// the event loop (nothing may block there); natively its first poll waits for the device.
struct Mapped<'a> {
    // Waited on natively; in the browser the event loop drives the device instead.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    gpu: &'a Gpu,
    state: Arc<MapState>,
}

impl std::future::Future for Mapped<'_> {
    type Output = Result<()>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<()>> {
        if let Ok(mut w) = self.state.waker.lock() {
            *w = Some(cx.waker().clone());
        }
        // Natively nothing else drives the device: wait here, as the blocking read does (a
        // native executor blocks anyway), instead of spinning on a non-blocking poll.
        #[cfg(not(target_arch = "wasm32"))]
        if let Err(e) = poll_until(self.gpu, || self.state.status.load(Ordering::Acquire) != 0) {
            return std::task::Poll::Ready(Err(e));
        }
        if self.state.status.load(Ordering::Acquire) == 0 {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(Ok(()))
        }
    }
}

/// `read_bytes` without blocking: what the browser build awaits.
pub(crate) async fn read_bytes_async(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
    let p = start_read(gpu, src, offset, bytes);
    Mapped { gpu, state: p.state.clone() }.await?;
    finish_read(gpu, p)
}
