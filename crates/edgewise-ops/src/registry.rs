//! The `ai.edgewise` operator registry and its hook into tract-onnx.
//!
//! tract-onnx finds an operator by `op_type` alone, whatever the node's domain. So the
//! registry refuses a name that a standard operator already has (the custom op would replace
//! it for every model), and the runtime checks domains itself: a node of domain
//! `ai.edgewise` must name a registered operator, and a registered name in another domain is
//! not taken for the edgewise one.

use std::collections::BTreeMap;
use std::sync::Arc;

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::InferenceOp;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, FromNode};
use crate::ops;
use crate::tract_op;

/// Builds an operator from its node.
pub type Build = fn(&NodeProto) -> TractResult<Arc<dyn CustomOp>>;

/// tract-onnx's parser signature.
type Parse = fn(&ParsingContext, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// One registered operator.
#[derive(Clone, Copy)]
pub struct OpDef {
    /// The `op_type`.
    pub name: &'static str,
    /// Builds the operator from a node's attributes.
    pub build: Build,
    parse: Parse,
}

impl std::fmt::Debug for OpDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpDef").field("name", &self.name).finish()
    }
}

impl OpDef {
    /// The definition of operator type `T`.
    pub fn of<T: FromNode>() -> OpDef {
        OpDef {
            name: T::NAME,
            build: T::build,
            parse: tract_op::parse::<T>,
        }
    }
}

/// Why an operator could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// A standard ONNX operator (as tract-onnx knows them) has this name.
    CollidesWithStandard(String),
    /// An edgewise operator of this name is already registered.
    Duplicate(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::CollidesWithStandard(n) => write!(
                f,
                "operator '{n}' cannot be registered in ai.edgewise: a standard ONNX operator has that name, and tract matches operators by name only"
            ),
            RegistryError::Duplicate(n) => {
                write!(f, "operator '{n}' is already registered in ai.edgewise")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// The set of `ai.edgewise` operators a session understands.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    defs: BTreeMap<&'static str, OpDef>,
}

impl Registry {
    /// A registry with no operators.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// Every operator edgewise ships.
    pub fn standard() -> Registry {
        let mut r = Registry::empty();
        for def in ops::all() {
            r.add(def)
                .expect("the shipped operators have distinct, non-standard names");
        }
        r
    }

    /// Adds an operator, refusing names that standard ONNX operators or registered ones use.
    pub fn add(&mut self, def: OpDef) -> Result<(), RegistryError> {
        if standard_names().0.contains_key(def.name) {
            return Err(RegistryError::CollidesWithStandard(def.name.into()));
        }
        if self.defs.contains_key(def.name) {
            return Err(RegistryError::Duplicate(def.name.into()));
        }
        self.defs.insert(def.name, def);
        Ok(())
    }

    /// Whether `name` is a registered operator.
    pub fn contains(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.defs.keys().copied()
    }

    /// Builds the operator a node describes, or says which name is unknown.
    pub fn build(&self, node: &NodeProto) -> TractResult<Arc<dyn CustomOp>> {
        let def = self.defs.get(node.op_type.as_str()).with_context(|| {
            format!(
                "unknown ai.edgewise operator '{}' (node '{}')",
                node.op_type, node.name
            )
        })?;
        (def.build)(node).with_context(|| format!("node '{}' ({})", node.name, node.op_type))
    }

    /// Makes tract-onnx parse the registered operators.
    pub fn install(&self, onnx: &mut tract_onnx::Onnx) {
        for def in self.defs.values() {
            onnx.op_register.insert(def.name, def.parse);
        }
    }
}

/// tract-onnx's own operator names, computed once.
fn standard_names() -> &'static OnnxOpRegister {
    static NAMES: std::sync::OnceLock<OnnxOpRegister> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| tract_onnx::onnx().op_register)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::border::BorderRound;

    #[test]
    fn standard_registry_holds_every_family_and_no_standard_name() {
        let r = Registry::standard();
        let names: Vec<_> = r.names().collect();
        for n in &names {
            assert!(
                !standard_names().0.contains_key(*n),
                "{n} is a standard name"
            );
        }
        assert!(names.contains(&"BorderRound"), "{names:?}");
    }

    #[test]
    fn refuses_a_standard_name_and_a_duplicate() {
        let mut r = Registry::empty();
        let mut def = OpDef::of::<BorderRound>();
        r.add(def).unwrap();
        assert_eq!(
            r.add(def),
            Err(RegistryError::Duplicate("BorderRound".into()))
        );
        def.name = "Conv";
        let err = r.add(def).unwrap_err();
        assert_eq!(err, RegistryError::CollidesWithStandard("Conv".into()));
        assert!(err.to_string().contains("standard ONNX operator"));
    }

    #[test]
    fn an_unknown_name_is_named_in_the_error() {
        let node = NodeProto {
            op_type: "Frobnicate".into(),
            name: "n7".into(),
            domain: crate::DOMAIN.into(),
            ..Default::default()
        };
        let err = Registry::standard().build(&node).unwrap_err().to_string();
        assert!(err.contains("Frobnicate") && err.contains("n7"), "{err}");
    }
}
