//! TfIdfVectorizer, the ONNX operator, which tract does not have, for integer tokens
//! (`pool_int64s`; string pools are not supported). Each row of `[C]` or `[B, C]` token ids is
//! scanned for the pool's n-grams of `min_gram_length` to `max_gram_length` tokens, with up
//! to `max_skip_count` tokens skipped between neighbours (unigrams counted once); each n-gram
//! found adds to the output column `ngram_indexes` gives it. `mode`: `TF` the counts, `IDF` the
//! weight (or 1) where the count is positive, `TFIDF` weight × count.

use std::collections::{HashMap, HashSet};

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, values, wrap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tf,
    Idf,
    TfIdf,
}

/// The ONNX `TfIdfVectorizer` operator over integer tokens.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TfIdf {
    min: usize,
    max: usize,
    max_skip: usize,
    mode: Mode,
    /// Each n-gram of the pool (within the lengths counted) and its output column.
    grams: HashMap<Vec<i64>, usize>,
    /// Every prefix of those n-grams: a scan stops at the first token that leaves them.
    prefixes: HashSet<Vec<i64>>,
    weights: Vec<f32>,
    columns: usize,
}

impl Eq for TfIdf {}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let name = &node.name;
    ensure!(
        node.get_attr_opt_vec::<String>("pool_strings")?
            .is_none_or(|v| v.is_empty()),
        "TfIdfVectorizer node '{name}': string pools are not supported"
    );
    let mode = match node.get_attr::<String>("mode")?.as_str() {
        "TF" => Mode::Tf,
        "IDF" => Mode::Idf,
        "TFIDF" => Mode::TfIdf,
        other => bail!("TfIdfVectorizer node '{name}': mode '{other}'"),
    };
    let min: usize = node.get_attr("min_gram_length")?;
    let max: usize = node.get_attr("max_gram_length")?;
    let max_skip: usize = node.get_attr("max_skip_count")?;
    let counts: Vec<usize> = node.get_attr_vec("ngram_counts")?;
    let indexes: Vec<usize> = node.get_attr_vec("ngram_indexes")?;
    let pool: Vec<i64> = node.get_attr_opt_vec("pool_int64s")?.unwrap_or_default();
    ensure!(
        min >= 1 && min <= max,
        "TfIdfVectorizer node '{name}': gram lengths {min}..{max}"
    );
    let mut grams = HashMap::new();
    let mut prefixes = HashSet::new();
    let mut id = 0usize;
    for (i, &start) in counts.iter().enumerate() {
        let n = i + 1;
        let end = counts.get(i + 1).copied().unwrap_or(pool.len());
        ensure!(
            start <= end && end <= pool.len(),
            "TfIdfVectorizer node '{name}': ngram_counts {counts:?}"
        );
        for gram in pool[start..end].chunks(n) {
            if (min..=max).contains(&n) && gram.len() == n {
                let column = *indexes.get(id).with_context(|| {
                    format!("TfIdfVectorizer node '{name}': no index for n-gram {id}")
                })?;
                grams.entry(gram.to_vec()).or_insert(column);
                for k in 1..=n {
                    prefixes.insert(gram[..k].to_vec());
                }
            }
            id += 1;
        }
    }
    let op = TfIdf {
        min,
        max,
        max_skip,
        mode,
        grams,
        prefixes,
        weights: node.get_attr_opt_vec("weights")?.unwrap_or_default(),
        columns: indexes.iter().max().map_or(0, |m| m + 1),
    };
    wrap(op, 1, rules)
}

fn rules<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, f32::datum_type())?;
    s.equals(&outputs[0].rank, &inputs[0].rank)?;
    Ok(())
}

impl TfIdf {
    /// Counts per output column for one row of tokens.
    fn count(&self, row: &[i64], counts: &mut [f32]) {
        let mut start_size = self.min;
        for step in 1..=self.max_skip + 1 {
            for start in 0..row.len() {
                if start + step * (start_size - 1) >= row.len() {
                    break;
                }
                let mut gram = Vec::with_capacity(self.max);
                let mut at = start;
                while gram.len() < self.max && at < row.len() {
                    gram.push(row[at]);
                    if !self.prefixes.contains(&gram) {
                        break;
                    }
                    if gram.len() >= start_size
                        && let Some(&column) = self.grams.get(&gram)
                    {
                        counts[column] += 1.0;
                    }
                    at += step;
                }
            }
            // Unigrams do not depend on the skip: counted on the first pass only.
            if start_size == 1 {
                start_size = 2;
                if start_size > self.max {
                    break;
                }
            }
        }
    }

    fn weigh(&self, counts: &mut [f32]) {
        for (i, c) in counts.iter_mut().enumerate() {
            let w = self.weights.get(i).copied();
            *c = match self.mode {
                Mode::Tf => *c,
                Mode::Idf => {
                    if *c > 0.0 {
                        w.unwrap_or(1.0)
                    } else {
                        0.0
                    }
                }
                Mode::TfIdf => *c * w.unwrap_or(1.0),
            };
        }
    }
}

impl Kernel for TfIdf {
    fn name(&self) -> StaticName {
        "TfIdfVectorizer".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        Ok(tvec!(match shape.rank() {
            0 | 1 => f32::fact([self.columns]),
            2 => f32::fact([shape[0].clone(), self.columns.to_dim()]),
            r => bail!("TfIdfVectorizer input must be [C] or [B, C], got rank {r}"),
        }))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let tokens: Vec<i64> = values::<i64>(x)?;
        let (rows, width) = match x.shape() {
            [] => (1, 1),
            [c] => (1, *c),
            [b, c] => (*b, *c),
            s => bail!("TfIdfVectorizer input must be [C] or [B, C], got {s:?}"),
        };
        let mut out = vec![0f32; rows * self.columns];
        for r in 0..rows {
            let counts = &mut out[r * self.columns..(r + 1) * self.columns];
            self.count(&tokens[r * width..(r + 1) * width], counts);
            self.weigh(counts);
        }
        let shape: Vec<usize> = if x.rank() == 2 {
            vec![rows, self.columns]
        } else {
            vec![self.columns]
        };
        Ok(tvec!(Tensor::from_shape(&shape, &out)?.into_tvalue()))
    }
}
