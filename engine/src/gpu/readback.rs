//! Waiting for the GPU and reading buffers back.
//!
//! Two ways to wait: `device.poll(Wait)` (the default), or polling without blocking and
//! sleeping in between (`SIGMIX_WAIT=sleep`), which was reported 1.1–2× faster with older
//! Mesa because a blocking wait could spin a core that lavapipe's workers needed. Measured
//! here with Mesa 25.0.7 and wgpu 30 on 2 cores (`sigmix train --preset tiny --steps 60`,
//! two runs each): blocking 2,669 and 2,767 tokens/s, sleeping 2,577 and 2,503, so blocking
//! is the default and the other stays one variable away for drivers that spin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
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

/// Copies `bytes` bytes at `offset` of `src` into host memory.
pub(crate) fn read_bytes(gpu: &Gpu, src: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
    let size = bytes.div_ceil(4) * 4;
    let staging = staging(gpu, size);
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(src, offset, &staging, 0, Some(size));
    gpu.queue.submit([enc.finish()]);
    // 0 = pending, 1 = mapped, 2 = failed.
    let state = Arc::new(AtomicU8::new(0));
    let s = state.clone();
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |r| s.store(if r.is_ok() { 1 } else { 2 }, Ordering::Release));
    poll_until(gpu, || state.load(Ordering::Acquire) != 0)?;
    if state.load(Ordering::Acquire) != 1 {
        return Err(Error::Gpu { what: "a buffer read-back".into(), reason: "mapping failed (device lost?)".into() });
    }
    let view = staging
        .get_mapped_range(..)
        .map_err(|e| Error::Gpu { what: "a buffer read-back".into(), reason: e.to_string() })?;
    let out = view[..bytes as usize].to_vec();
    drop(view);
    staging.unmap();
    if let Ok(mut pool) = gpu.staging.lock() {
        pool.push(staging);
    }
    Ok(out)
}
