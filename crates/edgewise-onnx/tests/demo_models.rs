//! The committed demo models are exactly what the generators write today.

use edgewise_onnx::fixtures;

#[test]
fn committed_demo_models_are_current() {
    for (name, make) in fixtures::DEMO {
        let path = format!("{}/../../onnx/{name}.onnx", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            committed == make(),
            "onnx/{name}.onnx is stale: rewrite it with the write-fixtures binary (`write-fixtures target/fixtures --demo onnx`)"
        );
    }
}
