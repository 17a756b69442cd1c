//! `GraphAggregate`: message aggregation of a graph neural network layer.
//!
//! Every node gathers the (optionally weighted) features of the nodes with an edge into it,
//! reduced by sum, mean or max: the "aggregate" step of GCN, GraphSAGE and GIN layers, over an
//! edge list as PyTorch Geometric stores it.
//!
//! ## Schema
//! - **Inputs**
//!   - `X`: `float32` `[Nn, F]`, node features.
//!   - `edges`: `int64` `[2, E]`; row 0 holds the source node of each edge, row 1 its target.
//!     Every index is in `[0, Nn)` (the CPU kernel fails naming the first edge that is not;
//!     the GPU kernel, which cannot fail, skips such edges).
//!   - `weight` (optional): `float32` `[E]`, one weight per edge.
//! - **Attribute** `reduce` (string, default `"sum"`): `"sum"`, `"mean"` or `"max"`.
//! - **Output** `Y`: `float32` `[Nn, F]`.
//!
//! `Y[t] = reduce { w_e · X[src_e] : e with target_e = t }`, with `w_e = 1` when `weight` is
//! absent; the mean divides the sum by the number of incoming edges (not by the weights).
//! Self loops and repeated edges count every time they appear. A node with no incoming edge
//! gets 0 whatever the reduction.
//!
//! The CPU kernel makes one pass over the edges in order. The GPU kernel runs one thread per
//! (edge, feature) and accumulates into the output with 32-bit atomics (WGSL has no float
//! atomics): sums by a compare-and-swap loop on the float's bits, maxima by `atomicMax` on an
//! order-preserving integer image of the float; a count per node serves the mean and tells
//! empty nodes apart. Sums therefore add in another order than on the CPU.

use std::sync::Arc;

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};
use crate::registry::OpDef;
use crate::testing::{BenchCase, Rng};

const SHADER: &str = include_str!("graph.wgsl");

/// How the messages into a node are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Their sum.
    Sum,
    /// Their sum divided by their number.
    Mean,
    /// Their element-wise maximum.
    Max,
}

/// The `GraphAggregate` operator.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphAggregate {
    /// The reduction.
    pub reduce: Reduce,
}

impl FromNode for GraphAggregate {
    const NAME: &'static str = "GraphAggregate";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let reduce = match node.get_attr_opt::<&str>("reduce")?.unwrap_or("sum") {
            "sum" => Reduce::Sum,
            "mean" => Reduce::Mean,
            "max" => Reduce::Max,
            other => bail!(
                "GraphAggregate: attribute reduce must be \"sum\", \"mean\" or \"max\", got {other:?}"
            ),
        };
        Ok(GraphAggregate { reduce })
    }
}

impl GraphAggregate {
    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        check_arity(Self::NAME, inputs, 2, 3)?;
        check_type(Self::NAME, inputs, 0, "X", DatumType::F32)?;
        check_type(Self::NAME, inputs, 1, "edges", DatumType::I64)?;
        let (x, edges) = (&inputs[0], &inputs[1]);
        ensure!(
            x.rank() == 2,
            "GraphAggregate: X must be [Nn, F], got shape {:?}",
            x.shape
        );
        ensure!(
            edges.rank() == 2 && edges.dim(0).is_none_or(|d| d == 2),
            "GraphAggregate: edges must be [2, E] (sources, targets), got shape {:?}",
            edges.shape
        );
        if let Some(weight) = inputs.get(2) {
            check_type(Self::NAME, inputs, 2, "weight", DatumType::F32)?;
            let mismatch = matches!((weight.dim(0), edges.dim(1)), (Some(w), Some(e)) if w != e);
            ensure!(
                weight.rank() == 1 && !mismatch,
                "GraphAggregate: weight must be [E] with E = {} (edges.shape[1]), got shape {:?}",
                edges.shape[1],
                weight.shape
            );
        }
        Ok(())
    }
}

impl CustomOp for GraphAggregate {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        self.check(inputs)?;
        Ok(tvec!(inputs[0].clone()))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let facts: Vec<Fact> = inputs
            .iter()
            .map(|t| Fact::concrete(t.datum_type(), t.shape()))
            .collect();
        self.check(&facts)?;
        let (nn, f) = (inputs[0].shape()[0], inputs[0].shape()[1]);
        let e = inputs[1].shape()[1];
        let xs = slice::<f32>(inputs[0])?;
        let (src, dst) = slice::<i64>(inputs[1])?.split_at(e);
        let weight = inputs.get(2).map(|w| slice::<f32>(w)).transpose()?;
        for (i, (&s, &t)) in src.iter().zip(dst).enumerate() {
            for (end, v) in [("source", s), ("target", t)] {
                ensure!(
                    (0..nn as i64).contains(&v),
                    "GraphAggregate: edge {i} has {end} {v}, outside [0, {nn})"
                );
            }
        }
        let mut out = vec![0f32; nn * f];
        let mut count = vec![0u32; nn];
        for (i, (&s, &t)) in src.iter().zip(dst).enumerate() {
            let (s, t) = (s as usize, t as usize);
            let w = weight.map_or(1.0, |w| w[i]);
            let row = &mut out[t * f..][..f];
            let msg = &xs[s * f..][..f];
            match self.reduce {
                Reduce::Sum | Reduce::Mean => {
                    for (o, &v) in row.iter_mut().zip(msg) {
                        *o += w * v;
                    }
                }
                Reduce::Max if count[t] == 0 => {
                    for (o, &v) in row.iter_mut().zip(msg) {
                        *o = w * v;
                    }
                }
                Reduce::Max => {
                    for (o, &v) in row.iter_mut().zip(msg) {
                        let v = w * v;
                        if v > *o {
                            *o = v;
                        }
                    }
                }
            }
            count[t] += 1;
        }
        if self.reduce == Reduce::Mean {
            for (row, &c) in out.chunks_mut(f.max(1)).zip(&count) {
                if c > 0 {
                    row.iter_mut().for_each(|o| *o /= c as f32);
                }
            }
        }
        Ok(tvec!(Tensor::from_shape(&[nn, f], &out)?))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        self.check(inputs)?;
        let dims = |i: usize| {
            inputs[i]
                .dims()
                .context("GraphAggregate: shapes must be concrete")
        };
        let x = dims(0)?;
        let (nn, f, e) = (x[0], x[1], dims(1)?[1]);
        ensure!(
            (e as u64) * (f as u64) < u32::MAX as u64 && ((nn * f) as u64) < u32::MAX as u64,
            "GraphAggregate: {e} edges × {f} features are too many for one GPU dispatch"
        );
        let outputs = vec![GpuOutput {
            dt: DatumType::F32,
            shape: x,
        }];
        if nn * f == 0 {
            return Ok(GpuProgram {
                outputs,
                scratch: vec![],
                passes: vec![],
            });
        }
        let weighted = inputs.len() == 3;
        let counts = self.reduce != Reduce::Sum;
        let params = Params::new().u(nn).u(f).u(e).u(counts as usize).build();
        let state = vec![Slot::Output(0), Slot::Scratch(0)];
        let mut scatter = state.clone();
        scatter.extend([Slot::Input(0), Slot::Input(1)]);
        if weighted {
            scatter.push(Slot::Input(2));
        }
        let entry = match (self.reduce, weighted) {
            (Reduce::Max, false) => "scatter_max",
            (Reduce::Max, true) => "scatter_max_w",
            (_, false) => "scatter_sum",
            (_, true) => "scatter_sum_w",
        };
        let mut passes = vec![
            Pass {
                label: "GraphAggregate clear",
                shader: SHADER,
                entry: "clear",
                workgroups: grid(nn * f, 256),
                params: params.clone(),
                bindings: state.clone(),
            },
            Pass {
                label: "GraphAggregate scatter",
                shader: SHADER,
                entry,
                workgroups: grid(e * f, 256),
                params: params.clone(),
                bindings: scatter,
            },
        ];
        let finalize = match self.reduce {
            Reduce::Sum => None,
            Reduce::Mean => Some("finalize_mean"),
            Reduce::Max => Some("finalize_max"),
        };
        if let Some(entry) = finalize {
            passes.push(Pass {
                label: "GraphAggregate finalize",
                shader: SHADER,
                entry,
                workgroups: grid(nn * f, 256),
                params,
                bindings: state,
            });
        }
        Ok(GpuProgram {
            outputs,
            scratch: vec![nn as u64],
            passes,
        })
    }
}

/// Benchmark workloads: a weighted sum (GCN-style) over random edges, from a small mesh to a
/// citation-scale graph. Flops: a multiply and an add per edge and feature.
pub fn bench_cases() -> Vec<BenchCase> {
    let mut rng = Rng::new(23);
    [
        ("small", 1_000, 8_000, 32),
        ("medium", 10_000, 100_000, 64),
        ("large", 50_000, 1_000_000, 64),
    ]
    .into_iter()
    .map(|(size, nn, e, f)| BenchCase {
        name: format!("GraphAggregate {size} {nn} nodes {e} edges F={f}"),
        op: Arc::new(GraphAggregate {
            reduce: Reduce::Sum,
        }),
        inputs: vec![
            rng.tensor_f32(&[nn, f], -1.0, 1.0),
            rng.tensor_i64(&[2, e], 0, nn as i64 - 1),
            rng.tensor_f32(&[e], 0.0, 1.0),
        ],
        flops: 2.0 * (e * f) as f64,
        bytes: (4 * nn * f + 16 * e + 4 * e + 4 * nn * f) as f64,
    })
    .collect()
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<GraphAggregate>()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    fn edges(pairs: &[(i64, i64)]) -> Tensor {
        let mut v: Vec<i64> = pairs.iter().map(|p| p.0).collect();
        v.extend(pairs.iter().map(|p| p.1));
        Tensor::from_shape(&[2, pairs.len()], &v).unwrap()
    }

    /// The dense formulation in f64: `A[t][s] = Σ w_e` over edges s → t, `C[t] = Σ 1`;
    /// sum = A·X, mean = A·X / C; max by explicit loops over every (t, s, e).
    fn naive(reduce: Reduce, x: &Tensor, pairs: &[(i64, i64)], w: Option<&[f32]>) -> Tensor {
        let (nn, f) = (x.shape()[0], x.shape()[1]);
        let xs = slice::<f32>(x).unwrap();
        let weight = |e: usize| w.map_or(1.0, |w| w[e] as f64);
        let mut out = vec![0f32; nn * f];
        for t in 0..nn {
            let incoming: Vec<usize> = (0..pairs.len())
                .filter(|&e| pairs[e].1 == t as i64)
                .collect();
            for c in 0..f {
                let value = match reduce {
                    Reduce::Sum | Reduce::Mean => {
                        let a: Vec<f64> = (0..nn)
                            .map(|s| {
                                incoming
                                    .iter()
                                    .filter(|&&e| pairs[e].0 == s as i64)
                                    .map(|&e| weight(e))
                                    .sum()
                            })
                            .collect();
                        let dot: f64 = (0..nn).map(|s| a[s] * xs[s * f + c] as f64).sum();
                        match (reduce, incoming.len()) {
                            (Reduce::Mean, 0) => 0.0,
                            (Reduce::Mean, n) => dot / n as f64,
                            _ => dot,
                        }
                    }
                    Reduce::Max => incoming
                        .iter()
                        .map(|&e| weight(e) as f32 * xs[pairs[e].0 as usize * f + c])
                        .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.max(v))))
                        .unwrap_or(0.0) as f64,
                };
                out[t * f + c] = value as f32;
            }
        }
        Tensor::from_shape(&[nn, f], &out).unwrap()
    }

    #[test]
    fn matches_the_dense_formulation() {
        let mut rng = Rng::new(9);
        for case in 0..30 {
            let reduce = [Reduce::Sum, Reduce::Mean, Reduce::Max][case % 3];
            let (nn, f) = (rng.range(1, 12), rng.range(1, 7));
            // Targets from a subset, so some nodes are isolated; self loops and repeats occur.
            let reach = rng.range(1, nn);
            let pairs: Vec<(i64, i64)> = (0..rng.range(0, 30))
                .map(|_| (rng.range(0, nn - 1) as i64, rng.range(0, reach - 1) as i64))
                .collect();
            let x = rng.tensor_f32(&[nn, f], -2.0, 2.0);
            let w = (case % 2 == 1).then(|| rng.tensor_f32(&[pairs.len()], -1.0, 1.5));
            let e = edges(&pairs);
            let mut inputs = vec![&x, &e];
            inputs.extend(w.as_ref());
            let got = GraphAggregate { reduce }.eval(&inputs).unwrap().remove(0);
            let ws = w.as_ref().map(|w| slice::<f32>(w).unwrap());
            let want = naive(reduce, &x, &pairs, ws);
            assert_close(&got, &want, 1e-5, 1e-5)
                .unwrap_or_else(|e| panic!("case {case} {reduce:?} {pairs:?}: {e}"));
        }
    }

    #[test]
    fn hand_checked_graph() {
        // 0 → 1 twice, 2 → 1, 1 → 1 (self loop); node 0 and node 2 receive nothing.
        let x = Tensor::from_shape(&[3, 2], &[1f32, -1.0, 2.0, 5.0, -4.0, 3.0]).unwrap();
        let e = edges(&[(0, 1), (0, 1), (2, 1), (1, 1)]);
        let run = |reduce, w: Option<&Tensor>| {
            let mut inputs = vec![&x, &e];
            inputs.extend(w);
            let out = GraphAggregate { reduce }.eval(&inputs).unwrap().remove(0);
            slice::<f32>(&out).unwrap().to_vec()
        };
        assert_eq!(run(Reduce::Sum, None), [0.0, 0.0, 0.0, 6.0, 0.0, 0.0]);
        assert_eq!(run(Reduce::Mean, None), [0.0, 0.0, 0.0, 1.5, 0.0, 0.0]);
        assert_eq!(run(Reduce::Max, None), [0.0, 0.0, 2.0, 5.0, 0.0, 0.0]);
        let w = Tensor::from_shape(&[4], &[1f32, 0.5, -1.0, 0.0]).unwrap();
        assert_eq!(run(Reduce::Sum, Some(&w)), [0.0, 0.0, 5.5, -4.5, 0.0, 0.0]);
        assert_eq!(
            run(Reduce::Mean, Some(&w)),
            [0.0, 0.0, 1.375, -1.125, 0.0, 0.0]
        );
        assert_eq!(run(Reduce::Max, Some(&w)), [0.0, 0.0, 4.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn bad_inputs_are_named() {
        let op = GraphAggregate {
            reduce: Reduce::Sum,
        };
        let x = Tensor::zero::<f32>(&[3, 2]).unwrap();
        let e = op
            .eval(&[&x, &edges(&[(0, 1), (2, 3)])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("edge 1 has target 3"), "{e}");
        let e = op.eval(&[&x, &edges(&[(-1, 0)])]).unwrap_err().to_string();
        assert!(e.contains("edge 0 has source -1"), "{e}");
        let f = |dt, shape: &[usize]| Fact::concrete(dt, shape);
        let e = op
            .output_facts(&[f(DatumType::F32, &[3, 2]), f(DatumType::I32, &[2, 4])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("input 1 (edges)"), "{e}");
        let e = op
            .output_facts(&[f(DatumType::F32, &[3, 2]), f(DatumType::I64, &[3, 4])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, E]"), "{e}");
        let e = op
            .output_facts(&[
                f(DatumType::F32, &[3, 2]),
                f(DatumType::I64, &[2, 4]),
                f(DatumType::F32, &[5]),
            ])
            .unwrap_err()
            .to_string();
        assert!(e.contains("weight must be [E]"), "{e}");
        let e = op
            .output_facts(&[f(DatumType::F32, &[3])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected 2 to 3 inputs"), "{e}");
        let ok = op
            .output_facts(&[f(DatumType::F32, &[3, 2]), f(DatumType::I64, &[2, 4])])
            .unwrap();
        assert_eq!(ok[0], f(DatumType::F32, &[3, 2]));
    }

    #[test]
    fn reduce_attribute_is_parsed_and_checked() {
        use tract_onnx::pb::{AttributeProto, attribute_proto::AttributeType};
        let node = |s: &str| NodeProto {
            op_type: "GraphAggregate".into(),
            attribute: vec![AttributeProto {
                name: "reduce".into(),
                r#type: AttributeType::String as i32,
                s: s.as_bytes().to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            GraphAggregate::from_node(&node("max")).unwrap().reduce,
            Reduce::Max
        );
        let e = GraphAggregate::from_node(&node("min"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"min\""), "{e}");
        let default = NodeProto::default();
        assert_eq!(
            GraphAggregate::from_node(&default).unwrap().reduce,
            Reduce::Sum
        );
    }
}
