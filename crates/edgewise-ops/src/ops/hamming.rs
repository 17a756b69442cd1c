//! `HammingTopK`: nearest neighbours of binary codes under the Hamming distance.
//!
//! Retrieval with learned binary hashes (semantic hashing, binary descriptors such as ORB or
//! BRIEF): each query code is compared with every database code by XOR and popcount, and the
//! `k` closest are returned, closest first.
//!
//! ## Schema
//! - **Inputs**
//!   - `queries`: `uint32` `[Q, Wd]`, one binary code of `Wd` 32-bit words per row.
//!   - `database`: `uint32` `[D, Wd]`, with the same `Wd`.
//! - **Attribute** `k` (int, required): `1 ≤ k ≤ D`.
//! - **Outputs**
//!   - `indices`: `int64` `[Q, k]`, database rows.
//!   - `distances`: `int32` `[Q, k]`, `Σ_w popcount(queries[q, w] XOR database[i, w])`.
//!
//! Each row lists the `k` database rows with the smallest `(distance, index)` pairs in
//! ascending order: ties are broken by the smaller index, so the result is unique and the
//! CPU and GPU kernels agree exactly.
//!
//! The CPU kernel computes the distances of a query to every row and keeps the `k` smallest
//! `(distance, index)` keys in a bounded max-heap, sorted at the end. The GPU kernel runs one
//! workgroup per query and exploits the small range of distances (`0 ..= 32·Wd`): a first
//! sweep over the database builds a histogram of distances, which gives the `k`-th distance
//! `d*`; a second sweep keeps every row closer than `d*` and the rows at `d*` with the
//! smallest indices; the `k` kept rows are then sorted by rank. It takes `Wd ≤`
//! [`GPU_MAX_WORDS`] and `k ≤` [`GPU_MAX_K`] and refuses larger ones (the caller then runs
//! the CPU kernel).

use std::collections::BinaryHeap;
use std::sync::Arc;

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::custom::{CustomOp, Fact, FromNode, check_arity, check_type, slice};
use crate::program::{GpuOutput, GpuProgram, Params, Pass, Slot, grid};
use crate::registry::OpDef;
use crate::testing::{BenchCase, Rng};

const SHADER: &str = include_str!("hamming.wgsl");

/// The longest code, in 32-bit words, the GPU kernel takes (its distance histogram lives in
/// workgroup memory).
pub const GPU_MAX_WORDS: usize = 63;

/// The largest `k` the GPU kernel takes (the kept rows live in workgroup memory).
pub const GPU_MAX_K: usize = 512;

/// Words of workgroup memory for the GPU kernel's histograms (see `hamming.wgsl`).
const GPU_HIST_WORDS: usize = 2048;

/// The `HammingTopK` operator.
#[derive(Debug, Clone, PartialEq)]
pub struct HammingTopK {
    /// How many neighbours per query.
    pub k: usize,
}

impl FromNode for HammingTopK {
    const NAME: &'static str = "HammingTopK";

    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let k = node
            .get_attr_opt::<i64>("k")?
            .context("HammingTopK: attribute k (int) is required")?;
        ensure!(k >= 1, "HammingTopK: k must be at least 1, got {k}");
        Ok(HammingTopK { k: k as usize })
    }
}

impl HammingTopK {
    fn check(&self, inputs: &[Fact]) -> TractResult<()> {
        check_arity(Self::NAME, inputs, 2, 2)?;
        for (i, name) in [(0, "queries"), (1, "database")] {
            check_type(Self::NAME, inputs, i, name, DatumType::U32)?;
            ensure!(
                inputs[i].rank() == 2,
                "HammingTopK: {name} must be [rows, Wd], got shape {:?}",
                inputs[i].shape
            );
        }
        let (q, db) = (&inputs[0], &inputs[1]);
        if let (Some(a), Some(b)) = (q.dim(1), db.dim(1)) {
            ensure!(
                a == b,
                "HammingTopK: queries have {a} words per code but database has {b}"
            );
        }
        ensure!(self.k >= 1, "HammingTopK: k must be at least 1");
        if let Some(d) = db.dim(0) {
            ensure!(
                self.k <= d,
                "HammingTopK: k ({}) exceeds the database size D = {d}",
                self.k
            );
            ensure!(
                d <= u32::MAX as usize,
                "HammingTopK: D = {d} rows are too many"
            );
        }
        Ok(())
    }
}

impl CustomOp for HammingTopK {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn output_facts(&self, inputs: &[Fact]) -> TractResult<TVec<Fact>> {
        self.check(inputs)?;
        let shape: TVec<TDim> = tvec!(inputs[0].shape[0].clone(), self.k.into());
        Ok(tvec!(
            Fact {
                dt: DatumType::I64,
                shape: shape.clone(),
            },
            Fact {
                dt: DatumType::I32,
                shape,
            }
        ))
    }

    fn eval(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let facts: Vec<Fact> = inputs
            .iter()
            .map(|t| Fact::concrete(t.datum_type(), t.shape()))
            .collect();
        self.check(&facts)?;
        let (q, wd, d, k) = (
            inputs[0].shape()[0],
            inputs[0].shape()[1],
            inputs[1].shape()[0],
            self.k,
        );
        let (qs, db) = (slice::<u32>(inputs[0])?, slice::<u32>(inputs[1])?);
        // Keys `distance << 32 | index` order rows as the schema does. A max-heap holds the
        // k best so far; most rows lose to its top with one comparison.
        let mut best = BinaryHeap::with_capacity(k + 1);
        let mut indices = Vec::with_capacity(q * k);
        let mut distances = Vec::with_capacity(q * k);
        for qi in 0..q {
            let code = &qs[qi * wd..][..wd];
            best.clear();
            for i in 0..d {
                let dist = distance(code, &db[i * wd..][..wd]);
                let key = (dist as u64) << 32 | i as u64;
                if best.len() < k {
                    best.push(key);
                } else if let Some(mut top) = best.peek_mut()
                    && key < *top
                {
                    *top = key;
                }
            }
            for key in std::mem::take(&mut best).into_sorted_vec() {
                indices.push((key & 0xFFFF_FFFF) as i64);
                distances.push((key >> 32) as i32);
            }
        }
        Ok(tvec!(
            Tensor::from_shape(&[q, k], &indices)?,
            Tensor::from_shape(&[q, k], &distances)?
        ))
    }

    fn gpu_program(&self, inputs: &[Fact]) -> TractResult<GpuProgram> {
        self.check(inputs)?;
        let dims = |i: usize| {
            inputs[i]
                .dims()
                .context("HammingTopK: shapes must be concrete")
        };
        let (qd, dd) = (dims(0)?, dims(1)?);
        let (q, wd, d, k) = (qd[0], qd[1], dd[0], self.k);
        ensure!(
            wd <= GPU_MAX_WORDS,
            "HammingTopK: codes of {wd} words exceed the GPU kernel's histogram (at most {GPU_MAX_WORDS} words)"
        );
        ensure!(
            k <= GPU_MAX_K,
            "HammingTopK: k = {k} exceeds the GPU kernel's limit ({GPU_MAX_K})"
        );
        ensure!(
            (q as u64) * (k as u64) < i32::MAX as u64 && (d as u64) < i32::MAX as u64,
            "HammingTopK: {q} queries × {k} or {d} rows are too many for the GPU's 32-bit indices"
        );
        let outputs = vec![
            GpuOutput {
                dt: DatumType::I64,
                shape: vec![q, k],
            },
            GpuOutput {
                dt: DatumType::I32,
                shape: vec![q, k],
            },
        ];
        if q == 0 {
            return Ok(GpuProgram {
                outputs,
                scratch: vec![],
                passes: vec![],
            });
        }
        // Several histogram copies spread the atomic increments of a workgroup.
        let bins = 32 * wd + 1;
        let copies = (GPU_HIST_WORDS / bins).clamp(1, 8);
        let params = Params::new().u(q).u(d).u(wd).u(k).u(bins).u(copies);
        Ok(GpuProgram {
            outputs,
            scratch: vec![],
            passes: vec![Pass {
                label: "HammingTopK",
                shader: SHADER,
                entry: "main",
                workgroups: grid(q, 1),
                params: params.build(),
                bindings: vec![
                    Slot::Input(0),
                    Slot::Input(1),
                    Slot::Output(0),
                    Slot::Output(1),
                ],
            }],
        })
    }
}

/// `Σ popcount(a XOR b)`, two words per 64-bit popcount (one instruction on wasm and on CPUs
/// with POPCNT, half the bit arithmetic elsewhere).
fn distance(a: &[u32], b: &[u32]) -> u32 {
    let (pa, pb) = (a.chunks_exact(2), b.chunks_exact(2));
    let tail: u32 = pa
        .remainder()
        .iter()
        .zip(pb.remainder())
        .map(|(x, y)| (x ^ y).count_ones())
        .sum();
    let pair = |w: &[u32]| w[0] as u64 | (w[1] as u64) << 32;
    tail + pa
        .zip(pb)
        .map(|(x, y)| (pair(x) ^ pair(y)).count_ones())
        .sum::<u32>()
}

/// Benchmark workloads, k = 10: one 64-bit query against 10k codes, 64 queries against 100k,
/// 256 queries of 128 bits against a million. Flops: an XOR and a popcount per bit compared.
pub fn bench_cases() -> Vec<BenchCase> {
    let mut rng = Rng::new(29);
    [
        ("small", 1, 10_000, 2),
        ("medium", 64, 100_000, 2),
        ("large", 256, 1_000_000, 4),
    ]
    .into_iter()
    .map(|(size, q, d, wd)| {
        let k = 10;
        BenchCase {
            name: format!("HammingTopK {size} Q={q} D={d} {}-bit k={k}", 32 * wd),
            op: Arc::new(HammingTopK { k }),
            inputs: vec![rng.tensor_u32(&[q, wd]), rng.tensor_u32(&[d, wd])],
            flops: 64.0 * (q * d * wd) as f64,
            bytes: (4 * (q + d) * wd + 12 * q * k) as f64,
        }
    })
    .collect()
}

/// The operators of this family.
pub fn defs() -> Vec<OpDef> {
    vec![OpDef::of::<HammingTopK>()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (distance, index) pair, distance bit by bit, fully sorted; the first k.
    fn naive(qs: &Tensor, db: &Tensor, k: usize) -> (Vec<i64>, Vec<i32>) {
        let wd = qs.shape()[1];
        let (qv, dv) = (slice::<u32>(qs).unwrap(), slice::<u32>(db).unwrap());
        let (mut idx, mut dist) = (vec![], vec![]);
        for q in 0..qs.shape()[0] {
            let mut all: Vec<(i32, i64)> = (0..db.shape()[0])
                .map(|i| {
                    let mut d = 0;
                    for w in 0..wd {
                        for bit in 0..32 {
                            let a = qv[q * wd + w] >> bit & 1;
                            let b = dv[i * wd + w] >> bit & 1;
                            d += (a != b) as i32;
                        }
                    }
                    (d, i as i64)
                })
                .collect();
            all.sort();
            for &(d, i) in &all[..k] {
                idx.push(i);
                dist.push(d);
            }
        }
        (idx, dist)
    }

    fn run(k: usize, qs: &Tensor, db: &Tensor) -> (Vec<i64>, Vec<i32>) {
        let out = HammingTopK { k }.eval(&[qs, db]).unwrap();
        assert_eq!(out[0].shape(), &[qs.shape()[0], k]);
        assert_eq!(out[1].shape(), &[qs.shape()[0], k]);
        (
            slice::<i64>(&out[0]).unwrap().to_vec(),
            slice::<i32>(&out[1]).unwrap().to_vec(),
        )
    }

    #[test]
    fn matches_a_full_sort() {
        let mut rng = Rng::new(13);
        for case in 0..25 {
            let (q, d, wd) = (rng.range(1, 5), rng.range(1, 200), rng.range(0, 4));
            let k = rng.range(1, d.min(40));
            let qs = rng.tensor_u32(&[q, wd]);
            // Half the cases draw the database from a few codes, so distances tie often.
            let db = if case % 2 == 0 {
                rng.tensor_u32(&[d, wd])
            } else {
                let pool = slice::<u32>(&rng.tensor_u32(&[3, wd])).unwrap().to_vec();
                let rows: Vec<u32> = (0..d)
                    .flat_map(|_| {
                        let r = rng.range(0, 2);
                        pool[r * wd..][..wd].to_vec()
                    })
                    .collect();
                Tensor::from_shape(&[d, wd], &rows).unwrap()
            };
            assert_eq!(
                run(k, &qs, &db),
                naive(&qs, &db, k),
                "case {case}: q {q} d {d} wd {wd} k {k}"
            );
        }
    }

    #[test]
    fn hand_checked_neighbours_and_ties() {
        let db = Tensor::from_shape(&[5, 1], &[0b1111u32, 0b0001, 0b0110, 0b0000, 0b1000]).unwrap();
        let qs = Tensor::from_shape(&[2, 1], &[0b0000u32, 0b0111]).unwrap();
        // Query 0: distances 4, 1, 2, 0, 1 → rows 3, 1, 4 (tie at 1 by index), 2, 0.
        // Query 1: distances 1, 2, 1, 3, 4 → rows 0, 2, 1, 3, 4.
        assert_eq!(
            run(5, &qs, &db),
            (
                vec![3, 1, 4, 2, 0, 0, 2, 1, 3, 4],
                vec![0, 1, 1, 2, 4, 1, 1, 2, 3, 4]
            )
        );
        assert_eq!(run(2, &qs, &db), (vec![3, 1, 0, 2], vec![0, 1, 1, 1]));
    }

    #[test]
    fn bad_inputs_are_named() {
        let op = HammingTopK { k: 3 };
        let f = |dt, shape: &[usize]| Fact::concrete(dt, shape);
        let e = op
            .output_facts(&[f(DatumType::U32, &[2, 2]), f(DatumType::U32, &[2, 2])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("k (3) exceeds the database size D = 2"), "{e}");
        let e = op
            .output_facts(&[f(DatumType::U32, &[2, 2]), f(DatumType::U32, &[5, 3])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 words per code but database has 3"), "{e}");
        let e = op
            .output_facts(&[f(DatumType::I32, &[2, 2]), f(DatumType::U32, &[5, 2])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("input 0 (queries)"), "{e}");
        let e = op
            .output_facts(&[f(DatumType::U32, &[2, 2]), f(DatumType::U32, &[10])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("database must be [rows, Wd]"), "{e}");
        let sym = TDim::Sym(SymbolScope::default().sym("Q"));
        let queries = Fact {
            dt: DatumType::U32,
            shape: tvec!(sym.clone(), 2.into()),
        };
        let out = op
            .output_facts(&[queries, f(DatumType::U32, &[7, 2])])
            .unwrap();
        assert_eq!(out[0].dt, DatumType::I64);
        assert_eq!(out[1].shape, tvec!(sym, 3.into()));
        let e = HammingTopK { k: GPU_MAX_K + 1 }
            .gpu_program(&[f(DatumType::U32, &[1, 2]), f(DatumType::U32, &[1000, 2])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("GPU kernel's limit"), "{e}");
        let e = HammingTopK::from_node(&NodeProto::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("attribute k"), "{e}");
        use tract_onnx::pb::{AttributeProto, attribute_proto::AttributeType};
        let node = |k: i64| NodeProto {
            attribute: vec![AttributeProto {
                name: "k".into(),
                r#type: AttributeType::Int as i32,
                i: k,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            HammingTopK::from_node(&node(5)).unwrap(),
            HammingTopK { k: 5 }
        );
        let e = HammingTopK::from_node(&node(0)).unwrap_err().to_string();
        assert!(e.contains("k must be at least 1"), "{e}");
    }
}
