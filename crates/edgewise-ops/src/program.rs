//! GPU work described as data: the WGSL passes of one operator.
//!
//! An operator does not talk to a GPU API. It returns a [`GpuProgram`]: the outputs it will
//! write, scratch buffers it needs, and an ordered list of [`Pass`]es (one compute dispatch
//! each). The `edgewise-gpu` crate turns this into wgpu pipelines and dispatches, natively and
//! in the browser alike.
//!
//! ## Buffer conventions
//! - Every tensor lives in a storage buffer of 4-byte words, one word per element:
//!   `f32` as `f32`, `u32`/`i32` as themselves, `i64` narrowed to `i32` on upload (values out
//!   of range are refused) and widened again on read-back. A shader declares each binding as
//!   `array<f32>`, `array<u32>` or `array<i32>` accordingly.
//! - Binding 0 of group 0 is always the pass's parameters, `var<storage, read> params:
//!   array<u32>` (floats are passed with `bitcast`, see [`Params`]); bindings 1, 2, … follow
//!   [`Pass::bindings`] in order. Only outputs and scratch buffers may be written.
//! - Dispatches larger than 65 535 workgroups are folded into a second grid dimension by
//!   [`grid`]; shaders recover the flat index with the `num_workgroups` builtin:
//!   `let i = gid.x + gid.y * nwg.x * WG;` and return when `i` is past the end.
//! - Buffers start zeroed, but a program that accumulates must clear what it accumulates in
//!   its own pass: the executor may reuse buffers.

use tract_onnx::prelude::DatumType;

/// The GPU work for one operator call on inputs of known shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuProgram {
    /// One entry per operator output, in order.
    pub outputs: Vec<GpuOutput>,
    /// Scratch buffers, in 4-byte words.
    pub scratch: Vec<u64>,
    /// Dispatches, run in order; each sees the writes of the ones before.
    pub passes: Vec<Pass>,
}

/// The element type and shape of one output buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuOutput {
    /// Element type as the operator reports it (`i64` is stored as `i32` on the GPU).
    pub dt: DatumType,
    /// Concrete dimensions.
    pub shape: Vec<usize>,
}

impl GpuOutput {
    /// Number of elements, which is also the number of 4-byte words.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the output has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One compute dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Pass {
    /// A label for errors and GPU debuggers.
    pub label: &'static str,
    /// The WGSL module. Pipelines are cached per (shader, entry point).
    pub shader: &'static str,
    /// The entry point in `shader`.
    pub entry: &'static str,
    /// Workgroup counts in x, y and z.
    pub workgroups: [u32; 3],
    /// The words bound at binding 0.
    pub params: Vec<u32>,
    /// The buffers bound at bindings 1, 2, …
    pub bindings: Vec<Slot>,
}

/// A buffer a pass binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The operator's input with this index (read-only).
    Input(usize),
    /// The operator's output with this index.
    Output(usize),
    /// The program's scratch buffer with this index.
    Scratch(usize),
}

/// The largest workgroup count WebGPU guarantees per grid dimension.
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Workgroup counts covering `threads` invocations with workgroups of `size`, folded into a
/// second dimension when one is not enough.
pub fn grid(threads: usize, size: u32) -> [u32; 3] {
    let groups = threads.div_ceil(size as usize).max(1);
    if groups <= MAX_GROUPS_PER_DIM as usize {
        [groups as u32, 1, 1]
    } else {
        let y = groups.div_ceil(MAX_GROUPS_PER_DIM as usize);
        [MAX_GROUPS_PER_DIM, y as u32, 1]
    }
}

/// Builds a parameter block word by word.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<u32>);

impl Params {
    /// An empty block.
    pub fn new() -> Params {
        Params(Vec::new())
    }

    /// Appends an unsigned integer; fails loudly in the caller's program if it does not fit.
    pub fn u(mut self, v: usize) -> Params {
        self.0.push(u32::try_from(v).unwrap_or(u32::MAX));
        self
    }

    /// Appends a signed integer (read in WGSL with `bitcast<i32>`).
    pub fn i(mut self, v: i64) -> Params {
        self.0
            .push(v.clamp(i32::MIN as i64, i32::MAX as i64) as i32 as u32);
        self
    }

    /// Appends a float (read in WGSL with `bitcast<f32>`).
    pub fn f(mut self, v: f32) -> Params {
        self.0.push(v.to_bits());
        self
    }

    /// The words.
    pub fn build(self) -> Vec<u32> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_every_thread_and_respects_the_per_dimension_limit() {
        for (threads, size) in [
            (1, 64),
            (64, 64),
            (65, 64),
            (10_000_000, 64),
            (1 << 31, 256),
        ] {
            let [x, y, z] = grid(threads, size);
            assert!(x <= MAX_GROUPS_PER_DIM && y <= MAX_GROUPS_PER_DIM && z == 1);
            let covered = x as usize * y as usize * size as usize;
            assert!(covered >= threads, "{threads} threads, {size}: {x}x{y}");
            assert!(covered < threads + (x as usize) * size as usize + size as usize);
        }
    }

    #[test]
    fn params_encode_ints_and_floats_as_words() {
        let p = Params::new().u(7).i(-2).f(1.5).build();
        assert_eq!(p, vec![7, (-2i32) as u32, 1.5f32.to_bits()]);
    }
}
