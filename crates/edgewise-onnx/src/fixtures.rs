//! Small models with known behaviour, shared by the Rust, wasm and JS tests and the demo.
//!
//! Each function documents what the model computes, so a test can check its outputs against
//! an independent formula.

use edgewise_core::{DType, Dim};

use crate::{Attr, GraphBuilder, tensor_f32, tensor_i64};

/// A function writing one fixture model.
pub type Fixture = fn() -> Vec<u8>;

/// Every fixture, by the file name (without `.onnx`) the JS tests load it from.
pub const ALL: [(&str, Fixture); 13] = [
    ("mlp", mlp),
    ("half_precision", half_precision),
    ("unshaped", unshaped),
    ("rate_branch", rate_branch),
    ("counting_loop", counting_loop),
    ("declared_batch_one", declared_batch_one),
    ("border_chain", border_chain),
    ("dct_codec", dct_codec),
    ("dtypes", dtypes),
    ("two_inputs", two_inputs),
    ("unsupported_op", unsupported_op),
    ("sobel", sobel),
    ("early_exits", early_exits),
];

/// `len` reproducible values in `[-scale, scale]` (steps of `scale / 1000`) from `seed`: test
/// inputs and weights that are the same on every target.
pub fn pseudo_random(len: usize, seed: u32, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).max(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            ((s % 2001) as f32 / 1000.0 - 1.0) * scale
        })
        .collect()
}

/// The demo gallery's models, committed in `onnx/` under these names.
pub const DEMO: [(&str, Fixture); 2] = [("sobel", sobel), ("dct_codec", dct_codec)];

fn batch() -> Dim {
    Dim::Symbolic("batch".into())
}

/// Weights of [`mlp`]: `w` is 4×3 row-major, `b` has 3 entries.
pub const MLP_W: [f32; 12] = [
    0.5, -1.0, 0.25, 1.5, 0.0, -0.5, -2.0, 1.0, 0.75, 0.1, 0.2, 0.3,
];
/// Bias of [`mlp`].
pub const MLP_B: [f32; 3] = [0.1, -0.2, 0.05];

/// `y = relu(x · W + b)`: input `x` float32[batch,4], output `y` float32[batch,3].
pub fn mlp() -> Vec<u8> {
    let mut g = GraphBuilder::new("mlp", 17);
    g.input("x", DType::F32, &[batch(), Dim::Fixed(4)]);
    g.initializer(tensor_f32("w", &[4, 3], &MLP_W));
    g.initializer(tensor_f32("b", &[3], &MLP_B));
    g.node("MatMul", &["x", "w"], "xw", vec![]);
    g.node("Add", &["xw", "b"], "z", vec![]);
    g.node("Relu", &["z"], "y", vec![]);
    g.output("y", DType::F32, &[batch(), Dim::Fixed(3)]);
    g.to_bytes()
}

/// One input and one output per integer or boolean type, each a simple function:
/// `i64_out = i64_in * 3`, `i32_out = i32_in + 7`, `u8_out = u8_in` cast to float32 / 2,
/// `bool_out = not(bool_in)`, `f64_out = f64_in - 1`. All inputs are rank 1 of length `n`.
pub fn dtypes() -> Vec<u8> {
    let n = || Dim::Symbolic("n".into());
    let mut g = GraphBuilder::new("dtypes", 17);
    for (name, t) in [
        ("i64_in", DType::I64),
        ("i32_in", DType::I32),
        ("u8_in", DType::U8),
    ] {
        g.input(name, t, &[n()]);
    }
    g.input("bool_in", DType::Bool, &[n()]);
    g.input("f64_in", DType::F64, &[n()]);
    g.initializer(tensor_i64("three", &[], &[3]));
    g.node("Mul", &["i64_in", "three"], "i64_out", vec![]);
    g.node(
        "Constant",
        &[],
        "seven",
        vec![("value", Attr::Tensor(Box::new(int32_scalar("seven_v", 7))))],
    );
    g.node("Add", &["i32_in", "seven"], "i32_out", vec![]);
    g.node(
        "Cast",
        &["u8_in"],
        "u8_f",
        vec![("to", Attr::Int(DType::F32.onnx_code() as i64))],
    );
    g.initializer(tensor_f32("two", &[], &[2.0]));
    g.node("Div", &["u8_f", "two"], "u8_out", vec![]);
    g.node("Not", &["bool_in"], "bool_out", vec![]);
    g.node(
        "Constant",
        &[],
        "one",
        vec![("value", Attr::Tensor(Box::new(f64_scalar("one_v", 1.0))))],
    );
    g.node("Sub", &["f64_in", "one"], "f64_out", vec![]);
    g.output("i64_out", DType::I64, &[n()]);
    g.output("i32_out", DType::I32, &[n()]);
    g.output("u8_out", DType::F32, &[n()]);
    g.output("bool_out", DType::Bool, &[n()]);
    g.output("f64_out", DType::F64, &[n()]);
    g.to_bytes()
}

fn int32_scalar(name: &str, v: i32) -> crate::pb::TensorProto {
    crate::pb::TensorProto {
        name: name.into(),
        data_type: DType::I32.onnx_code(),
        int32_data: vec![v],
        ..Default::default()
    }
}

fn f64_scalar(name: &str, v: f64) -> crate::pb::TensorProto {
    crate::pb::TensorProto {
        name: name.into(),
        data_type: DType::F64.onnx_code(),
        double_data: vec![v],
        ..Default::default()
    }
}

/// `sum = a + b` with `a` float32[batch,2] and `b` float32[batch,2]: two inputs sharing the
/// symbolic `batch`.
pub fn two_inputs() -> Vec<u8> {
    let mut g = GraphBuilder::new("two_inputs", 17);
    g.input("a", DType::F32, &[batch(), Dim::Fixed(2)]);
    g.input("b", DType::F32, &[batch(), Dim::Fixed(2)]);
    g.node("Add", &["a", "b"], "sum", vec![]);
    g.output("sum", DType::F32, &[batch(), Dim::Fixed(2)]);
    g.to_bytes()
}

/// `y = ReduceSum(relu(x), axes = [-1], keepdims = 0)` with `x` float32 declared without a
/// shape, as fully dynamic exports declare their inputs: tract cannot type it ahead, so a
/// session plans it per input shape. Any rank ≥ 1 works; `y` has the rank of `x` minus one.
pub fn unshaped() -> Vec<u8> {
    let mut g = GraphBuilder::new("unshaped", 17);
    g.input_unshaped("x", DType::F32);
    g.initializer(tensor_i64("last", &[1], &[-1]));
    g.node("Relu", &["x"], "r", vec![]);
    g.node(
        "ReduceSum",
        &["r", "last"],
        "y",
        vec![("keepdims", Attr::Int(0))],
    );
    g.output_unshaped("y", DType::F32);
    g.to_bytes()
}

/// The `rate` at which [`rate_branch`] takes its first branch.
pub const RATE_BRANCH_RATE: i64 = 16000;

/// A graph that branches on an input's value into results of different ranks, as voice
/// activity exports branch on their sample rate: inputs `x` float32[n] and `rate` int64
/// scalar; `y = unsqueeze(2·x, [0])` (float32[1,n]) when `rate == 16000`, else
/// `y = unsqueeze(x, [0, 2])` (float32[1,n,1]).
pub fn rate_branch() -> Vec<u8> {
    let n = Dim::Symbolic("n".into());
    let mut then = GraphBuilder::new("then", 17);
    then.initializer(tensor_f32("two", &[], &[2.0]));
    then.initializer(tensor_i64("axes_then", &[1], &[0]));
    then.node("Mul", &["x", "two"], "doubled", vec![]);
    then.node("Unsqueeze", &["doubled", "axes_then"], "y_then", vec![]);
    then.output_unshaped("y_then", DType::F32);
    let mut other = GraphBuilder::new("else", 17);
    other.initializer(tensor_i64("axes_else", &[2], &[0, 2]));
    other.node("Unsqueeze", &["x", "axes_else"], "y_else", vec![]);
    other.output_unshaped("y_else", DType::F32);
    let mut g = GraphBuilder::new("rate_branch", 17);
    g.input("x", DType::F32, &[n]);
    g.input("rate", DType::I64, &[]);
    g.initializer(tensor_i64("expected_rate", &[], &[RATE_BRANCH_RATE]));
    g.node("Equal", &["rate", "expected_rate"], "is_expected", vec![]);
    g.node(
        "If",
        &["is_expected"],
        "y",
        vec![
            ("then_branch", Attr::Graph(Box::new(then.graph()))),
            ("else_branch", Attr::Graph(Box::new(other.graph()))),
        ],
    );
    g.output_unshaped("y", DType::F32);
    g.to_bytes()
}

/// The step [`counting_loop`] scales its iteration number by.
pub const COUNTING_LOOP_STEP: f32 = 2.0;

/// A `Loop` whose carried value grows: inputs `x` float32[n] and `steps` int64 scalar (the
/// trip count). Iteration `i` appends `i · 2` (the step is an outer value the body reads) to
/// the carried vector, starting from `x`, and emits the carried vector's sum. Outputs `y`
/// float32[n + steps] = `x` followed by `0, 2, …, 2(steps − 1)`, and `sums` float32[steps]
/// with `sums[i] = Σx + i(i + 1)`.
pub fn counting_loop() -> Vec<u8> {
    let mut body = GraphBuilder::new("count", 17);
    body.input("i", DType::I64, &[]);
    body.input("cond_in", DType::Bool, &[]);
    body.input_unshaped("acc", DType::F32);
    body.initializer(tensor_i64("axes_first", &[1], &[0]));
    body.node("Identity", &["cond_in"], "cond_out", vec![]);
    body.node(
        "Cast",
        &["i"],
        "i_float",
        vec![("to", Attr::Int(DType::F32.onnx_code() as i64))],
    );
    body.node("Mul", &["i_float", "step"], "value", vec![]);
    body.node("Unsqueeze", &["value", "axes_first"], "item", vec![]);
    body.node(
        "Concat",
        &["acc", "item"],
        "acc_out",
        vec![("axis", Attr::Int(0))],
    );
    body.node(
        "ReduceSum",
        &["acc_out"],
        "total",
        vec![("keepdims", Attr::Int(0))],
    );
    body.output("cond_out", DType::Bool, &[]);
    body.output_unshaped("acc_out", DType::F32);
    body.output("total", DType::F32, &[]);
    let mut g = GraphBuilder::new("counting_loop", 17);
    g.input("x", DType::F32, &[Dim::Symbolic("n".into())]);
    g.input("steps", DType::I64, &[]);
    g.initializer(tensor_f32("step", &[], &[COUNTING_LOOP_STEP]));
    g.node_in(
        "",
        "Loop",
        &["steps", "", "x"],
        &["y", "sums"],
        vec![("body", Attr::Graph(Box::new(body.graph())))],
    );
    g.output_unshaped("y", DType::F32);
    g.output_unshaped("sums", DType::F32);
    g.to_bytes()
}

/// [`mlp`] with a `value_info` that declares its hidden value `z` as float32[1,3]: exporters
/// traced at batch 1 write such facts, which contradict the symbolic `batch` of the input.
/// Computes exactly what `mlp` computes, for any batch.
pub fn declared_batch_one() -> Vec<u8> {
    let mut g = GraphBuilder::new("declared_batch_one", 17);
    g.input("x", DType::F32, &[batch(), Dim::Fixed(4)]);
    g.initializer(tensor_f32("w", &[4, 3], &MLP_W));
    g.initializer(tensor_f32("b", &[3], &MLP_B));
    g.node("MatMul", &["x", "w"], "xw", vec![]);
    g.node("Add", &["xw", "b"], "z", vec![]);
    g.node("Relu", &["z"], "y", vec![]);
    g.value_info("z", DType::F32, &[Dim::Fixed(1), Dim::Fixed(3)]);
    g.output("y", DType::F32, &[batch(), Dim::Fixed(3)]);
    g.to_bytes()
}

/// Half-precision arithmetic: input `x` float16[n]; outputs `y = x · 0.5 + 1.5` as float16[n]
/// and `z = y` cast to float32[n]. Every value is exact in float16 for `x` a multiple of 2⁻⁸
/// within ±64.
pub fn half_precision() -> Vec<u8> {
    let n = Dim::Symbolic("n".into());
    let half = |name: &str, v: f32| crate::pb::TensorProto {
        name: name.into(),
        data_type: DType::F16.onnx_code(),
        // float16 values travel as their bits in int32_data.
        int32_data: vec![i32::from(edgewise_core::f16::from_f32(v).to_bits())],
        ..Default::default()
    };
    let mut g = GraphBuilder::new("half_precision", 17);
    g.input("x", DType::F16, std::slice::from_ref(&n));
    g.initializer(half("scale", 0.5));
    g.initializer(half("shift", 1.5));
    g.node("Mul", &["x", "scale"], "scaled", vec![]);
    g.node("Add", &["scaled", "shift"], "y", vec![]);
    g.node(
        "Cast",
        &["y"],
        "z",
        vec![("to", Attr::Int(DType::F32.onnx_code() as i64))],
    );
    g.output("y", DType::F16, std::slice::from_ref(&n));
    g.output("z", DType::F32, &[n]);
    g.to_bytes()
}

/// A valid model whose middle node is `com.example.FancyOp`, which no runtime knows.
pub fn unsupported_op() -> Vec<u8> {
    let mut g = GraphBuilder::new("unsupported", 17);
    g.import("com.example", 1);
    g.input("x", DType::F32, &[Dim::Fixed(2)]);
    g.node("Relu", &["x"], "r", vec![]);
    g.node_in("com.example", "FancyOp", &["r"], &["f"], vec![]);
    g.node("Neg", &["f"], "y", vec![]);
    g.output("y", DType::F32, &[Dim::Fixed(2)]);
    g.to_bytes()
}

/// Side of the demo image the Sobel model expects.
pub const SOBEL_SIZE: usize = 64;

/// Edge magnitude of a grayscale image: input `image` float32[batch,1,64,64] in [0,1],
/// output `edges` float32[batch,1,64,64] = sqrt(gx² + gy²) / 4 with 3×3 Sobel kernels and
/// zero padding, clipped to [0,1]. The demo gallery's first page runs it.
pub fn sobel() -> Vec<u8> {
    let s = SOBEL_SIZE;
    let shape = [batch(), Dim::Fixed(1), Dim::Fixed(s), Dim::Fixed(s)];
    let mut g = GraphBuilder::new("sobel", 17);
    g.metadata("system", "sobel-demo");
    g.metadata(
        "description",
        "Sobel edge magnitude of a 64x64 grayscale image",
    );
    g.input("image", DType::F32, &shape);
    #[rustfmt::skip]
    let kernels = [
        -1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0,
        -1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0,
    ];
    g.initializer(tensor_f32("sobel_kernels", &[2, 1, 3, 3], &kernels));
    g.node(
        "Conv",
        &["image", "sobel_kernels"],
        "gradients",
        vec![("pads", Attr::Ints(vec![1; 4]))],
    );
    g.node("Mul", &["gradients", "gradients"], "squares", vec![]);
    g.initializer(tensor_i64("channel_axis", &[1], &[1]));
    g.node(
        "ReduceSum",
        &["squares", "channel_axis"],
        "sum_sq",
        vec![("keepdims", Attr::Int(1))],
    );
    g.node("Sqrt", &["sum_sq"], "magnitude", vec![]);
    g.initializer(tensor_f32("quarter", &[], &[0.25]));
    g.node("Mul", &["magnitude", "quarter"], "scaled", vec![]);
    g.initializer(tensor_f32("zero", &[], &[0.0]));
    g.initializer(tensor_f32("one", &[], &[1.0]));
    g.node("Clip", &["scaled", "zero", "one"], "edges", vec![]);
    g.output("edges", DType::F32, &shape);
    g.to_bytes()
}

/// The domain of edgewise's own operators.
const EDGEWISE: &str = "ai.edgewise";

/// Per-channel scales of [`border_chain`]'s first `BorderRound`.
pub const BORDER_SCALE: [f32; 4] = [0.25, 0.5, 0.125, 1.0];
/// Per-channel rounding borders of [`border_chain`]'s first `BorderRound`.
pub const BORDER_BORDER: [f32; 4] = [0.5, 0.3, 0.7, 0.5];

/// Standard and edgewise operators in turn, planned as CPU → GPU → CPU stages:
/// `a = x · 2` (Mul); `q = BorderRound(a, BORDER_SCALE, BORDER_BORDER, qmin −8, qmax 7)`;
/// `r = BorderRound(q, [0.5], [0.5], qmin −4, qmax 4)`; `y = relu(r)` (Relu).
/// Input `x` float32[batch,4,8]; outputs `y` and `q` (a GPU-stage output read directly),
/// both float32[batch,4,8].
pub fn border_chain() -> Vec<u8> {
    let shape = [batch(), Dim::Fixed(4), Dim::Fixed(8)];
    let mut g = GraphBuilder::new("border_chain", 17);
    g.import(EDGEWISE, 1);
    g.input("x", DType::F32, &shape);
    g.initializer(tensor_f32("two", &[], &[2.0]));
    g.initializer(tensor_f32("scale", &[4], &BORDER_SCALE));
    g.initializer(tensor_f32("border", &[4], &BORDER_BORDER));
    g.initializer(tensor_f32("half", &[1], &[0.5]));
    g.node("Mul", &["x", "two"], "a", vec![]);
    g.node_in(
        EDGEWISE,
        "BorderRound",
        &["a", "scale", "border"],
        &["q"],
        vec![("qmin", Attr::Int(-8)), ("qmax", Attr::Int(7))],
    );
    g.node_in(
        EDGEWISE,
        "BorderRound",
        &["q", "half", "half"],
        &["r"],
        vec![("qmin", Attr::Int(-4)), ("qmax", Attr::Int(4))],
    );
    g.node("Relu", &["r"], "y", vec![]);
    g.output("y", DType::F32, &shape);
    g.output("q", DType::F32, &shape);
    g.to_bytes()
}

/// A JPEG-like codec and its quality score, mixing standard and edgewise operators:
/// `s = Conv(x, 3×3 box blur, pads 1)`; `d = BlockDct(s, block 8)`;
/// `q = BorderRound(d, scale 0.05, border 0.5, qmin −128, qmax 127)`;
/// `m = q · mask` (Mul; the mask keeps the 4×4 lowest frequencies of each 8×8 block);
/// `recon = BlockIdct(m, block 8)`; `ssim = SsimMap(s, recon, window 7, sigma 1.5)`;
/// `score = ReduceMean(ssim, axes [2, 3], keepdims 0)`.
/// Input `x` float32[batch,1,32,32]; outputs `recon` float32[batch,1,32,32] and `score`
/// float32[batch,1]. Planned as CPU → GPU → CPU → GPU → CPU stages.
pub fn dct_codec() -> Vec<u8> {
    let image = [batch(), Dim::Fixed(1), Dim::Fixed(32), Dim::Fixed(32)];
    let mut g = GraphBuilder::new("dct_codec", 17);
    g.import(EDGEWISE, 1);
    g.input("x", DType::F32, &image);
    g.initializer(tensor_f32("blur", &[1, 1, 3, 3], &[1.0 / 9.0; 9]));
    g.initializer(tensor_f32("step", &[1], &[0.05]));
    g.initializer(tensor_f32("half", &[1], &[0.5]));
    let mask: Vec<f32> = (0..32 * 32)
        .map(|i| {
            let (r, c) = (i / 32 % 8, i % 32 % 8);
            if r < 4 && c < 4 { 1.0 } else { 0.0 }
        })
        .collect();
    g.initializer(tensor_f32("mask", &[1, 1, 32, 32], &mask));
    g.node(
        "Conv",
        &["x", "blur"],
        "s",
        vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))],
    );
    g.node_in(
        EDGEWISE,
        "BlockDct",
        &["s"],
        &["d"],
        vec![("block", Attr::Int(8))],
    );
    g.node_in(
        EDGEWISE,
        "BorderRound",
        &["d", "step", "half"],
        &["q"],
        vec![("qmin", Attr::Int(-128)), ("qmax", Attr::Int(127))],
    );
    g.node("Mul", &["q", "mask"], "m", vec![]);
    g.node_in(
        EDGEWISE,
        "BlockIdct",
        &["m"],
        &["recon"],
        vec![("block", Attr::Int(8))],
    );
    g.node_in(
        EDGEWISE,
        "SsimMap",
        &["s", "recon"],
        &["ssim"],
        vec![("window", Attr::Int(7)), ("sigma", Attr::Float(1.5))],
    );
    g.node(
        "ReduceMean",
        &["ssim"],
        "score",
        vec![("axes", Attr::Ints(vec![2, 3])), ("keepdims", Attr::Int(0))],
    );
    g.output("recon", DType::F32, &image);
    g.output("score", DType::F32, &[batch(), Dim::Fixed(1)]);
    g.to_bytes()
}

/// The weights of [`early_exits`], by initializer name: `W1`, `W2` are 4×4, `A0`, `A1`, `A2`
/// 4×3 (row-major), `pseudo_random(len, seed, 1.0)` with seeds 11 to 15 in this order.
pub fn early_exit_weights() -> [(&'static str, [usize; 2], Vec<f32>); 5] {
    [
        ("W1", [4, 4], pseudo_random(16, 11, 1.0)),
        ("W2", [4, 4], pseudo_random(16, 12, 1.0)),
        ("A0", [4, 3], pseudo_random(12, 13, 1.0)),
        ("A1", [4, 3], pseudo_random(12, 14, 1.0)),
        ("A2", [4, 3], pseudo_random(12, 15, 1.0)),
    ]
}

/// A classifier with two early exits, without the metadata that names them:
/// `h1 = relu(x·W1)`, `exit0 = h1·A0`; `h2 = relu(h1·W2)`, `exit1 = h2·A1`; `logits = h2·A2`.
/// Input `x` float32[batch,4]; outputs `exit0`, `exit1`, `logits`, float32[batch,3].
pub fn early_exits_graph() -> GraphBuilder {
    let mut g = GraphBuilder::new("early_exits", 17);
    g.input("x", DType::F32, &[batch(), Dim::Fixed(4)]);
    for (name, dims, w) in early_exit_weights() {
        g.initializer(tensor_f32(name, &dims, &w));
    }
    g.node("MatMul", &["x", "W1"], "p1", vec![]);
    g.node("Relu", &["p1"], "h1", vec![]);
    g.node("MatMul", &["h1", "A0"], "exit0", vec![]);
    g.node("MatMul", &["h1", "W2"], "p2", vec![]);
    g.node("Relu", &["p2"], "h2", vec![]);
    g.node("MatMul", &["h2", "A1"], "exit1", vec![]);
    g.node("MatMul", &["h2", "A2"], "logits", vec![]);
    for o in ["exit0", "exit1", "logits"] {
        g.output(o, DType::F32, &[batch(), Dim::Fixed(3)]);
    }
    g
}

/// [`early_exits_graph`] with its exits named in the metadata (`edgewise.exits` =
/// `exit0,exit1,logits`).
pub fn early_exits() -> Vec<u8> {
    let mut g = early_exits_graph();
    g.metadata("edgewise.exits", "exit0,exit1,logits");
    g.to_bytes()
}
