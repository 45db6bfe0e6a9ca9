//! Everything that touches `wgpu`: adapter and device set-up ([`context`]); one module per
//! kernel family, each holding its kernels' parameter structs, pipelines, and per op the
//! variant, parameters and grid of each launch ([`matmul`], [`conv`], [`small`], on what they
//! share in [`kernels`]); and the training engine that owns all GPU buffers and binds each
//! launch from the step plan ([`engine`]).
//! The same code runs natively (Vulkan, Metal, DX12, GL) and in the browser (WebGPU).

/// A kernel's WGSL as the engine embeds it: `shaders/NAME` without comments (see build.rs).
macro_rules! wgsl {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/shaders/", $name))
    };
}

pub mod context;
pub mod conv;
pub mod engine;
pub mod kernels;
pub mod matmul;
pub mod small;

pub use context::{AdapterSummary, GpuContext, Requirements};
pub use engine::GpuEngine;
