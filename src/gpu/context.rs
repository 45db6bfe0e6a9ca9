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

impl AdapterSummary {
    /// A software adapter: wgpu's device type `Cpu` (natively e.g. Mesa's lavapipe; in the
    /// browser an `isFallbackAdapter` such as Chromium's SwiftShader).
    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }
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

/// How long one piece of device work (opening the device, a readback) may take before it is
/// reported as a lost or far too slow device. Generous: a CPU adapter at a large m_max takes
/// seconds per step, never a minute.
pub const DEVICE_TIMEOUT_S: u32 = 60;

fn too_slow(what: &str) -> CabsError {
    CabsError::Gpu(format!(
        "{what} did not finish within {DEVICE_TIMEOUT_S} s: the device was lost or is too slow for this model and m_max. \
         Lower m_max or use a smaller model, or choose the CPU engine (backend cpu); reload the page (or restart the run) afterwards"
    ))
}

/// `fut`, or an error: [`too_slow`] when it has not finished after [`DEVICE_TIMEOUT_S`]
/// seconds, or what `failed` reports (a lost device) while waiting. In the browser the device's
/// promises can stay pending forever (a lost or hung device), so the wait wakes every 250 ms
/// to look; natively wgpu's futures are driven by `poll`, which has its own timeout.
async fn in_time<F: std::future::Future>(what: &str, fut: F, failed: impl Fn() -> Result<()>) -> Result<F::Output> {
    #[cfg(target_arch = "wasm32")]
    {
        use std::future::Future;
        use std::task::Poll;
        const TICK_MS: u32 = 250;
        let mut fut = std::pin::pin!(fut);
        let mut waited = 0;
        loop {
            let mut tick = std::pin::pin!(web_timer::sleep(TICK_MS));
            let done = std::future::poll_fn(|cx| {
                if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                    return Poll::Ready(Some(v));
                }
                tick.as_mut().poll(cx).map(|()| None)
            })
            .await;
            if let Some(v) = done {
                return Ok(v);
            }
            failed()?;
            waited += TICK_MS;
            if waited >= DEVICE_TIMEOUT_S * 1000 {
                return Err(too_slow(what));
            }
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (what, failed);
        Ok(fut.await)
    }
}

#[cfg(target_arch = "wasm32")]
mod web_timer {
    //! A timer future from the global `setTimeout` (present in pages and workers alike).
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_name = setTimeout)]
        fn set_timeout(f: &js_sys::Function, ms: u32) -> JsValue;
    }

    pub async fn sleep(ms: u32) {
        let p = js_sys::Promise::new(&mut |resolve, _| {
            set_timeout(&resolve, ms);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
    }
}

/// Set when the page has already asked the browser for a WebGPU adapter and got none: the
/// engine then does not ask again and fails exactly as its own asking would have (in Chromium
/// without WebGPU, a trainer with `auto` took 14.3 instead of 18.8 ms to make, median of 7).
#[cfg(target_arch = "wasm32")]
static BROWSER_HAS_NO_ADAPTER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tell the engine whether the browser offers a WebGPU adapter, as the page found out itself
/// (`false`: there is none, so no GPU context is attempted; `true`: ask as usual).
#[cfg(target_arch = "wasm32")]
pub fn note_browser_adapter(present: bool) {
    BROWSER_HAS_NO_ADAPTER.store(!present, std::sync::atomic::Ordering::Relaxed);
}

impl GpuContext {
    /// Find an adapter and open a device that satisfies `req`.
    pub async fn new(req: Requirements) -> Result<GpuContext> {
        #[cfg(target_arch = "wasm32")]
        if BROWSER_HAS_NO_ADAPTER.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(CabsError::Gpu(NO_ADAPTER_FIX.into()));
        }
        #[cfg(target_arch = "wasm32")]
        if !in_time("asking the browser for WebGPU", wgpu::util::is_browser_webgpu_supported(), || Ok(())).await? {
            return Err(CabsError::Gpu(NO_ADAPTER_FIX.into()));
        }
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = in_time(
            "finding a GPU adapter",
            instance.request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            }),
            || Ok(()),
        )
        .await?
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
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: have.max_storage_buffer_binding_size,
            max_buffer_size: have.max_buffer_size,
            ..Default::default()
        };
        let (device, queue) = in_time(
            "opening the GPU device",
            adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("cabs device"),
                required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
                required_limits: limits,
                ..Default::default()
            }),
            || Ok(()),
        )
        .await?
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
        self.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: Some(std::time::Duration::from_secs(DEVICE_TIMEOUT_S.into())) })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => too_slow("the GPU's work"),
                e => CabsError::Gpu(format!("waiting for the GPU failed: {e}")),
            })?;
        // A readback that never arrives (a lost or hung device in the browser) must not hang
        // the caller: the step fails with a message instead.
        let mapped = in_time("the GPU's work", rx, || self.check()).await?;
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
