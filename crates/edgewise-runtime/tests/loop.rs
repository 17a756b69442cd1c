//! `Loop`, which tract lacks: the body runs once per iteration with plans typed for the
//! shapes it is fed, carried values may grow, outer values are read, and a loop whose inputs
//! are all known ahead runs while the model is typed.

use edgewise_onnx::fixtures::{self, COUNTING_LOOP_STEP};
use edgewise_runtime::{Session, SessionOptions, Tensor, TensorData};

fn run(s: &mut Session, x: &[f32], steps: i64) -> (Tensor, Tensor) {
    let mut out = s
        .run(vec![
            ("x".into(), Tensor::f32(x.to_vec(), vec![x.len()]).unwrap()),
            (
                "steps".into(),
                Tensor::new(TensorData::I64(vec![steps]), vec![]).unwrap(),
            ),
        ])
        .unwrap();
    let sums = out.remove(1).1;
    (out.remove(0).1, sums)
}

/// What the fixture documents: `x` then `i · step` for each iteration, and running sums.
fn expected(x: &[f32], steps: i64) -> (Vec<f32>, Vec<f32>) {
    let mut y = x.to_vec();
    let mut sums = vec![];
    for i in 0..steps {
        y.push(i as f32 * COUNTING_LOOP_STEP);
        sums.push(y.iter().sum());
    }
    (y, sums)
}

#[test]
fn a_loop_whose_carried_value_grows_matches_its_formula_at_several_sizes() {
    let mut s = Session::new(&fixtures::counting_loop(), &SessionOptions::default()).unwrap();
    for (x, steps) in [
        (&[1.0, 2.0][..], 3),
        (&[0.5, -1.0, 4.0, 2.5][..], 5),
        (&[1.0, 2.0][..], 3),
        (&[3.0][..], 1),
    ] {
        let (y, sums) = run(&mut s, x, steps);
        let (want_y, want_sums) = expected(x, steps);
        assert_eq!(y.dims(), &[x.len() + steps as usize]);
        assert_eq!(y.as_f32().unwrap(), &want_y[..]);
        assert_eq!(sums.dims(), &[steps as usize]);
        assert_eq!(sums.as_f32().unwrap(), &want_sums[..]);
    }
}

#[test]
fn a_loop_of_no_iteration_returns_its_initial_values_and_empty_scans() {
    let mut s = Session::new(&fixtures::counting_loop(), &SessionOptions::default()).unwrap();
    let (y, sums) = run(&mut s, &[1.0, -2.0, 3.0], 0);
    assert_eq!(y.as_f32().unwrap(), &[1.0, -2.0, 3.0]);
    assert_eq!(sums.dims(), &[0]);
}

#[test]
fn the_same_loop_runs_unoptimized() {
    let options = SessionOptions {
        optimize: false,
        ..SessionOptions::default()
    };
    let mut s = Session::new(&fixtures::counting_loop(), &options).unwrap();
    let (y, sums) = run(&mut s, &[2.0, 2.0], 4);
    let (want_y, want_sums) = expected(&[2.0, 2.0], 4);
    assert_eq!(y.as_f32().unwrap(), &want_y[..]);
    assert_eq!(sums.as_f32().unwrap(), &want_sums[..]);
}
