//! CABS — Coupling Adaptive Batch Sizes with Learning Rates (Balles, Romero, Hennig, UAI 2017),
//! trained for real on the GPU through WGSL compute shaders and `wgpu`, natively and in the
//! browser (WebGPU), with a plain-Rust CPU twin of every kernel.
//!
//! Layers of the crate, from the bottom up; a module imports only from its own layer and those
//! below it (`grep -rn "use crate::" src/<module>` shows it):
//! - [`error`], [`rng`], [`learning_rate`]: the one error type, seeded randomness, and the
//!   checked learning rate α (held by the trainer and the run state, made by [`settings`]).
//! - [`data`]: data sets, their files and seeded sampling.
//! - [`model`]: network shapes (`model::shapes`), the flat parameter layout, and the kernels'
//!   epilogue flag bits (`model::epilogue`), which the plan, the CPU twins and the GPU side share.
//! - [`rules`]: the batch-size rules — CABS, the baselines, the norm and inner-product tests, the
//!   gradient noise scale, AdaDamp, a growth schedule (pure arithmetic, no GPU); [`cabs`] is
//!   their former path, re-exported.
//! - [`reference`]: the CPU twin of every WGSL kernel (plain loops, same memory layout).
//! - [`plan`]: the training step and forward pass as one list of ops, and the buffers each op's
//!   kernels bind (`plan::bindings`), which both engines bind from.
//! - [`fast`]: blocked SIMD GEMM and im2col convolutions, what the CPU engine runs (checked
//!   against [`reference`]).
//! - [`gpu`]: adapter/device set-up, one module per kernel family (`gpu::{matmul, conv, small}`:
//!   parameter structs, pipelines, each op's launches), the GPU training engine.
//! - [`engine`]: one enum over the GPU engine and the CPU engine (whose twin calls sit in one
//!   module per kernel family too), with the same async API. An exception to the order: the
//!   native `auto` hand-over (`engine::auto`) moves a running [`trainer::Trainer`] between
//!   engines, so it imports [`trainer`] and [`run_state`].
//! - [`trainer`], [`run_state`]: sampling, the rule and the engine put together (what users
//!   call), and a run's state between steps, to move it between engines or resume it (each names
//!   the other's types: one layer).
//! - [`settings`], [`probe`], [`record`]: a run's checked settings, and the export formats shared
//!   by the native runner and the page (the step record's schema, its CSV header and rows).
//! - `wasm` (wasm32 only): the JavaScript exports.

pub mod cabs;
pub mod data;
pub mod engine;
pub mod error;
pub mod fast;
pub mod gpu;
pub mod learning_rate;
pub mod model;
pub mod plan;
pub mod probe;
pub mod record;
pub mod reference;
pub mod rng;
pub mod rules;
pub mod run_state;
pub mod settings;
pub mod trainer;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{CabsError, Result};
