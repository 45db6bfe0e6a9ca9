//! The engines: each GPU kernel against its CPU twin, whole steps and runs on the GPU against the
//! CPU engine, convolutional models through both, steps in chunks, the `auto` backend choice,
//! the fast CPU kernels against the plain loops they replace, the kernels' parameter structs
//! against their shaders' (`params_mirrors`), and runs moved between engines (`run_state`).
//! One test binary per area (engine, method, cli), because each binary links wgpu and the crate.
//!
//! The same binary is the browser suite: built for wasm32 by `wasm-pack test --headless --chrome
//! --test engine`, it holds the modules that run in Chromium (`web`, `fast_cpu`); the others are
//! native only (each says so in its `#![cfg]`).

#[path = "../common/mod.rs"]
mod common;

mod auto_backend;
mod bindings;
mod buffer_growth;
mod chunking;
mod cnn_engine;
mod conv_harness;
mod fast_cpu;
mod gpu_conv;
mod gpu_vs_cpu;
mod inner_cost;
mod inner_products;
mod params_mirrors;
mod run_state;
mod shader_portability;
mod threads;
mod web;
