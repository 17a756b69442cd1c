//! What a model says about its inputs and outputs.

use std::fmt;

use crate::DType;

/// One dimension of a declared shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A named size chosen by the caller at run time (`batch`, `N`, …).
    Symbolic(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => f.write_str(s),
        }
    }
}

/// Name, element type and shape of a model input or output.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueInfo {
    /// The value's name in the graph.
    pub name: String,
    /// Its element type, if the model declares one edgewise supports.
    pub dtype: Option<DType>,
    /// Its shape, if the model declares one.
    pub shape: Option<Vec<Dim>>,
}

impl ValueInfo {
    /// `float32[batch,3,224,224]`, or `?` parts where the model is silent.
    pub fn signature(&self) -> String {
        let dtype = self.dtype.map(DType::name).unwrap_or("?");
        match &self.shape {
            Some(shape) => {
                let dims: Vec<String> = shape.iter().map(Dim::to_string).collect();
                format!("{dtype}[{}]", dims.join(","))
            }
            None => format!("{dtype}[?]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_prints_symbolic_and_unknown_parts() {
        let info = ValueInfo {
            name: "x".into(),
            dtype: Some(DType::F32),
            shape: Some(vec![Dim::Symbolic("batch".into()), Dim::Fixed(3)]),
        };
        assert_eq!(info.signature(), "float32[batch,3]");
        let unknown = ValueInfo {
            name: "y".into(),
            dtype: None,
            shape: None,
        };
        assert_eq!(unknown.signature(), "?[?]");
    }
}
