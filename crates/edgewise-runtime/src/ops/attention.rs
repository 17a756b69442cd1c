//! Attention (opset 23 and later), the ONNX operator, which tract does not have.
//!
//! Scaled dot-product attention over `[batch, heads, sequence, head size]` (or 3D inputs with
//! `q_num_heads` / `kv_num_heads`): grouped key/value heads, a boolean or additive mask (padded
//! to the keys' length), causal and sliding-window masking aligned to the bottom right by the
//! cache's length, a key/value cache (`past_*` in, `present_*` out), per-batch valid lengths
//! (`nonpad_kv_seqlen`), soft capping, and the optional `qk_matmul_output` in its four modes.
//! A row whose mask allows no key gives zeros, as the specification says. Computed in f32
//! (float16 models reach it in f32, see `load`).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, values, wrap};

/// Input slots of the optional inputs, among the node's non-empty inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Slots {
    mask: Option<usize>,
    past_key: Option<usize>,
    past_value: Option<usize>,
    nonpad: Option<usize>,
}

/// The ONNX `Attention` operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attention {
    is_causal: bool,
    q_num_heads: Option<usize>,
    kv_num_heads: Option<usize>,
    qk_mode: i64,
    scale: Option<f32>,
    softcap: f32,
    left_window: i64,
    right_window: i64,
    slots: Slots,
    /// Which of `Y`, `present_key`, `present_value`, `qk_matmul_output` the node produces.
    wanted: [bool; 4],
}

impl Eq for Attention {}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    ensure!(
        node.domain.is_empty() || node.domain == "ai.onnx",
        "{}.Attention (node '{}') is not the ONNX operator and is not supported",
        node.domain,
        node.name
    );
    let mut present = node.input.iter().map(|n| !n.is_empty());
    let mut slot = 0usize;
    let mut next = |there: Option<bool>| {
        there.unwrap_or(false).then(|| {
            slot += 1;
            slot - 1
        })
    };
    for _ in 0..3 {
        ensure!(
            next(present.next()).is_some(),
            "Attention node '{}': Q, K and V are required",
            node.name
        );
    }
    let slots = Slots {
        mask: next(present.next()),
        past_key: next(present.next()),
        past_value: next(present.next()),
        nonpad: next(present.next()),
    };
    ensure!(
        slots.past_key.is_some() == slots.past_value.is_some(),
        "Attention node '{}': past_key and past_value come together",
        node.name
    );
    let mut wanted = [false; 4];
    for (w, name) in wanted.iter_mut().zip(&node.output) {
        *w = !name.is_empty();
    }
    let positive = |v: Option<i64>| v.filter(|&n| n > 0).map(|n| n as usize);
    let op = Attention {
        is_causal: node.get_attr_opt::<i64>("is_causal")?.unwrap_or(0) != 0,
        q_num_heads: positive(node.get_attr_opt("q_num_heads")?),
        kv_num_heads: positive(node.get_attr_opt("kv_num_heads")?),
        qk_mode: node.get_attr_opt("qk_matmul_output_mode")?.unwrap_or(0),
        scale: node.get_attr_opt("scale")?,
        softcap: node.get_attr_opt("softcap")?.unwrap_or(0.0),
        left_window: node.get_attr_opt("left_window_size")?.unwrap_or(-1),
        right_window: node.get_attr_opt("right_window_size")?.unwrap_or(-1),
        slots,
        wanted,
    };
    ensure!(
        (0..=3).contains(&op.qk_mode),
        "Attention node '{}': qk_matmul_output_mode {}",
        node.name,
        op.qk_mode
    );
    let outputs = wanted.iter().filter(|w| **w).count();
    wrap(op, outputs, rules)
}

fn rules<'p>(
    op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    let op = op
        .downcast_ref::<super::Own<Attention>>()
        .map(|o| &o.0)
        .context("an Attention op")?;
    let mut out = 0;
    for (k, wanted) in op.wanted.iter().enumerate() {
        if !wanted {
            continue;
        }
        s.equals(&outputs[out].datum_type, &inputs[0].datum_type)?;
        if k == 0 {
            s.equals(&outputs[out].rank, &inputs[0].rank)?;
        } else {
            s.equals(&outputs[out].rank, 4)?;
        }
        out += 1;
    }
    Ok(())
}

/// `[batch, heads, sequence, head size]` of Q, K or V as fed (3D inputs split into heads).
fn heads_of(shape: &[TDim], heads: Option<usize>) -> TractResult<[TDim; 4]> {
    match shape {
        [b, h, s, d] => Ok([b.clone(), h.clone(), s.clone(), d.clone()]),
        [b, s, hidden] => {
            let heads = heads.context("3D inputs need q_num_heads and kv_num_heads")?;
            Ok([
                b.clone(),
                heads.to_dim(),
                s.clone(),
                hidden.clone() / heads as u64,
            ])
        }
        _ => bail!("Q, K and V must be of rank 3 or 4, got {}", shape.len()),
    }
}

impl Kernel for Attention {
    fn name(&self) -> StaticName {
        "Attention".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let dt = inputs[0].datum_type;
        let q = heads_of(&inputs[0].shape.to_tvec(), self.q_num_heads)?;
        let k = heads_of(&inputs[1].shape.to_tvec(), self.kv_num_heads)?;
        let v = heads_of(&inputs[2].shape.to_tvec(), self.kv_num_heads)?;
        let past = match self.slots.past_key {
            Some(i) => inputs[i]
                .shape
                .to_tvec()
                .get(2)
                .cloned()
                .context("past_key rank")?,
            None => 0.to_dim(),
        };
        let total = past + k[2].clone();
        let y = if inputs[0].rank() == 3 {
            tvec![q[0].clone(), q[2].clone(), q[1].clone() * v[3].clone()]
        } else {
            tvec![q[0].clone(), q[1].clone(), q[2].clone(), v[3].clone()]
        };
        let all = [
            dt.fact(y),
            dt.fact([k[0].clone(), k[1].clone(), total.clone(), k[3].clone()]),
            dt.fact([v[0].clone(), v[1].clone(), total.clone(), v[3].clone()]),
            dt.fact([q[0].clone(), q[1].clone(), q[2].clone(), total]),
        ];
        Ok(all
            .into_iter()
            .zip(self.wanted)
            .filter_map(|(f, w)| w.then_some(f))
            .collect())
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let q = Heads::from(&inputs[0], self.q_num_heads)?;
        let mut k = Heads::from(&inputs[1], self.kv_num_heads)?;
        let mut v = Heads::from(&inputs[2], self.kv_num_heads)?;
        let mut past_len = 0;
        if let (Some(pk), Some(pv)) = (self.slots.past_key, self.slots.past_value) {
            let (pk, pv) = (
                Heads::from(&inputs[pk], None)?,
                Heads::from(&inputs[pv], None)?,
            );
            past_len = pk.dims[2];
            k = pk.concat(&k)?;
            v = pv.concat(&v)?;
        }
        let [batch, q_heads, q_len, head] = q.dims;
        let [kb, kv_heads, total, k_head] = k.dims;
        let [vb, v_heads, v_total, v_head] = v.dims;
        ensure!(
            kb == batch && vb == batch && k_head == head && v_heads == kv_heads && v_total == total,
            "Q {:?}, K {:?} and V {:?} do not fit together",
            q.dims,
            k.dims,
            v.dims
        );
        ensure!(
            kv_heads > 0 && q_heads % kv_heads == 0,
            "{q_heads} query heads cannot share {kv_heads} key/value heads"
        );
        let group = q_heads / kv_heads;
        let nonpad: Option<Vec<i64>> = match self.slots.nonpad {
            Some(i) => Some(values::<i64>(&inputs[i])?),
            None => None,
        };
        if let Some(n) = &nonpad {
            ensure!(
                n.len() == batch,
                "nonpad_kv_seqlen has {} entries for a batch of {batch}",
                n.len()
            );
        }
        let mask = match self.slots.mask {
            Some(i) => Some(additive_mask(&inputs[i], total)?),
            None => None,
        };
        // The offset aligning a query block to the keys' end: the cache's length, or per
        // batch the valid keys minus the queries.
        let offset = |b: usize| -> i64 {
            match (&nonpad, self.slots.past_key) {
                (Some(n), None) => n[b] - q_len as i64,
                _ => past_len as i64,
            }
        };
        let bias = |b: usize, h: usize, i: usize, j: usize| -> f32 {
            let mut x = match &mask {
                Some((dims, values)) => broadcast_at(dims, values, [b, h, i, j]),
                None => 0.0,
            };
            let diff = i as i64 + offset(b) - j as i64;
            if self.is_causal && diff < 0 {
                x = f32::NEG_INFINITY;
            }
            if (self.left_window >= 0 && diff > self.left_window)
                || (self.right_window >= 0 && -diff > self.right_window)
            {
                x = f32::NEG_INFINITY;
            }
            if let Some(n) = &nonpad
                && j as i64 >= n[b]
            {
                x = f32::NEG_INFINITY;
            }
            x
        };
        let scale = self.scale.unwrap_or(1.0 / (head as f32).sqrt()).sqrt();
        let mut y = vec![0f32; batch * q_heads * q_len * v_head];
        let mut qk_out = vec![
            0f32;
            if self.wanted[3] {
                batch * q_heads * q_len * total
            } else {
                0
            }
        ];
        let mut scores = vec![0f32; total];
        let mut biases = vec![0f32; total];
        for b in 0..batch {
            for h in 0..q_heads {
                let kh = h / group;
                for i in 0..q_len {
                    let qi = q.at(b, h, i);
                    for j in 0..total {
                        let kj = k.at(b, kh, j);
                        let mut s: f32 = qi
                            .iter()
                            .zip(kj)
                            .map(|(a, c)| (a * scale) * (c * scale))
                            .sum();
                        if self.softcap > 0.0 {
                            s = self.softcap * (s / self.softcap).tanh();
                        }
                        scores[j] = s;
                        biases[j] = bias(b, h, i, j);
                    }
                    let row = ((b * q_heads + h) * q_len + i) * total;
                    if self.wanted[3] && self.qk_mode <= 1 {
                        qk_out[row..row + total].copy_from_slice(&scores);
                    }
                    for (s, &c) in scores.iter_mut().zip(&biases) {
                        *s += c;
                    }
                    if self.wanted[3] && self.qk_mode == 2 {
                        qk_out[row..row + total].copy_from_slice(&scores);
                    }
                    let all_masked = biases.iter().all(|&c| c == f32::NEG_INFINITY);
                    softmax(&mut scores, all_masked);
                    if self.wanted[3] && self.qk_mode == 3 {
                        qk_out[row..row + total].copy_from_slice(&scores);
                    }
                    let out = &mut y[((b * q_heads + h) * q_len + i) * v_head..][..v_head];
                    for (j, &p) in scores.iter().enumerate() {
                        if p != 0.0 {
                            for (o, &x) in out.iter_mut().zip(v.at(b, kh, j)) {
                                *o += p * x;
                            }
                        }
                    }
                }
            }
        }
        let dt = inputs[0].datum_type();
        let y = if inputs[0].rank() == 3 {
            // Back to [batch, sequence, heads · head size].
            let mut t = vec![0f32; y.len()];
            for (idx, val) in y.iter().enumerate() {
                let (bh, rest) = (idx / (q_len * v_head), idx % (q_len * v_head));
                let (bi, hi) = (bh / q_heads, bh % q_heads);
                let (si, di) = (rest / v_head, rest % v_head);
                t[((bi * q_len + si) * q_heads + hi) * v_head + di] = *val;
            }
            Tensor::from_shape(&[batch, q_len, q_heads * v_head], &t)?
        } else {
            Tensor::from_shape(&[batch, q_heads, q_len, v_head], &y)?
        };
        let all = [
            Some(y),
            Some(k.tensor()?),
            Some(v.tensor()?),
            self.wanted[3]
                .then(|| Tensor::from_shape(&[batch, q_heads, q_len, total], &qk_out))
                .transpose()?,
        ];
        all.into_iter()
            .zip(self.wanted)
            .filter(|(_, w)| *w)
            .map(|(t, _)| {
                Ok(t.context("computed")?
                    .cast_to_dt(dt)?
                    .into_owned()
                    .into_tvalue())
            })
            .collect()
    }
}

/// A dense f32 tensor in `[batch, heads, sequence, head size]` layout.
struct Heads {
    data: Vec<f32>,
    dims: [usize; 4],
}

impl Heads {
    fn from(t: &Tensor, heads: Option<usize>) -> TractResult<Heads> {
        let t = t.cast_to::<f32>()?;
        let view = t.to_plain_array_view::<f32>()?;
        let shape = view.shape().to_vec();
        match shape[..] {
            [b, h, s, d] => Ok(Heads {
                data: view.iter().copied().collect(),
                dims: [b, h, s, d],
            }),
            [b, s, hidden] => {
                let h = heads.context("3D inputs need q_num_heads and kv_num_heads")?;
                ensure!(
                    hidden % h == 0,
                    "hidden size {hidden} is not a multiple of {h} heads"
                );
                let d = hidden / h;
                let mut data = vec![0.0; b * s * hidden];
                for (i, v) in view.iter().enumerate() {
                    let (bi, rest) = (i / (s * hidden), i % (s * hidden));
                    let (si, hi, di) = (rest / hidden, (rest % hidden) / d, rest % d);
                    data[((bi * h + hi) * s + si) * d + di] = *v;
                }
                Ok(Heads {
                    data,
                    dims: [b, h, s, d],
                })
            }
            _ => bail!("Q, K and V must be of rank 3 or 4, got {shape:?}"),
        }
    }

    fn at(&self, b: usize, h: usize, s: usize) -> &[f32] {
        let [_, hs, ss, d] = self.dims;
        let start = ((b * hs + h) * ss + s) * d;
        &self.data[start..start + d]
    }

    /// `self` followed by `next` along the sequence axis.
    fn concat(&self, next: &Heads) -> TractResult<Heads> {
        let [b, h, s1, d] = self.dims;
        let [b2, h2, s2, d2] = next.dims;
        ensure!(
            (b, h, d) == (b2, h2, d2),
            "the cache {:?} does not match {:?}",
            self.dims,
            next.dims
        );
        let mut data = Vec::with_capacity(self.data.len() + next.data.len());
        for bi in 0..b {
            for hi in 0..h {
                data.extend_from_slice(
                    &self.data[((bi * h + hi) * s1) * d..((bi * h + hi + 1) * s1) * d],
                );
                data.extend_from_slice(
                    &next.data[((bi * h + hi) * s2) * d..((bi * h + hi + 1) * s2) * d],
                );
            }
        }
        Ok(Heads {
            data,
            dims: [b, h, s1 + s2, d],
        })
    }

    fn tensor(&self) -> TractResult<Tensor> {
        Tensor::from_shape(&self.dims, &self.data)
    }
}

/// The mask as an additive f32 bias with its shape, padded to `total` keys (with `false` or
/// −∞, as the specification pads it).
fn additive_mask(mask: &Tensor, total: usize) -> TractResult<(Vec<usize>, Vec<f32>)> {
    let shape = mask.shape().to_vec();
    let last = *shape.last().context("the mask has rank 0")?;
    ensure!(
        last <= total,
        "the mask has {last} keys, more than the {total} attended"
    );
    let values: Vec<f32> = if mask.datum_type() == bool::datum_type() {
        let v = mask.to_plain_array_view::<bool>()?;
        v.iter()
            .map(|&a| if a { 0.0 } else { f32::NEG_INFINITY })
            .collect()
    } else {
        let m = mask.cast_to::<f32>()?;
        m.to_plain_array_view::<f32>()?.iter().copied().collect()
    };
    let mut padded = Vec::with_capacity(values.len() / last.max(1) * total);
    for row in values.chunks(last.max(1)) {
        padded.extend_from_slice(row);
        padded.extend(std::iter::repeat_n(f32::NEG_INFINITY, total - last));
    }
    let mut dims = shape;
    *dims.last_mut().expect("rank checked") = total;
    Ok((dims, padded))
}

/// Reads a right-aligned broadcast of `dims` at index `[b, h, i, j]`.
fn broadcast_at(dims: &[usize], values: &[f32], idx: [usize; 4]) -> f32 {
    let rank = dims.len();
    let mut flat = 0;
    for (axis, &d) in dims.iter().enumerate() {
        let i = idx[4 - rank + axis];
        flat = flat * d + if d == 1 { 0 } else { i };
    }
    values[flat]
}

/// Softmax in place; a row with no attendable key (all −∞ bias) is all zeros.
fn softmax(x: &mut [f32], all_masked: bool) {
    if all_masked {
        x.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let safe = if max == f32::NEG_INFINITY { 0.0 } else { max };
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - safe).exp();
        sum += *v;
    }
    let sum = if sum == 0.0 { 1.0 } else { sum };
    x.iter_mut().for_each(|v| *v /= sum);
}
