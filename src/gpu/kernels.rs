//! One compute pipeline per WGSL kernel in `shaders/`, compiled once. Each kernel's group 0
//! holds its own parameters and buffers; group 1 is the shared per-step uniform
//! (`shaders/step.wgsl`), bound with a dynamic offset so that several batches (evaluation
//! chunks) can be encoded into one submission.

use crate::plan::bindings::{self as sig, Access, Signature};
use bytemuck::{Pod, Zeroable};
use std::borrow::Cow;
use std::cell::OnceCell;

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

/// Mirror of `Params` in `shaders/gather_batch.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GatherParams {
    pub dim: u32,
    pub format: u32,
    pub scale: f32,
    pub _pad: u32,
}

/// Mirror of `Params` in `shaders/matmul.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    /// 0: none, 1: M is the batch size, 2: K is the batch size.
    pub batch_dim: u32,
    pub flags: u32,
    pub trans_a: u32,
    pub trans_b: u32,
    pub a_off: u32,
    pub b_off: u32,
    pub bias_off: u32,
    pub aux_off: u32,
    pub out_off: u32,
}

/// The `Params` of the small 1-D kernels: four u32s whose meaning each shader's header gives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Params4(pub [u32; 4]);

/// One WGSL kernel's pipeline and its group-0 layout: binding 0 its parameter uniform, then the
/// storage bindings of its [`Signature`].
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub group0: wgpu::BindGroupLayout,
    layout: wgpu::PipelineLayout,
    pub label: &'static str,
}

/// A tile shape of `shaders/matmul.wgsl`: RX × RY threads, each a 4×4 block, so a tile of
/// 4·RY rows by 4·RX columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    pub rx: u32,
    pub ry: u32,
}

/// The (trans_a, trans_b) pairs, indexed by [`transposition`]: backward, forward, weight
/// gradient, and both (which no step uses).
const TRANSPOSITIONS: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

/// The index of a product's transposition in [`TRANSPOSITIONS`].
fn transposition(p: &MatmulParams) -> usize {
    usize::from(p.trans_a != 0) * 2 + usize::from(p.trans_b != 0)
}

impl MatmulShape {
    /// 64×64 tiles: the default, 16 FLOP per byte loaded.
    pub const SQUARE: MatmulShape = MatmulShape { rx: 16, ry: 16 };
    /// 16×256 tiles, for products whose rows are a batch of at most 16.
    pub const WIDE: MatmulShape = MatmulShape { rx: 64, ry: 4 };
    /// 256×16 tiles, for outputs at most 16 wide (the class scores).
    pub const NARROW: MatmulShape = MatmulShape { rx: 4, ry: 64 };
    /// 16×16 tiles (16 threads), for outputs at most 16 wide in chunks of at most 16 rows (the
    /// class scores of a small step), where the 256×16 tile would leave 15 of 16 threads on rows
    /// that do not exist.
    pub const TINY: MatmulShape = MatmulShape { rx: 4, ry: 4 };
    /// 16×64 tiles: the grid of `blocked16` (8×2 threads of 8×8 blocks, not RX × RY of 4×4).
    pub const STRIP: MatmulShape = MatmulShape { rx: 16, ry: 4 };

    pub fn rows(self) -> u32 {
        4 * self.ry
    }

    pub fn cols(self) -> u32 {
        4 * self.rx
    }

    /// k per staging round: 16 for the square tile; 8 for the long ones, whose 16-deep stages
    /// would need 17 KiB of workgroup storage, over WebGPU's guaranteed 16 KiB (SwiftShader and
    /// many browsers refuse the pipeline). The order of each output's additions is the same.
    pub fn slice(self) -> u32 {
        if self.rx == self.ry {
            16
        } else {
            8
        }
    }

    /// The WGSL source of this shape (with the 8×8 block of `shaders/block8x8.wgsl`).
    pub fn source(self) -> String {
        format!(
            "const RX: u32 = {}u;\nconst RY: u32 = {}u;\nconst SLICE: u32 = {}u;\n{}\n{}",
            self.rx,
            self.ry,
            self.slice(),
            include_str!("../../shaders/matmul.wgsl"),
            include_str!("../../shaders/block8x8.wgsl")
        )
    }
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
    let source = format!("{}\n{}", include_str!("../../shaders/step.wgsl"), body);
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

/// All kernels and the shared step-uniform layout.
pub struct Kernels {
    pub step_layout: wgpu::BindGroupLayout,
    pub gather_batch: Kernel,
    /// `main` in 256×16 tiles ([`MatmulShape::NARROW`], see [`Kernels::matmul_narrow`]); every
    /// other matmul pipeline shares its bindings.
    pub matmul: Kernel,
    pub matmul_tiny: wgpu::ComputePipeline,
    /// The square tile without workgroup memory (`direct` in `shaders/matmul.wgsl`): for fixed
    /// reductions of at most 16 on software adapters.
    pub matmul_direct: wgpu::ComputePipeline,
    /// The pipelines below are compiled on first use: a browser compiles every pipeline it is
    /// given, SwiftShader about 1.3 s for each staged one (headless Chromium), and a plan uses
    /// only some. `main` in 16×256 tiles: hardware GPUs' small chunks ([`Kernels::matmul_strip`]).
    matmul_wide: OnceCell<wgpu::ComputePipeline>,
    /// The square tile in 8×8 blocks per thread (`blocked` in `shaders/matmul.wgsl`), one
    /// pipeline per transposition: see [`Kernels::matmul_square`].
    matmul_blocked: [OnceCell<wgpu::ComputePipeline>; 4],
    /// The 16×64 tile in 8×8 blocks per thread (`blocked16`), likewise; software adapters only
    /// (see [`Kernels::matmul_strip`]).
    matmul_blocked16: [OnceCell<wgpu::ComputePipeline>; 4],
    software: bool,
    device: wgpu::Device,
    pub softmax_xent: Kernel,
    pub per_example_norms: Kernel,
    pub bias_grad: Kernel,
    pub sgd_update: Kernel,
    pub reduce_stats: Kernel,
    pub inner_products: Kernel,
    pub inner_product_var: Kernel,
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
    /// `software`: a software adapter, which also gets the 16-row `blocked16` pipelines.
    pub fn new(device: &wgpu::Device, software: bool) -> Kernels {
        let step_layout = step_layout(device);
        let k = |signature, body: &str| Kernel::new(device, &step_layout, signature, body);
        let matmul = k(sig::MATMUL, &MatmulShape::NARROW.source());
        Kernels {
            gather_batch: k(sig::GATHER_BATCH, include_str!("../../shaders/gather_batch.wgsl")),
            matmul_wide: OnceCell::new(),
            matmul_tiny: matmul.variant(device, &MatmulShape::TINY.source()),
            matmul_direct: matmul.entry(device, &MatmulShape::SQUARE.source(), "direct"),
            matmul_blocked: Default::default(),
            matmul_blocked16: Default::default(),
            software,
            device: device.clone(),
            matmul,
            softmax_xent: k(sig::SOFTMAX_XENT, include_str!("../../shaders/softmax_xent.wgsl")),
            per_example_norms: k(sig::PER_EXAMPLE_NORMS, include_str!("../../shaders/per_example_norms.wgsl")),
            bias_grad: k(sig::BIAS_GRAD, include_str!("../../shaders/bias_grad.wgsl")),
            sgd_update: k(sig::SGD_UPDATE, include_str!("../../shaders/sgd_update.wgsl")),
            reduce_stats: k(sig::REDUCE_STATS, include_str!("../../shaders/reduce_stats.wgsl")),
            inner_products: k(sig::INNER_PRODUCTS, include_str!("../../shaders/inner_products.wgsl")),
            inner_product_var: k(sig::INNER_PRODUCT_VAR, include_str!("../../shaders/inner_product_var.wgsl")),
            step_layout,
        }
    }

    /// The 64×64 matmul pipeline for a product with these transpositions: `blocked`, whose
    /// loads know their layout at compile time.
    pub fn matmul_square(&self, p: &MatmulParams) -> &wgpu::ComputePipeline {
        self.blocked(&self.matmul_blocked, "blocked", transposition(p))
    }

    /// The pipeline of 256×16 tiles, for outputs at most 16 wide.
    pub fn matmul_narrow(&self) -> &wgpu::ComputePipeline {
        &self.matmul.pipeline
    }

    /// Pipeline `i` (of [`TRANSPOSITIONS`]) of an 8×8-block entry, compiled on first use.
    fn blocked<'a>(&'a self, set: &'a [OnceCell<wgpu::ComputePipeline>; 4], entry: &str, i: usize) -> &'a wgpu::ComputePipeline {
        set[i].get_or_init(|| {
            let flag = |t: bool| if t { 1.0 } else { 0.0 };
            let (a, b) = TRANSPOSITIONS[i];
            self.matmul.specialised(&self.device, &MatmulShape::SQUARE.source(), entry, &[("TRANS_A", flag(a)), ("TRANS_B", flag(b))])
        })
    }

    /// Compile every lazily built pipeline now, of both kinds of adapter (the wide tile of
    /// hardware GPUs and the `blocked16` strips of software ones): for enumerating every variant
    /// the engine can build ([`record_variants`]); the engine itself never calls it.
    pub fn compile_all(&self) {
        for i in 0..TRANSPOSITIONS.len() {
            self.blocked(&self.matmul_blocked, "blocked", i);
            self.blocked(&self.matmul_blocked16, "blocked16", i);
        }
        self.matmul_wide.get_or_init(|| self.matmul.variant(&self.device, &MatmulShape::WIDE.source()));
    }

    /// The pipeline and tile for a chunk of at most 16 rows: on a software adapter `blocked16`
    /// (16×64 tiles of 8×8 blocks, 2–3× faster there than the wide tile's 4×4 blocks); on a
    /// hardware GPU the wide 16×256 tile, whose 256 threads fill its SIMD lanes (16-thread
    /// workgroups would leave half a 32-wide warp idle, and no hardware GPU was at hand to
    /// measure either).
    pub fn matmul_strip(&self, p: &MatmulParams) -> (&wgpu::ComputePipeline, MatmulShape) {
        if self.software {
            (self.blocked(&self.matmul_blocked16, "blocked16", transposition(p)), MatmulShape::STRIP)
        } else {
            (self.matmul_wide.get_or_init(|| self.matmul.variant(&self.device, &MatmulShape::WIDE.source())), MatmulShape::WIDE)
        }
    }
}
