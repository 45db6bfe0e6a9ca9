//! Everything that touches `wgpu`: adapter and device set-up ([`context`]), one pipeline per
//! WGSL kernel ([`kernels`]; the matmul and convolution families in [`matmul`] and [`conv`]), and the training engine that owns all GPU buffers ([`engine`]).
//! The same code runs natively (Vulkan, Metal, DX12, GL) and in the browser (WebGPU).

pub mod context;
pub mod conv;
pub mod engine;
pub mod kernels;
pub mod matmul;

pub use context::{AdapterSummary, GpuContext, Requirements};
pub use engine::GpuEngine;
