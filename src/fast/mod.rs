//! The fast CPU kernels behind the CPU engine: a blocked SIMD GEMM ([`gemm`]) and the
//! convolutions as im2col around it ([`conv`]). Same interfaces and layouts as their plain twins
//! in [`crate::reference`], which stay the oracle (`tests/engine/fast_cpu.rs` checks these against
//! them); results agree to rounding, not bit for bit. [`pool`] holds the engine's threads: the
//! kernels' `_on` variants split their work over them with results bit-identical for every count.

pub mod conv;
pub mod gemm;
pub mod pool;
