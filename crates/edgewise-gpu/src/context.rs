//! The device: adapter selection, limits, loss tracking and the pipeline cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::GpuError;

/// How to pick and configure the device.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Prefer a discrete GPU over an integrated one.
    pub high_performance: bool,
    /// Refuse buffers above this many bytes even if the device allows more (0: the device's
    /// own limit). Lets a caller keep memory in check, and tests reach the limit path.
    pub max_buffer_bytes: u64,
    /// Behave as a host without WebGPU: [`Gpu::new`] fails with [`GpuError::NoAdapter`].
    /// For testing the CPU fallback where a real adapter exists.
    pub simulate_no_adapter: bool,
    /// Make every shader fail to compile. For testing the compile-failure fallback.
    pub simulate_compile_failure: bool,
}

/// One GPU device and queue, with compiled pipelines cached per (shader, entry point).
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(crate) max_buffer: u64,
    pub(crate) max_workgroups: u32,
    pub(crate) break_shaders: bool,
    lost: Arc<AtomicBool>,
    lost_reason: Arc<Mutex<String>>,
    pub(crate) pipelines: Mutex<HashMap<(usize, &'static str), wgpu::ComputePipeline>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.describe())
            .finish()
    }
}

impl Gpu {
    /// Requests an adapter and a device. Fails with [`GpuError::NoAdapter`] where the host has
    /// no WebGPU (plain Node, a browser without it) or no suitable device.
    pub async fn new(options: &GpuOptions) -> Result<Gpu, GpuError> {
        if options.simulate_no_adapter {
            return Err(GpuError::NoAdapter(
                "simulated: the host has no WebGPU adapter".into(),
            ));
        }
        #[cfg(target_arch = "wasm32")]
        browser_gpu_reachable().map_err(GpuError::NoAdapter)?;
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let power = if options.high_performance {
            wgpu::PowerPreference::HighPerformance
        } else {
            wgpu::PowerPreference::None
        };
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: power,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("edgewise"),
                required_features: wgpu::Features::empty(),
                // Ask for what the adapter has: large models need large storage buffers.
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::DeviceRequest(e.to_string()))?;
        let lost = Arc::new(AtomicBool::new(false));
        let lost_reason = Arc::new(Mutex::new(String::new()));
        {
            let (lost, reason) = (lost.clone(), lost_reason.clone());
            device.set_device_lost_callback(move |why, message| {
                lost.store(true, Ordering::SeqCst);
                if let Ok(mut r) = reason.lock() {
                    *r = format!("{why:?}: {message}");
                }
            });
        }
        // Errors outside an error scope must not abort the process; every operation that
        // can fail runs inside a scope and reports through it.
        device.on_uncaptured_error(Arc::new(|_err| {}));
        let device_limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let max_buffer = match options.max_buffer_bytes {
            0 => device_limit,
            n => n.min(device_limit),
        };
        Ok(Gpu {
            device,
            queue,
            info: adapter.get_info(),
            max_buffer,
            max_workgroups: limits.max_compute_workgroups_per_dimension,
            break_shaders: options.simulate_compile_failure,
            lost,
            lost_reason,
            pipelines: Mutex::new(HashMap::new()),
        })
    }

    /// The adapter, as "name (backend, device type)".
    pub fn describe(&self) -> String {
        let name = if self.info.name.is_empty() {
            "unnamed adapter"
        } else {
            &self.info.name
        };
        format!(
            "{name} ({:?}, {:?})",
            self.info.backend, self.info.device_type
        )
    }

    /// Whether the adapter is a CPU emulation (lavapipe, SwiftShader, WARP).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The largest buffer this device will be asked for, in bytes.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.max_buffer
    }

    /// Fails with [`GpuError::DeviceLost`] once the device is gone.
    pub fn check_alive(&self) -> Result<(), GpuError> {
        if self.lost.load(Ordering::SeqCst) {
            let reason = self
                .lost_reason
                .lock()
                .map(|r| r.clone())
                .unwrap_or_default();
            Err(GpuError::DeviceLost(reason))
        } else {
            Ok(())
        }
    }

    /// Destroys the device, as a driver reset would. Later calls fail with
    /// [`GpuError::DeviceLost`]; used to test that callers recover.
    pub fn lose_device(&self) {
        self.lost.store(true, Ordering::SeqCst);
        if let Ok(mut r) = self.lost_reason.lock() {
            *r = "the device was destroyed".into();
        }
        self.device.destroy();
    }

    /// Blocks until the device has finished all submitted work (native only; in a browser
    /// only [`Gpu::read`] can wait).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_idle(&self) {
        self.poll();
    }

    /// Resolves once the device has finished everything submitted so far, on every host
    /// (WebGPU's `onSubmittedWorkDone`), without reading anything back.
    pub async fn finish(&self) -> Result<(), GpuError> {
        self.check_alive()?;
        let (tx, rx) = futures_channel::oneshot::channel();
        self.queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        self.poll();
        rx.await
            .map_err(|_| GpuError::DeviceLost("the queue was dropped".into()))?;
        self.check_alive()
    }

    /// Waits for submitted work natively; a no-op in the browser, where the event loop
    /// resolves mappings.
    pub(crate) fn poll(&self) {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }
}

/// wgpu reaches WebGPU through `navigator.gpu` of a window or a worker, and panics where
/// neither exists (Node); this checks first, so such a host gets an error instead.
#[cfg(target_arch = "wasm32")]
fn browser_gpu_reachable() -> Result<(), String> {
    use js_sys::Reflect;
    let global = js_sys::global();
    let defined = |obj: &wasm_bindgen::JsValue, key: &str| {
        Reflect::get(obj, &key.into())
            .map(|v| !v.is_undefined() && !v.is_null())
            .unwrap_or(false)
    };
    if !defined(&global, "Window") && !defined(&global, "WorkerGlobalScope") {
        return Err(
            "this JavaScript host is neither a window nor a worker, where WebGPU lives".into(),
        );
    }
    let navigator = Reflect::get(&global, &"navigator".into()).unwrap_or_default();
    if navigator.is_undefined() || !defined(&navigator, "gpu") {
        return Err("navigator.gpu is undefined: this host has no WebGPU".into());
    }
    Ok(())
}
