//! Models whose weights live in a file beside them (ONNX external data).

use edgewise_onnx::{fixtures, pb};
use edgewise_runtime::{Error, Session, SessionOptions, Tensor};
use prost::Message;

/// The mlp fixture with its weights `w` moved to `weights.bin` at offset 16, after 16 bytes
/// of something else; returns the model and the file.
fn mlp_with_external_weights() -> (Vec<u8>, Vec<u8>) {
    let mut model = pb::ModelProto::decode(&*fixtures::mlp()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let w = graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "w")
        .unwrap();
    let bytes: Vec<u8> = w.float_data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut file = vec![0xAB; 16];
    file.extend(&bytes);
    w.float_data.clear();
    w.data_location = Some(1);
    for (key, value) in [
        ("location", "./weights.bin"),
        ("offset", "16"),
        ("length", &bytes.len().to_string()),
    ] {
        w.external_data.push(pb::StringStringEntryProto {
            key: key.into(),
            value: value.to_string(),
        });
    }
    (model.encode_to_vec(), file)
}

fn x() -> Tensor {
    Tensor::f32((0..8).map(|i| i as f32 / 4.0 - 1.0).collect(), vec![2, 4]).unwrap()
}

#[test]
fn external_weights_load_from_the_file_given_by_name() {
    let (model, file) = mlp_with_external_weights();
    assert_eq!(Session::external_files(&model).unwrap(), ["./weights.bin"]);
    assert!(
        Session::external_files(&fixtures::mlp())
            .unwrap()
            .is_empty()
    );
    let options = SessionOptions {
        external_data: vec![("weights.bin".into(), file)],
        ..Default::default()
    };
    let got = Session::new(&model, &options)
        .unwrap()
        .run(vec![("x".into(), x())])
        .unwrap();
    let want = Session::new(&fixtures::mlp(), &SessionOptions::default())
        .unwrap()
        .run(vec![("x".into(), x())])
        .unwrap();
    assert_eq!(got, want);
}

#[test]
fn a_missing_or_short_file_is_named() {
    let (model, file) = mlp_with_external_weights();
    let err = Session::new(&model, &SessionOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidModel(_)), "{err}");
    assert!(
        err.to_string().contains("'w'") && err.to_string().contains("./weights.bin"),
        "{err}"
    );
    let short = SessionOptions {
        external_data: vec![("weights.bin".into(), file[..20].to_vec())],
        ..Default::default()
    };
    let err = Session::new(&model, &short).unwrap_err();
    assert!(err.to_string().contains("past the end"), "{err}");
}
