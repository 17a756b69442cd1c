//! What can go wrong on the GPU, in terms a fallback report can show.

use std::fmt;

/// A GPU fault. Each one leaves the CPU path usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuError {
    /// No adapter: the host has no WebGPU, or no device matched.
    NoAdapter(String),
    /// The adapter refused to create a device.
    DeviceRequest(String),
    /// The device was lost (driver reset, tab backgrounded, `destroy()`).
    DeviceLost(String),
    /// A WGSL module or pipeline failed to compile.
    Compile {
        /// The pass that needed it.
        pass: String,
        /// The compiler's message.
        message: String,
    },
    /// A buffer the program needs is larger than the device allows.
    TooLarge {
        /// Which buffer.
        what: String,
        /// Its size in bytes.
        bytes: u64,
        /// The device's limit in bytes.
        limit: u64,
    },
    /// The operator cannot build a GPU program for these inputs.
    Program(String),
    /// A tensor cannot live on the GPU (element type or value range).
    Unsupported(String),
    /// The device reported a validation or out-of-memory error while running.
    Execution(String),
    /// Reading a buffer back failed.
    ReadBack(String),
}

impl GpuError {
    /// A short, stable name for the kind of fault, for reports and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            GpuError::NoAdapter(_) => "no-adapter",
            GpuError::DeviceRequest(_) => "device-request",
            GpuError::DeviceLost(_) => "device-lost",
            GpuError::Compile { .. } => "compile",
            GpuError::TooLarge { .. } => "too-large",
            GpuError::Program(_) => "program",
            GpuError::Unsupported(_) => "unsupported",
            GpuError::Execution(_) => "execution",
            GpuError::ReadBack(_) => "read-back",
        }
    }
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::NoAdapter(m) => write!(f, "no GPU adapter: {m}"),
            GpuError::DeviceRequest(m) => write!(f, "the GPU adapter refused a device: {m}"),
            GpuError::DeviceLost(m) => write!(f, "the GPU device was lost: {m}"),
            GpuError::Compile { pass, message } => {
                write!(
                    f,
                    "the GPU pipeline for {pass} failed to compile: {message}"
                )
            }
            GpuError::TooLarge { what, bytes, limit } => write!(
                f,
                "{what} needs {bytes} bytes, over the GPU's limit of {limit} bytes per buffer"
            ),
            GpuError::Program(m) => write!(f, "no GPU program: {m}"),
            GpuError::Unsupported(m) => write!(f, "cannot put this tensor on the GPU: {m}"),
            GpuError::Execution(m) => write!(f, "the GPU reported an error: {m}"),
            GpuError::ReadBack(m) => write!(f, "reading a GPU buffer back failed: {m}"),
        }
    }
}

impl std::error::Error for GpuError {}
