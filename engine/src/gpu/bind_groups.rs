//! Bind groups kept between steps. A training step records the same dispatches over the same
//! buffers every time, so its bind groups can be made once: in a browser each one is a round
//! of descriptor objects through JavaScript to the GPU process, most of what recording a
//! step costs there.
//!
//! A cached bind group holds its buffers alive, so only recordings that ask for it use the
//! cache (a trainer's and a poly-view run's steps, `Recorder::reusing_bind_groups`), the cache
//! is bounded (emptied when full) and it is emptied when such a run ends
//! (`Gpu::forget_bind_groups`); either only costs re-creating.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::Result;
use crate::gpu::Gpu;

/// Bind groups kept at most; a step of the small preset makes about 150.
const CAPACITY: usize = 1024;

/// What a bind group is made of: the layout, then each buffer binding (number, buffer, byte
/// offset, byte size).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct BindKey {
    pub(crate) layout: wgpu::BindGroupLayout,
    pub(crate) entries: Vec<(u32, wgpu::Buffer, u64, u64)>,
}

/// The cache a `Gpu` holds.
#[derive(Default)]
pub(crate) struct BindGroups(Mutex<HashMap<BindKey, wgpu::BindGroup>>);

impl Gpu {
    /// The bind group for `key` (label `label`): from the cache when `reuse` (made and kept
    /// on first use), else made for this dispatch alone.
    pub(crate) fn bind_group(&self, key: BindKey, label: &str, reuse: bool) -> Result<wgpu::BindGroup> {
        if !reuse {
            return Ok(self.make_bind_group(&key, label));
        }
        let mut cache = self.bind_groups.0.lock().map_err(|_| crate::error::Error::Gpu {
            what: "the bind-group cache".into(),
            reason: "a thread panicked while holding it".into(),
        })?;
        if let Some(g) = cache.get(&key) {
            return Ok(g.clone());
        }
        let group = self.make_bind_group(&key, label);
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(key, group.clone());
        Ok(group)
    }

    fn make_bind_group(&self, key: &BindKey, label: &str) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = key
            .entries
            .iter()
            .map(|(binding, buffer, offset, size)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset: *offset,
                    size: wgpu::BufferSize::new(*size),
                }),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &key.layout,
            entries: &entries,
        })
    }

    /// Bind groups in the cache now (for tests and diagnostics).
    pub fn cached_bind_groups(&self) -> usize {
        self.bind_groups.0.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Drops every cached bind group (and with them their hold on buffers): for when a run
    /// ends and its tensors are freed.
    pub fn forget_bind_groups(&self) {
        if let Ok(mut cache) = self.bind_groups.0.lock() {
            cache.clear();
        }
    }
}
