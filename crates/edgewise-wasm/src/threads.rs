//! Worker threads of the multi-threaded module.
//!
//! The package ships two builds of this crate: the default one, and one compiled with wasm
//! threads (`+atomics`, shared memory) that is loaded where shared memory works. In the second,
//! tract-linalg's matrix products, packing and element-wise passes split their work over a
//! rayon pool whose threads are web workers (or Node worker threads) started by the package's
//! JavaScript. Each worker instantiates the module on the same memory and calls
//! `runWorkerThread`, which waits for a pool thread to run; then `startThreadPool` builds the
//! pool, handing one thread to each waiting worker. rayon returns from building its global
//! pool only once every thread has started, hence the workers first.
//!
//! The thread that builds the pool (the one that runs sessions) is the pool's first thread,
//! as onnxruntime-web's caller is one of its `numThreads`: a pool of `n` threads starts `n − 1`
//! workers. A product split over the pool starts on the calling thread at once, and a worker
//! steals what is left when it wakes, instead of the caller sleeping until a woken worker has
//! done the work and woken it back.
//!
//! rayon's own `spawn_handler` hook is what makes this work without `std::thread::spawn`,
//! which wasm32-unknown-unknown lacks.

#[cfg(target_feature = "atomics")]
mod pool {
    use std::sync::{Condvar, Mutex};

    use tract_linalg::multithread::{
        Executor, set_default_executor, set_threading_element_threshold,
        set_threading_panel_threshold,
    };
    use wasm_bindgen::prelude::*;

    /// Pool threads built but not yet run by a worker.
    static PENDING: Mutex<Vec<rayon::ThreadBuilder>> = Mutex::new(Vec::new());
    /// Signalled when threads are added to [`PENDING`].
    static ADDED: Condvar = Condvar::new();

    /// Matrix products with fewer 8×8 output tiles than this run on the calling thread
    /// (tract's default). A split costs the caller little now that it computes a share itself,
    /// where a caller that waited for the workers needed 256 tiles to gain (`bench/levers.md`).
    const PANEL_THRESHOLD: usize = 64;
    /// Element-wise passes over fewer elements than this run on the calling thread (tract's
    /// default).
    const ELEMENT_THRESHOLD: usize = 32768;

    /// Builds the global pool of `threads` threads, the calling thread included, and makes
    /// tract use it. Call once, from the thread that runs sessions, after `threads − 1` workers
    /// are waiting in [`run_worker_thread`].
    #[wasm_bindgen(js_name = startThreadPool)]
    pub fn start_thread_pool(threads: usize) -> Result<(), JsError> {
        if threads < 1 {
            return Err(JsError::new(
                "numThreads: the pool needs at least one thread",
            ));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .thread_name(|i| format!("edgewise-{i}"))
            .spawn_handler(|thread| {
                PENDING
                    .lock()
                    .map_err(|_| std::io::Error::other("thread queue poisoned"))?
                    .push(thread);
                ADDED.notify_one();
                Ok(())
            })
            .build_global()
            .map_err(|e| JsError::new(&format!("starting the thread pool: {e}")))?;
        set_threading_panel_threshold(PANEL_THRESHOLD);
        set_threading_element_threshold(ELEMENT_THRESHOLD);
        set_default_executor(Executor::RayonGlobal);
        Ok(())
    }

    /// Waits for a pool thread and runs it on the calling worker; returns when the pool shuts
    /// down (never, for the global pool).
    #[wasm_bindgen(js_name = runWorkerThread)]
    pub fn run_worker_thread() {
        let thread = PENDING.lock().ok().and_then(|q| {
            let mut q = ADDED.wait_while(q, |q| q.is_empty()).ok()?;
            q.pop()
        });
        if let Some(thread) = thread {
            thread.run();
        }
    }

    /// The compiled module, for workers to instantiate on the same memory.
    #[wasm_bindgen(js_name = threadModule)]
    pub fn wasm_module() -> JsValue {
        wasm_bindgen::module()
    }

    /// The shared linear memory, for workers to instantiate the module on.
    #[wasm_bindgen(js_name = threadMemory)]
    pub fn wasm_memory() -> JsValue {
        wasm_bindgen::memory()
    }
}
