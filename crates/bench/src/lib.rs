//! What the benchmarks of this crate share.

pub mod sink;
