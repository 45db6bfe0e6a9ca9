//! What every kernel family shares: a compiled kernel ([`Kernel`]: its pipeline and its
//! bind-group layout, made from its `plan::bindings` signature), what a family decides for one
//! launch of an op ([`Call`], from the step's sizes in [`StepShape`]), the per-step uniform
//! ([`StepUniform`]) and the set of every family's pipelines ([`Kernels`]).
//!
//! The families, each with its parameter structs, pipelines and its choice of variant,
//! parameters and grid per op: [`super::matmul`], [`super::conv`] (convolutions, pooling, the
//! image transform), [`super::small`] (the one-pass kernels: gather, loss, bias gradient, norms,
//! update, sums, inner products). Each kernel's group 0 holds its own parameters and buffers;
//! group 1 is the shared per-step uniform (`shaders/step.wgsl`), bound with a dynamic offset so
//! that several batches (evaluation chunks) can be encoded into one submission.

use super::engine::Grid;
use super::matmul::MatmulKernels;
use super::small::{GatherParams, SmallKernels};
use crate::plan::bindings::{Access, Signature};
use crate::plan::Plan;
use bytemuck::{Pod, Zeroable};
use std::borrow::Cow;

/// Byte stride of the per-step uniform slots (the WebGPU minimum uniform offset alignment).
pub const STEP_STRIDE: u64 = 256;

/// Mirror of `struct Step` in `shaders/step.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct StepUniform {
    /// Examples in this chunk.
    pub m: u32,
    pub offset: u32,
    pub lr: f32,
    /// 1 / examples in the whole batch.
    pub inv_m: f32,
    pub use_perm: u32,
    pub stats_slot: u32,
    pub with_norms: u32,
    /// This chunk's first row within the batch.
    pub row_base: u32,
    /// Examples in the whole batch.
    pub batch: u32,
    /// 1 on every chunk but the first: gradients add to the earlier chunks'.
    pub accumulate: u32,
    pub _pad: [u32; 2],
}

/// What a family reads of the engine to choose a launch: the plan and the sizes the engine
/// fixed when it was made.
#[derive(Clone, Copy, Debug)]
pub struct StepShape<'a> {
    pub plan: &'a Plan,
    /// Rows of the per-batch buffers (the norm rows' stride).
    pub m_max: u32,
    /// Lanes of the update's partial sums of ‖ḡ‖² (`reference::sgd_update::partials`).
    pub n_partials: u32,
    /// The gather's parameters for the data split this op reads (training or test).
    pub gather: GatherParams,
    /// The scale of the stored features (1/255 for bytes): the standardisation floor's unit.
    pub byte_scale: f32,
}

/// What a kernel family decides for one launch of an op: the pipeline that runs (the kernel's
/// own, or a tile variant with the same bindings), the bytes of its parameter uniform and its
/// grid. The buffers are not chosen here: the engine binds them from `Plan::bindings`.
pub struct Call<'k> {
    pub kernel: &'k Kernel,
    /// A variant of `kernel` with the same bindings (a matmul tile shape), if not its own.
    pub pipeline: Option<wgpu::ComputePipeline>,
    pub params: Vec<u8>,
    pub grid: Grid,
    /// For chunks of at most this many rows: another pipeline with the same bindings, and its
    /// grid (the matmul's 16-row tiles).
    pub small: Option<(u32, wgpu::ComputePipeline, Grid)>,
}

impl<'k> Call<'k> {
    /// `kernel`'s own pipeline with these parameters on this grid.
    pub fn new<P: Pod>(kernel: &'k Kernel, params: &P, grid: Grid) -> Call<'k> {
        Call { kernel, pipeline: None, params: bytemuck::bytes_of(params).to_vec(), grid, small: None }
    }
}

/// One WGSL kernel's pipeline and its group-0 layout: binding 0 its parameter uniform, then the
/// storage bindings of its [`Signature`].
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub group0: wgpu::BindGroupLayout,
    layout: wgpu::PipelineLayout,
    pub label: &'static str,
}

impl Kernel {
    /// The kernel `signature` names (its label and storage bindings), compiled from `body`.
    pub(crate) fn new(device: &wgpu::Device, step_layout: &wgpu::BindGroupLayout, signature: Signature, body: &str) -> Kernel {
        let label = signature.kernel;
        let storage = signature.bindings.iter().map(|&(_, a)| wgpu::BufferBindingType::Storage { read_only: a == Access::Read });
        let entries: Vec<wgpu::BindGroupLayoutEntry> = std::iter::once(wgpu::BufferBindingType::Uniform)
            .chain(storage)
            .enumerate()
            .map(|(i, ty)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
                count: None,
            })
            .collect();
        let group0 = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(label), entries: &entries });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(label),
            bind_group_layouts: &[Some(&group0), Some(step_layout)],
            immediate_size: 0,
        });
        let pipeline = pipeline(device, &layout, label, body, "main", &[]);
        Kernel { pipeline, group0, layout, label }
    }

    /// Another pipeline with this kernel's bindings (its bind groups fit both): a variant of
    /// the same kernel, such as another tile shape.
    pub fn variant(&self, device: &wgpu::Device, body: &str) -> wgpu::ComputePipeline {
        pipeline(device, &self.layout, self.label, body, "main", &[])
    }

    /// Another entry point of `body`, with this kernel's bindings.
    pub fn entry(&self, device: &wgpu::Device, body: &str, entry: &str) -> wgpu::ComputePipeline {
        pipeline(device, &self.layout, self.label, body, entry, &[])
    }

    /// An entry point of `body` with its `override` constants set, with this kernel's bindings.
    pub fn specialised(&self, device: &wgpu::Device, body: &str, entry: &str, constants: &[(&str, f64)]) -> wgpu::ComputePipeline {
        pipeline(device, &self.layout, self.label, body, entry, constants)
    }

    /// A bind group for this kernel's group 0, buffers in binding order.
    pub fn bind(&self, device: &wgpu::Device, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> =
            buffers.iter().enumerate().map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() }).collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(self.label), layout: &self.group0, entries: &entries })
    }
}

/// One shader variant exactly as the engine hands it to wgpu: the assembled WGSL (the per-step
/// uniform's declarations, then the kernel's prepended constants and files), the entry point and
/// its `override` constants. Recorded by [`record_variants`].
#[derive(Clone, Debug, PartialEq)]
pub struct ShaderVariant {
    pub label: String,
    pub source: String,
    pub entry: String,
    pub constants: Vec<(String, f64)>,
}

thread_local! {
    /// Where [`pipeline`] notes what it compiles while [`record_variants`] runs on this thread.
    static RECORDING: std::cell::RefCell<Option<Vec<ShaderVariant>>> = const { std::cell::RefCell::new(None) };
}

/// Run `f` and return, with its result, every compute pipeline this thread created meanwhile
/// (in order, repeats kept), so that a test can translate and check what the engine really
/// compiles rather than a second list of shaders that could drift from it. Building an engine
/// and running a step records a model's variants; [`Kernels::compile_all`] adds the lazily
/// compiled ones, those of the other kind of adapter included.
pub fn record_variants<T>(f: impl FnOnce() -> T) -> (T, Vec<ShaderVariant>) {
    let outer = RECORDING.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let got = RECORDING.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer)).unwrap_or_default();
    RECORDING.with(|r| {
        if let Some(outer) = r.borrow_mut().as_mut() {
            outer.extend(got.iter().cloned());
        }
    });
    (out, got)
}

fn pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    label: &str,
    body: &str,
    entry: &str,
    constants: &[(&str, f64)],
) -> wgpu::ComputePipeline {
    let source = format!("{}\n{}", wgsl!("step.wgsl"), body);
    RECORDING.with(|r| {
        if let Some(list) = r.borrow_mut().as_mut() {
            list.push(ShaderVariant {
                label: label.into(),
                source: source.clone(),
                entry: entry.into(),
                constants: constants.iter().map(|&(k, v)| (k.into(), v)).collect(),
            });
        }
    });
    let module = device
        .create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(label), source: wgpu::ShaderSource::Wgsl(Cow::Owned(source)) });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(layout),
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions { constants, ..Default::default() },
        cache: None,
    })
}

/// The pipelines every model uses and the shared step-uniform layout (the convolutions' are
/// built apart, only for models that have them: [`super::conv::ConvKernels`]).
pub struct Kernels {
    pub step_layout: wgpu::BindGroupLayout,
    /// The matmul family's pipelines ([`super::matmul`]).
    pub matmul: MatmulKernels,
    /// The one-pass kernels' pipelines ([`super::small`]).
    pub small: SmallKernels,
}

/// The layout of group 1, the per-step uniform with a dynamic offset, shared by all kernels.
pub fn step_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("step uniform"),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: wgpu::BufferSize::new(std::mem::size_of::<StepUniform>() as u64),
            },
            count: None,
        }],
    })
}

impl Kernels {
    /// `software`: a software adapter, which also gets the 16-row `blocked16` matmul pipelines.
    pub fn new(device: &wgpu::Device, software: bool) -> Kernels {
        let step_layout = step_layout(device);
        Kernels { matmul: MatmulKernels::new(device, &step_layout, software), small: SmallKernels::new(device, &step_layout), step_layout }
    }

    /// Compile every lazily built pipeline now, of both kinds of adapter (the wide tile of
    /// hardware GPUs and the `blocked16` strips of software ones): for enumerating every variant
    /// the engine can build ([`record_variants`]); the engine itself never calls it.
    pub fn compile_all(&self) {
        self.matmul.compile_all();
    }
}
