//! The committed demo models are exactly what the generators write today.

use edgewise_onnx::fixtures;

#[test]
fn committed_sobel_model_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../onnx/sobel.onnx");
    let committed = std::fs::read(path).expect("onnx/sobel.onnx is committed");
    assert!(
        committed == fixtures::sobel(),
        "onnx/sobel.onnx is stale: run `cargo run -p edgewise-onnx --bin write-fixtures -- target/fixtures --demo onnx`"
    );
}
