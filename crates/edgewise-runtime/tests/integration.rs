//! The runtime's integration tests, one module per subject, in one test binary.

mod bad_input;
mod exits;
mod external;
#[path = "loop.rs"]
mod loop_op;
mod per_shape;
mod session;
mod staged;
