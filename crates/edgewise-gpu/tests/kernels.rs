//! Every operator's GPU program against its CPU reference kernel, on random shapes.
//!
//! The same file runs natively (wgpu on Vulkan: lavapipe on machines without a GPU) and in
//! headless Chromium on WebGPU (SwiftShader), so both the WGSL and the browser path are
//! checked. A failure names the operator, the seed's case and the input shapes.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Declares an async test that runs natively (blocking) and in the browser.
macro_rules! gpu_test {
    ($name:ident, $body:expr) => {
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            edgewise_gpu::block_on($body)
        }

        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            $body.await
        }
    };
}

/// Runs `cases` random cases of one operator and panics with every failure listed.
macro_rules! check_cases {
    ($gpu:expr, $cases:expr, $rtol:expr, $atol:expr) => {{
        let mut failures = Vec::new();
        for (op, inputs) in $cases {
            if let Err(e) =
                edgewise_gpu::testing::check_against_cpu(&$gpu, &op, &inputs, $rtol, $atol).await
            {
                failures.push(e);
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }};
}

#[path = "kernels/bandpass.rs"]
mod bandpass;
#[path = "kernels/binary.rs"]
mod binary;
#[path = "kernels/border.rs"]
mod border;
#[path = "kernels/dct.rs"]
mod dct;
#[path = "kernels/faults.rs"]
mod faults;
#[path = "kernels/graph.rs"]
mod graph;
#[path = "kernels/hamming.rs"]
mod hamming;
#[path = "kernels/spectral.rs"]
mod spectral;
#[path = "kernels/ssim.rs"]
mod ssim;
