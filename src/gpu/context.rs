//! The GPU context: instance, adapter, device and queue, created once. Owns the translation of
//! every set-up failure (no adapter, too-small limits) and every later device failure
//! (validation error, lost device) into a [`CabsError::Gpu`] that says what to do.

use crate::error::{CabsError, Result};
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// What the engine needs from a device whatever the chunk (the per-chunk buffers are sized
/// afterwards, from the device's limits): each buffer with what it holds and its bytes; checked
/// against the adapter's limits before asking for a device.
#[derive(Clone, Debug, Default)]
pub struct Requirements {
    pub buffers: Vec<(String, u64)>,
}

/// The adapter as shown to users.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    /// Whether the device can time passes (used by `cabs bench` for per-kernel times).
    pub timestamps: bool,
    /// Errors reported by the device outside any error scope, and the lost-device reason.
    failures: Arc<Mutex<Vec<String>>>,
}

#[cfg(target_arch = "wasm32")]
const NO_ADAPTER_FIX: &str = "this browser offers no WebGPU adapter. Use a current Chrome, Edge or Safari with WebGPU, or Chromium started with --enable-unsafe-webgpu; the CPU engine works everywhere";
#[cfg(not(target_arch = "wasm32"))]
const NO_ADAPTER_FIX: &str = "no GPU adapter found. Install a Vulkan driver (on Debian/Ubuntu: `apt-get install mesa-vulkan-drivers libvulkan1` gives lavapipe, a CPU Vulkan implementation), or run on a machine with a GPU";

impl GpuContext {
    /// Find an adapter and open a device that satisfies `req`.
    pub async fn new(req: Requirements) -> Result<GpuContext> {
        #[cfg(target_arch = "wasm32")]
        if !wgpu::util::is_browser_webgpu_supported().await {
            return Err(CabsError::Gpu(NO_ADAPTER_FIX.into()));
        }
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| CabsError::Gpu(format!("{NO_ADAPTER_FIX} ({e})")))?;
        let info = adapter.get_info();
        let summary = AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        };
        let have = adapter.limits();
        let largest = (have.max_storage_buffer_binding_size as u64).min(have.max_buffer_size);
        for (what, need) in &req.buffers {
            if *need > largest {
                return Err(CabsError::Gpu(format!(
                    "the adapter '{}' holds at most {} in one storage buffer, but {what} needs {}; {}",
                    summary.name,
                    crate::plan::bytes_text(largest),
                    crate::plan::bytes_text(*need),
                    if what.contains("data set") {
                        "use a smaller data set or the CPU engine (--backend cpu)"
                    } else if what.contains("m_max") {
                        "lower m_max"
                    } else {
                        "use a smaller model"
                    }
                )));
            }
        }
        // Ask for the adapter's largest buffers: the engine sizes its chunk to them.
        let mut limits = wgpu::Limits::default();
        limits.max_storage_buffer_binding_size = have.max_storage_buffer_binding_size;
        limits.max_buffer_size = have.max_buffer_size;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("cabs device"),
                required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
                required_limits: limits,
                ..Default::default()
            })
            .await
            .map_err(|e| CabsError::Gpu(format!("the adapter '{}' refused to open a device: {e}", summary.name)))?;
        let failures = Arc::new(Mutex::new(Vec::new()));
        // Without a handler wgpu panics on validation errors; record them instead and report
        // them from the next step as errors.
        let sink = failures.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut f) = sink.lock() {
                f.push(e.to_string());
            }
        }));
        let sink = failures.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut f) = sink.lock() {
                let detail = if msg.is_empty() { format!("{reason:?}") } else { format!("{reason:?}: {msg}") };
                f.push(format!("the GPU device was lost ({detail}); reload the page or restart the run"));
            }
        });
        let timestamps = device.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        Ok(GpuContext { device, queue, adapter: summary, timestamps, failures })
    }

    /// The first failure the device has reported since it was created, if any.
    pub fn check(&self) -> Result<()> {
        match self.failures.lock() {
            Ok(f) if !f.is_empty() => Err(CabsError::Gpu(f[0].clone())),
            _ => Ok(()),
        }
    }

    /// Copy `bytes` bytes of `staging` (a MAP_READ buffer) to the CPU as `f32`s.
    /// One code path for native and web: natively we poll the device; in the browser the
    /// browser drives the callback and we only await it.
    pub async fn read_f32(&self, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(&self.read_bytes(staging, bytes).await?))
    }

    /// Copy `bytes` bytes of `staging` (a MAP_READ buffer) to the CPU.
    pub async fn read_bytes(&self, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let slice = staging.slice(0..bytes);
        let (tx, rx) = futures_channel::oneshot::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| CabsError::Gpu(format!("waiting for the GPU failed: {e}")))?;
        let mapped = rx.await;
        self.check()?;
        mapped
            .map_err(|_| CabsError::Gpu("the GPU dropped a readback; the device may be lost".into()))?
            .map_err(|e| CabsError::Gpu(format!("reading results from the GPU failed: {e}")))?;
        let out = {
            let view = slice.get_mapped_range().map_err(|e| CabsError::Gpu(format!("mapping GPU results failed: {e}")))?;
            view.to_vec()
        };
        staging.unmap();
        Ok(out)
    }
}
