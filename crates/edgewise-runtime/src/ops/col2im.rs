//! Col2Im, the ONNX operator (opset 18), which tract does not have: the inverse of im2col.
//! Input `[N, C·Πk, L]` holds, for each of the `L` sliding blocks over an image of
//! `image_shape`, the `C · Πblock_shape` values of the block; they are summed back into the
//! image `[N, C, image_shape…]` with `strides`, `dilations` and `pads`. `image_shape` and
//! `block_shape` must be known when the plan is built (constants, or inputs the session pins).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Kernel, output, values, wrap};

/// The ONNX `Col2Im` operator; attributes default per spatial axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Col2Im {
    strides: Option<Vec<usize>>,
    dilations: Option<Vec<usize>>,
    pads: Option<Vec<usize>>,
}

pub(crate) fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op = Col2Im {
        strides: node.get_attr_opt_vec("strides")?,
        dilations: node.get_attr_opt_vec("dilations")?,
        pads: node.get_attr_opt_vec("pads")?,
    };
    wrap(op, 1, rules)
}

fn rules<'p>(
    _op: &dyn Op,
    s: &mut Solver,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    check_input_arity(inputs, 3)?;
    check_output_arity(outputs, 1)?;
    s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
    s.equals(&inputs[0].rank, 3)?;
    Ok(())
}

fn ints(t: &Tensor) -> TractResult<Vec<usize>> {
    t.cast_to::<i64>()?
        .to_plain_array_view::<i64>()?
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| format_err!("{v} is negative")))
        .collect()
}

/// The geometry of one call.
struct Geometry {
    image: Vec<usize>,
    block: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads: Vec<usize>,
    /// Blocks along each spatial axis.
    blocks: Vec<usize>,
}

impl Col2Im {
    fn geometry(&self, image: Vec<usize>, block: Vec<usize>) -> TractResult<Geometry> {
        let n = image.len();
        ensure!(
            block.len() == n,
            "image_shape {image:?} and block_shape {block:?} differ in rank"
        );
        let strides = self.strides.clone().unwrap_or_else(|| vec![1; n]);
        let dilations = self.dilations.clone().unwrap_or_else(|| vec![1; n]);
        let pads = self.pads.clone().unwrap_or_else(|| vec![0; 2 * n]);
        ensure!(
            strides.len() == n && dilations.len() == n && pads.len() == 2 * n,
            "attributes for {n} spatial axes"
        );
        let blocks = (0..n)
            .map(|a| {
                let span = dilations[a] * (block[a].max(1) - 1) + 1;
                let padded = image[a] + pads[a] + pads[a + n];
                ensure!(
                    padded >= span && strides[a] > 0,
                    "axis {a}: a block of {span} does not fit {padded}"
                );
                Ok((padded - span) / strides[a] + 1)
            })
            .collect::<TractResult<Vec<_>>>()?;
        Ok(Geometry {
            image,
            block,
            strides,
            dilations,
            pads,
            blocks,
        })
    }
}

impl Kernel for Col2Im {
    fn name(&self) -> StaticName {
        "Col2Im".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let known = |i: usize, what: &str| -> TractResult<Vec<usize>> {
            ints(
                inputs[i]
                    .konst
                    .as_ref()
                    .with_context(|| format!("Col2Im: {what} must be known when planning"))?,
            )
        };
        let (image, block) = (known(1, "image_shape")?, known(2, "block_shape")?);
        let kernel: usize = block.iter().product();
        let rows = inputs[0].shape[1].to_usize()?;
        ensure!(
            kernel > 0 && rows % kernel == 0,
            "{rows} rows are not channels × {kernel}"
        );
        let mut shape: TVec<TDim> = tvec![inputs[0].shape[0].clone(), (rows / kernel).to_dim()];
        shape.extend(image.iter().map(|d| d.to_dim()));
        Ok(tvec!(inputs[0].datum_type.fact(shape)))
    }

    fn eval(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let g = self.geometry(ints(&inputs[1])?, ints(&inputs[2])?)?;
        let x = &inputs[0];
        let [batch, rows, l] = x.shape()[..] else {
            bail!("Col2Im input must be of rank 3")
        };
        let kernel: usize = g.block.iter().product();
        ensure!(
            kernel > 0 && rows % kernel == 0,
            "{rows} rows are not channels × {kernel}"
        );
        ensure!(
            l == g.blocks.iter().product::<usize>(),
            "{l} columns for {:?} blocks",
            g.blocks
        );
        let channels = rows / kernel;
        let plane: usize = g.image.iter().product();
        let xs: Vec<f64> = values::<f64>(x)?;
        let mut out = vec![0f64; batch * channels * plane];
        let n = g.image.len();
        for b in 0..batch {
            for row in 0..rows {
                let (c, k) = (row / kernel, row % kernel);
                for col in 0..l {
                    let (mut kr, mut cr, mut flat, mut inside) = (k, col, 0usize, true);
                    for a in (0..n).rev() {
                        let (ko, bo) = (kr % g.block[a], cr % g.blocks[a]);
                        kr /= g.block[a];
                        cr /= g.blocks[a];
                        let at =
                            (bo * g.strides[a] + ko * g.dilations[a]) as isize - g.pads[a] as isize;
                        if at < 0 || at as usize >= g.image[a] {
                            inside = false;
                            break;
                        }
                        flat += at as usize * g.image[a + 1..].iter().product::<usize>();
                    }
                    if inside {
                        out[(b * channels + c) * plane + flat] += xs[(b * rows + row) * l + col];
                    }
                }
            }
        }
        let mut shape = vec![batch, channels];
        shape.extend(&g.image);
        Ok(tvec!(output(&shape, &out, x.datum_type())?))
    }
}
