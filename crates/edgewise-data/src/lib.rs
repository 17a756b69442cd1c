//! The catalogue's data, generated in Rust so that training, tests and the browser demos draw
//! exactly the same samples from a seed, with no downloads.
//!
//! - [`rng`]: a small, portable, seedable random number generator (the same stream on every
//!   target, wasm32 included).
//! - [`textures`]: procedural textures in several families, with synthesized defects
//!   (scratches, holes, stains, cracks) and their pixel masks, for defect detection.
//! - [`burgers`]: a pseudo-spectral solver of the 1-D viscous Burgers' equation and random
//!   smooth initial conditions, for neural operators.
//! - [`glyphs`]: small glyph-classification tasks (digits, letters, shapes, symbols) rendered
//!   with random jitter, for multi-task binary networks.
//! - [`graded`]: the four glyph tasks as one 40-class task whose samples range from easy to
//!   hard, for early-exit networks.

pub mod burgers;
pub mod glyphs;
pub mod graded;
pub mod rng;
pub mod textures;
