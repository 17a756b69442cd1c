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
}

/// One GPU device and queue, with compiled pipelines cached per (shader, entry point).
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(crate) max_buffer: u64,
    pub(crate) max_workgroups: u32,
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

    /// Waits for submitted work natively; a no-op in the browser, where the event loop
    /// resolves mappings.
    pub(crate) fn poll(&self) {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }
}
