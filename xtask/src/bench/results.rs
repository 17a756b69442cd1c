//! The JSON that `tests/bench/bench.mjs` writes (only the fields rendered here).

use serde::Deserialize;

#[derive(Deserialize, Debug, Clone)]
pub struct Results {
    pub meta: Meta,
    pub startup: PerRuntime<f64>,
    pub models: Vec<ModelResult>,
    pub batch: Option<Batch>,
    /// The third-party model collection, when it was benched.
    #[serde(rename = "thirdParty", default)]
    pub third_party: Vec<ThirdParty>,
    pub memory: Memory,
    pub sizes: Sizes,
    #[serde(default)]
    pub failures: Vec<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Meta {
    pub date: String,
    pub node: String,
    pub cpu: String,
    pub cores: usize,
    #[serde(rename = "loadAverage")]
    pub load_average: Option<LoadAverage>,
    pub edgewise: Option<String>,
    pub ort: String,
    #[serde(rename = "ortNumThreads")]
    pub ort_num_threads: u32,
    /// Threads both runtimes ran on (results written before threads existed: 1).
    #[serde(default = "one")]
    pub threads: u32,
    pub runs: usize,
    pub warmup: usize,
    pub input: String,
    #[serde(rename = "relTolerance")]
    pub rel_tolerance: f64,
}

/// The machine's 1-minute load average when the timed runs started and when they ended.
#[derive(Deserialize, Debug, Clone, Copy)]
pub struct LoadAverage {
    pub start: f64,
    pub end: f64,
}

#[derive(Deserialize, Debug, Clone, Copy, Default)]
pub struct PerRuntime<T> {
    pub edgewise: T,
    pub ort: T,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Cold {
    pub create: f64,
    #[serde(rename = "firstRun")]
    pub first_run: f64,
    pub total: f64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Timing {
    pub cold: Option<Cold>,
    pub median: f64,
    pub p95: f64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Agreement {
    #[serde(rename = "maxAbs")]
    pub max_abs: Option<f64>,
    pub rel: Option<f64>,
    #[serde(rename = "refMax")]
    pub ref_max: Option<f64>,
    #[serde(default)]
    pub uniform: bool,
    #[serde(rename = "top1Agree")]
    pub top1_agree: Option<bool>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ModelResult {
    pub name: String,
    pub edgewise: Timing,
    pub ort: Timing,
    pub agreement: Agreement,
    pub check: Option<Agreement>,
}

impl ModelResult {
    /// edgewise's median over onnxruntime-web's.
    pub fn ratio(&self) -> f64 {
        self.edgewise.median / self.ort.median
    }
}

/// One model of the third-party collection (tests/models/manifest.json).
#[derive(Deserialize, Debug, Clone)]
pub struct ThirdParty {
    pub name: String,
    pub package: String,
    pub precision: String,
    pub case: String,
    pub runs: usize,
    pub edgewise: ColdTiming,
    pub ort: ColdTiming,
    pub agreement: Agreement,
}

/// Timing with create and first run apart.
#[derive(Deserialize, Debug, Clone)]
pub struct ColdTiming {
    pub cold: ColdParts,
    pub median: f64,
    pub p95: f64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ColdParts {
    pub create: f64,
    #[serde(rename = "firstRun")]
    pub first_run: f64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Batch {
    pub model: String,
    #[serde(rename = "inputShape")]
    pub input_shape: Vec<usize>,
    pub runs: usize,
    pub edgewise: Timing,
    pub ort: Timing,
    pub agreement: Agreement,
}

#[derive(Deserialize, Debug, Clone)]
pub struct MemoryProbe {
    pub peak: PerRuntime<u64>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Memory {
    #[serde(rename = "afterStart")]
    pub after_start: PerRuntime<u64>,
    #[serde(rename = "highWater")]
    pub high_water: PerRuntime<u64>,
    #[serde(rename = "perModel", default)]
    pub per_model: std::collections::BTreeMap<String, MemoryProbe>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct FileSize {
    pub file: String,
    pub raw: u64,
    pub gzip: u64,
}

#[derive(Deserialize, Debug, Clone, Copy)]
pub struct Total {
    pub raw: u64,
    pub gzip: u64,
}

#[derive(Deserialize, Debug, Clone)]
pub struct PackageSize {
    pub wasm: FileSize,
    pub js: Vec<FileSize>,
    #[serde(rename = "jsTotal")]
    pub js_total: Total,
    pub total: Total,
    #[serde(rename = "wasmVerifiedLoaded", default)]
    pub wasm_verified_loaded: bool,
    #[serde(rename = "nodeEntry")]
    pub node_entry: Option<FileSize>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Sizes {
    pub edgewise: PackageSize,
    pub ort: PackageSize,
}

fn one() -> u32 {
    1
}

/// The JSON that `tests/bench/browser.mjs` writes: both runtimes in one Chromium page.
#[derive(Deserialize, Debug, Clone)]
pub struct BrowserResults {
    pub meta: BrowserMeta,
    pub models: Vec<BrowserModel>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct BrowserMeta {
    #[serde(rename = "userAgent")]
    pub user_agent: Option<String>,
    pub runs: usize,
}

#[derive(Deserialize, Debug, Clone)]
pub struct BrowserModel {
    pub name: String,
    pub edgewise: ColdTiming,
    pub ort: ColdTiming,
    pub agreement: Agreement,
}
