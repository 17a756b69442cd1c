//! The trainer's integration tests, one module per subject, in one test binary.

mod defect;
mod kno;
mod rbnn;
mod sequence;
