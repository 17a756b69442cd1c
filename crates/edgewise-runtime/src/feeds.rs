//! Checks feeds against the model's declared inputs before any data reaches tract.

use std::collections::HashMap;

use edgewise_core::{Dim, Error, Result, Tensor, ValueInfo};

/// Feeds checked and put in input order, with the value each symbolic dim took.
#[derive(Debug)]
pub(crate) struct Arranged {
    pub tensors: Vec<Tensor>,
    pub symbols: Vec<(String, usize)>,
}

/// Orders `feeds` as `inputs` are ordered, after checking names, element types, ranks, fixed
/// dims, and that a symbolic dim shared by several inputs gets one value.
pub(crate) fn arrange(inputs: &[ValueInfo], feeds: Vec<(String, Tensor)>) -> Result<Arranged> {
    let mut by_name: HashMap<String, Tensor> = HashMap::with_capacity(feeds.len());
    for (name, tensor) in feeds {
        if !inputs.iter().any(|i| i.name == name) {
            let expected = inputs
                .iter()
                .map(|i| format!("'{}'", i.name))
                .collect::<Vec<_>>();
            return Err(Error::UnknownInput {
                name,
                expected: expected.join(", "),
            });
        }
        if by_name.contains_key(&name) {
            return Err(Error::InvalidArgument(format!(
                "input '{name}' is fed twice"
            )));
        }
        by_name.insert(name, tensor);
    }
    let mut symbols: HashMap<&str, (usize, &str)> = HashMap::new();
    let mut ordered = Vec::with_capacity(inputs.len());
    for info in inputs {
        let Some(tensor) = by_name.remove(&info.name) else {
            return Err(Error::MissingInput {
                name: info.name.clone(),
                expected: info.signature(),
            });
        };
        check_one(info, &tensor, &mut symbols)?;
        ordered.push(tensor);
    }
    let symbols = symbols
        .into_iter()
        .map(|(s, (v, _))| (s.to_string(), v))
        .collect();
    Ok(Arranged {
        tensors: ordered,
        symbols,
    })
}

fn check_one<'a>(
    info: &'a ValueInfo,
    tensor: &Tensor,
    symbols: &mut HashMap<&'a str, (usize, &'a str)>,
) -> Result<()> {
    let name = &info.name;
    if let Some(expected) = info.dtype
        && expected != tensor.dtype()
    {
        return Err(Error::WrongType {
            name: name.clone(),
            expected,
            got: tensor.dtype(),
        });
    }
    let Some(shape) = &info.shape else {
        return Ok(());
    };
    let dims = tensor.dims();
    if shape.len() != dims.len() {
        return Err(Error::WrongRank {
            name: name.clone(),
            expected: shape.len(),
            shape: info.signature(),
            got: dims.len(),
            dims: dims.to_vec(),
        });
    }
    for (axis, (want, &got)) in shape.iter().zip(dims).enumerate() {
        let wrong = |expected: String| Error::WrongDim {
            name: name.clone(),
            axis,
            expected,
            got,
            dims: dims.to_vec(),
        };
        match want {
            Dim::Fixed(n) if *n != got => return Err(wrong(n.to_string())),
            Dim::Fixed(_) => {}
            Dim::Symbolic(s) if s == "?" => {}
            Dim::Symbolic(s) => match symbols.get(s.as_str()) {
                Some(&(value, by)) if value != got => {
                    return Err(wrong(format!("{s} = {value} (as fed to input '{by}')")));
                }
                Some(_) => {}
                None => {
                    symbols.insert(s, (got, name));
                }
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgewise_core::{DType, TensorData};

    fn info(name: &str, dims: Vec<Dim>) -> ValueInfo {
        ValueInfo {
            name: name.into(),
            dtype: Some(DType::F32),
            shape: Some(dims),
        }
    }

    fn zeros(dims: &[usize]) -> Tensor {
        Tensor::f32(vec![0.0; dims.iter().product()], dims.to_vec()).unwrap()
    }

    #[test]
    fn shared_symbol_must_agree_across_inputs() {
        let batch = || Dim::Symbolic("batch".into());
        let inputs = vec![
            info("a", vec![batch(), Dim::Fixed(2)]),
            info("b", vec![batch()]),
        ];
        let ok = arrange(
            &inputs,
            vec![("b".into(), zeros(&[3])), ("a".into(), zeros(&[3, 2]))],
        );
        let ok = ok.unwrap();
        assert_eq!(
            ok.tensors[0].dims(),
            &[3, 2],
            "feeds come back in input order"
        );
        assert_eq!(ok.symbols, vec![("batch".to_string(), 3)]);
        let err = arrange(
            &inputs,
            vec![("a".into(), zeros(&[3, 2])), ("b".into(), zeros(&[4]))],
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::WrongDim { ref name, axis: 0, .. } if name == "b"),
            "{err}"
        );
        assert!(err.to_string().contains("batch = 3"), "{err}");
    }

    #[test]
    fn unknown_dims_accept_anything_and_untyped_inputs_accept_any_type() {
        let inputs = vec![ValueInfo {
            name: "x".into(),
            dtype: None,
            shape: Some(vec![Dim::Symbolic("?".into())]),
        }];
        let t = Tensor::new(TensorData::I64(vec![1, 2, 3]), vec![3]).unwrap();
        assert!(arrange(&inputs, vec![("x".into(), t)]).is_ok());
    }

    #[test]
    fn duplicate_feed_is_an_error() {
        let inputs = vec![info("x", vec![Dim::Fixed(1)])];
        let err = arrange(
            &inputs,
            vec![("x".into(), zeros(&[1])), ("x".into(), zeros(&[1]))],
        )
        .unwrap_err();
        assert!(err.to_string().contains("fed twice"), "{err}");
    }
}
