//! The GPU training engine: binds and encodes the step [`Plan`]. It owns every buffer (the
//! per-example ones sized for one chunk, not for m_max), every bind group (built once, one per
//! op) and the encoding of a training step as one submission: the plan's chunk ops once per
//! chunk, then its finish ops, then one 16-byte readback. The batch size and the chunk's place
//! change through the step uniform only (one 256-byte slot per chunk, bound with a dynamic
//! offset), never through a pipeline or bind-group rebuild.

use super::context::{GpuContext, Requirements};
use super::conv::{self, ConvKernels, ConvParams, PoolParams, PrepParams, APPROX, MUL_RELU_DERIV, RELU, SPLIT_K, TILE};
use super::kernels::{GatherParams, Kernel, Kernels, MatmulParams, MatmulShape, Params4, StepUniform, STEP_STRIDE};
use crate::data::{Dataset, Features, Split};
use crate::engine::{ConvSnapshot, EvalSums, Snapshot};
use crate::error::{CabsError, Result};
use crate::model::Layout;
use crate::plan::{choose_chunk, Budget, Buf, Chunking, Extent, Op, Plan};
use crate::reference::matmul::{ACCUMULATE, SCALE_INV_M};
use crate::reference::reduce_stats::StepSums;
use std::collections::BTreeMap;
use wgpu::util::DeviceExt;

const COPY: wgpu::BufferUsages = wgpu::BufferUsages::COPY_SRC.union(wgpu::BufferUsages::COPY_DST);

/// What the engine may take of a GPU in all: WebGPU does not tell how much memory a device has,
/// so the plan stays within a share that integrated and software adapters can give.
#[cfg(target_arch = "wasm32")]
const GPU_BUDGET: u64 = 1 << 30;
#[cfg(not(target_arch = "wasm32"))]
const GPU_BUDGET: u64 = 4 << 30;

/// One pre-built dispatch of a plan op: pipeline, group-0 bind group, and how to size the grid.
struct Dispatch {
    op: Op,
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    grid: Grid,
    /// For chunks of at most this many rows: another pipeline with the same bindings and its
    /// grid (the matmul's 16-row tiles).
    small: Option<(u32, wgpu::ComputePipeline, Grid)>,
    /// A second dispatch that completes the op (the fixed-order reduction of partial sums).
    then: Option<Box<Dispatch>>,
}

impl Dispatch {
    /// The pipeline and grid for a chunk of `m` rows.
    fn pick(&self, m: u32) -> (&wgpu::ComputePipeline, Grid) {
        match &self.small {
            Some((rows, pipeline, grid)) if m <= *rows => (pipeline, *grid),
            _ => (&self.pipeline, self.grid),
        }
    }

    /// The most workgroups along one dimension, this dispatch and the one that completes it.
    fn widest(&self, chunk: u32) -> u32 {
        let mine = self.grid.widest(chunk).max(self.small.as_ref().map_or(0, |s| s.2.widest(chunk)));
        mine.max(self.then.as_ref().map_or(0, |t| t.widest(chunk)))
    }
}

/// Workgroup counts as a function of the rows m of a chunk.
#[derive(Clone, Copy)]
enum Grid {
    /// (ceil(x / wx), ceil(m / wy)) — kernels over a batch of rows.
    Rows { x: u32, wx: u32, wy: u32 },
    /// (ceil(x / wx), ceil(y / wy)) — independent of m.
    Fixed { x: u32, wx: u32, y: u32, wy: u32 },
    /// (ceil(m / w), 1) — one thread (or workgroup, w = 1) per example.
    Examples { w: u32 },
    /// (ceil(m·per_row / w), y) — implicit-GEMM convolutions, whose columns run over the
    /// chunk's examples × positions.
    ExampleCols { per_row: u32, w: u32, y: u32 },
    /// (x, y·ceil(m·per_row / w)) — y rows of workgroups per split of the chunk's examples ×
    /// positions (filter gradient), or per example (per_row = w = 1: exact conv norms).
    ExampleSplits { x: u32, y: u32, per_row: u32, w: u32 },
}

impl Grid {
    fn size(self, m: u32) -> (u32, u32) {
        match self {
            Grid::Rows { x, wx, wy } => (x.div_ceil(wx), m.div_ceil(wy)),
            Grid::Fixed { x, wx, y, wy } => (x.div_ceil(wx), y.div_ceil(wy)),
            Grid::Examples { w } => (m.div_ceil(w), 1),
            Grid::ExampleCols { per_row, w, y } => ((m * per_row).div_ceil(w), y),
            Grid::ExampleSplits { x, y, per_row, w } => (x, y * (m * per_row).div_ceil(w).max(1)),
        }
    }

    /// The most workgroups along one dimension for chunks of up to `chunk` rows.
    fn widest(self, chunk: u32) -> u32 {
        let (x, y) = self.size(chunk);
        x.max(y)
    }
}

fn storage(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE | COPY,
        mapped_at_creation: false,
    })
}

fn storage_init(device: &wgpu::Device, label: &str, words: &[u32]) -> wgpu::Buffer {
    let data: &[u32] = if words.is_empty() { &[0; 4] } else { words };
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(data),
        usage: wgpu::BufferUsages::STORAGE | COPY,
    })
}

fn uniform<T: bytemuck::Pod>(device: &wgpu::Device, label: &str, value: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

/// A data split on the GPU: its features (packed bytes or f32 bits) and labels. Resident: the
/// whole split, read through the permutation. Streamed (a split larger than one storage binding,
/// e.g. full CIFAR-10 on a 128 MiB adapter): buffers of `rows` examples into which each step or
/// evaluation group copies its examples in batch order; the gather then reads them in place.
struct SplitBufs {
    features: wgpu::Buffer,
    labels: wgpu::Buffer,
    params: wgpu::Buffer,
    stream: Option<Stream>,
}

struct Stream {
    split: Split,
    dim: usize,
    rows: u32,
}

impl SplitBufs {
    fn new(device: &wgpu::Device, split: &Split, dim: u32, name: &str, stream_rows: Option<u32>) -> SplitBufs {
        let (format, scale) = split.gpu_format();
        let params = uniform(device, "gather params", &GatherParams { dim, format, scale, _pad: 0 });
        match stream_rows {
            None => SplitBufs {
                features: storage_init(device, &format!("{name} features"), &split.gpu_words()),
                labels: storage_init(device, &format!("{name} labels"), &split.labels),
                params,
                stream: None,
            },
            Some(rows) => {
                let words = match format {
                    0 => (rows as u64 * dim as u64).div_ceil(4),
                    _ => rows as u64 * dim as u64,
                };
                SplitBufs {
                    features: storage(device, &format!("{name} features (streamed)"), words * 4),
                    labels: storage(device, &format!("{name} labels (streamed)"), rows as u64 * 4),
                    params,
                    stream: Some(Stream { split: split.clone(), dim: dim as usize, rows }),
                }
            }
        }
    }

    /// Copy the examples `indices` (in this order) into the streamed buffers; a no-op when resident.
    fn upload(&self, queue: &wgpu::Queue, indices: &[u32]) {
        let Some(s) = &self.stream else { return };
        debug_assert!(indices.len() <= s.rows as usize);
        let mut bytes = Vec::with_capacity(indices.len() * s.dim * 4);
        match &s.split.features {
            Features::U8 { bytes: b, .. } => {
                for &e in indices {
                    bytes.extend_from_slice(&b[e as usize * s.dim..(e as usize + 1) * s.dim]);
                }
                bytes.resize(bytes.len().next_multiple_of(4), 0);
            }
            Features::F32(v) => {
                for &e in indices {
                    bytes.extend_from_slice(bytemuck::cast_slice(&v[e as usize * s.dim..(e as usize + 1) * s.dim]));
                }
            }
        }
        let labels: Vec<u32> = indices.iter().map(|&e| s.split.labels[e as usize]).collect();
        if !bytes.is_empty() {
            queue.write_buffer(&self.features, 0, &bytes);
            queue.write_buffer(&self.labels, 0, bytemuck::cast_slice(&labels));
        }
    }
}

pub struct GpuEngine {
    ctx: GpuContext,
    plan: Plan,
    chunking: Chunking,
    m_max: u32,
    n_test: u32,
    n_partials: u32,
    bufs: BTreeMap<Buf, wgpu::Buffer>,
    stats: wgpu::Buffer,
    staging: wgpu::Buffer,
    step: wgpu::Buffer,
    step_group: wgpu::BindGroup,
    perm: wgpu::Buffer,
    /// The permutation on the host too, when the training split is streamed.
    perm_host: Vec<u32>,
    train: SplitBufs,
    test: SplitBufs,
    /// Slots of the step uniform: training chunks first, then evaluation chunks.
    train_slots: u32,
    /// The plan's chunk ops (training gather), its finish ops, its forward ops (test gather).
    chunk_ops: Vec<Dispatch>,
    finish_ops: Vec<Dispatch>,
    eval_ops: Vec<Dispatch>,
    /// Rows of the last chunk run (what a snapshot shows of the per-chunk buffers).
    last_rows: u32,
}

/// Everything needed to build the dispatches of a plan.
struct Builder<'a> {
    device: &'a wgpu::Device,
    kernels: Kernels,
    conv: Option<ConvKernels>,
    plan: &'a Plan,
    bufs: &'a BTreeMap<Buf, wgpu::Buffer>,
    perm: &'a wgpu::Buffer,
    stats: &'a wgpu::Buffer,
    m_max: u32,
    /// Examples per chunk (sizes the scratch buffers of split reductions).
    chunk: u32,
    n_partials: u32,
    byte_scale: f32,
}

impl Builder<'_> {
    fn buf(&self, b: Buf) -> &wgpu::Buffer {
        &self.bufs[&b]
    }

    fn dispatch(&self, op: Op, kernel: &Kernel, params: wgpu::Buffer, buffers: &[&wgpu::Buffer], grid: Grid) -> Dispatch {
        let mut all = vec![&params];
        all.extend_from_slice(buffers);
        Dispatch { op, pipeline: kernel.pipeline.clone(), group: kernel.bind(self.device, &all), grid, small: None, then: None }
    }

    /// A matmul dispatch in the tile shape that fits it: 256×16 tiles when the output is at most
    /// 16 wide, 16×256 when its rows are a fixed count of at most 16, 64×64 otherwise, and
    /// 16×256 for chunks of at most 16 rows when the rows are the batch (`fixed_rows` None).
    fn matmul(&self, op: Op, p: MatmulParams, buffers: &[&wgpu::Buffer], fixed_rows: Option<u32>) -> Dispatch {
        let k = &self.kernels;
        let grid = |s: MatmulShape| match fixed_rows {
            Some(r) => Grid::Fixed { x: p.n, wx: s.cols(), y: r, wy: s.rows() },
            None => Grid::Rows { x: p.n, wx: s.cols(), wy: s.rows() },
        };
        let narrow = p.n <= MatmulShape::NARROW.cols();
        let few_rows = fixed_rows.is_some_and(|r| r <= MatmulShape::WIDE.rows());
        let (pipeline, shape) = match (narrow, few_rows) {
            (true, _) => (&k.matmul_narrow, MatmulShape::NARROW),
            (false, true) => (&k.matmul_wide, MatmulShape::WIDE),
            _ => (&k.matmul.pipeline, MatmulShape::SQUARE),
        };
        let params = uniform(self.device, "matmul params", &p);
        let mut d = self.dispatch(op, &k.matmul, params, buffers, grid(shape));
        d.pipeline = pipeline.clone();
        if !narrow && fixed_rows.is_none() {
            d.small = Some((MatmulShape::WIDE.rows(), k.matmul_wide.clone(), grid(MatmulShape::WIDE)));
        }
        d
    }

    fn small(&self, op: Op, kernel: &Kernel, p: [u32; 4], buffers: &[&wgpu::Buffer], grid: Grid) -> Dispatch {
        self.dispatch(op, kernel, uniform(self.device, "kernel params", &Params4(p)), buffers, grid)
    }

    fn conv_kernels(&self) -> &ConvKernels {
        self.conv.as_ref().expect("conv pipelines exist for models with conv ops")
    }

    /// The dispatch of one op; `split` is the data the gather reads.
    fn build(&self, op: Op, split: &SplitBufs) -> Dispatch {
        let (k, lay, plan) = (&self.kernels, &self.plan.layout, self.plan);
        let b = |x: Buf| self.buf(x);
        let conv_params = |s: usize, flags: u32, row: usize| {
            let c = &lay.convs[s];
            uniform(self.device, "conv params", &ConvParams::new(&c.conv, flags, c.w_offset, c.b_offset, row as u32, self.m_max))
        };
        match op {
            Op::Gather => self.dispatch(
                op,
                &k.gather_batch,
                split.params.clone(),
                &[&split.features, &split.labels, self.perm, b(Buf::Input), b(Buf::Labels)],
                Grid::Rows { x: lay.input_dim, wx: 64, wy: 1 },
            ),
            Op::CropStandardize => {
                let p = lay.prep.expect("plan has a transform");
                let floor = self.byte_scale / (p.output.len() as f32).sqrt();
                let params = uniform(self.device, "crop params", &PrepParams::new(&p, floor));
                let ck = self.conv_kernels();
                self.dispatch(op, &ck.crop_standardize, params, &[b(Buf::Input), b(Buf::Prepped)], Grid::Examples { w: 1 })
            }
            Op::ConvForward { stage } => self.dispatch(
                op,
                &self.conv_kernels().forward,
                conv_params(stage, RELU, 0),
                &[b(plan.stage_input(stage)), b(Buf::Params), b(Buf::ConvOut(stage))],
                {
                    let c = &lay.convs[stage].conv;
                    Grid::ExampleCols { per_row: c.positions() as u32, w: TILE, y: (c.out_c as u32).div_ceil(TILE) }
                },
            ),
            Op::PoolForward { stage } => {
                let pool = lay.convs[stage].pool.expect("pooled");
                let params = uniform(self.device, "pool params", &PoolParams::new(&pool, 0));
                self.dispatch(
                    op,
                    &self.conv_kernels().pool_forward,
                    params,
                    &[b(Buf::ConvOut(stage)), b(Buf::PoolOut(stage)), b(Buf::Arg(stage))],
                    Grid::Rows { x: pool.out_len() as u32, wx: 64, wy: 1 },
                )
            }
            Op::PoolBackward { stage } => {
                let c = &lay.convs[stage];
                let params = uniform(self.device, "pool params", &PoolParams::new(&c.pool.expect("pooled"), MUL_RELU_DERIV));
                self.dispatch(
                    op,
                    &self.conv_kernels().pool_backward,
                    params,
                    &[b(Buf::DPool(stage)), b(Buf::Arg(stage)), b(Buf::ConvOut(stage)), b(Buf::DConv(stage))],
                    Grid::Rows { x: c.conv.out_len() as u32, wx: 64, wy: 1 },
                )
            }
            Op::ConvBackwardInput { stage } => {
                let (target, flags) = plan.conv_backward_target(stage);
                self.dispatch(
                    op,
                    &self.conv_kernels().backward_input,
                    conv_params(stage, flags, 0),
                    &[b(Buf::DConv(stage)), b(Buf::Params), b(plan.stage_output(stage - 1)), b(target)],
                    {
                        let c = &lay.convs[stage].conv;
                        Grid::ExampleCols { per_row: (c.in_h * c.in_w) as u32, w: TILE, y: (c.in_c as u32).div_ceil(TILE) }
                    },
                )
            }
            Op::ConvFilterGrad { stage } => {
                let (c, ck) = (&lay.convs[stage].conv, self.conv_kernels());
                let scratch = storage(self.device, "filter gradient splits", conv::filter_grad_scratch(c, self.chunk) * 4);
                let (x, y) = conv::filter_grad_tiles(c);
                let grid = Grid::ExampleSplits { x, y, per_row: c.positions() as u32, w: SPLIT_K };
                let mut d = self.dispatch(
                    op,
                    &ck.filter_grad,
                    conv_params(stage, 0, 0),
                    &[b(plan.stage_input(stage)), b(Buf::DConv(stage)), &scratch],
                    grid,
                );
                let sum = Grid::Fixed { x: (c.filter_len() + c.out_c) as u32, wx: 64, y: 1, wy: 1 };
                d.then = Some(Box::new(self.dispatch(op, &ck.grad_reduce, conv_params(stage, 0, 0), &[&scratch, b(Buf::Grads)], sum)));
                d
            }
            Op::ConvNorms { stage, approx: true, row } => self.dispatch(
                op,
                &self.conv_kernels().norms_approx,
                conv_params(stage, APPROX, row),
                &[b(plan.stage_input(stage)), b(Buf::DConv(stage)), b(Buf::Norms)],
                Grid::Examples { w: 1 },
            ),
            Op::ConvNorms { stage, approx: false, row } => {
                let (c, ck) = (&lay.convs[stage].conv, self.conv_kernels());
                let scratch = storage(self.device, "norm tiles", conv::norms_scratch(c, self.chunk) * 4);
                let (x, y) = conv::filter_grad_tiles(c);
                let grid = Grid::ExampleSplits { x, y, per_row: 1, w: 1 };
                let mut d = self.dispatch(
                    op,
                    &ck.norms,
                    conv_params(stage, 0, row),
                    &[b(plan.stage_input(stage)), b(Buf::DConv(stage)), &scratch],
                    grid,
                );
                let sum =
                    self.dispatch(op, &ck.norms_reduce, conv_params(stage, 0, row), &[&scratch, b(Buf::Norms)], Grid::Examples { w: 64 });
                d.then = Some(Box::new(sum));
                d
            }
            Op::DenseForward { layer } => {
                let d = lay.layers[layer];
                let p = MatmulParams {
                    n: d.d_out,
                    k: d.d_in,
                    batch_dim: 1,
                    flags: plan.forward_flags(layer),
                    trans_b: 1,
                    b_off: d.w_offset,
                    bias_off: d.b_offset,
                    ..Default::default()
                };
                let input = b(plan.layer_input(layer));
                self.matmul(op, p, &[input, b(Buf::Params), input, b(Buf::Act(layer))], None)
            }
            Op::SoftmaxXent => {
                let last = lay.layers.len() - 1;
                self.small(
                    op,
                    &k.softmax_xent,
                    [lay.classes(), 0, 0, 0],
                    &[b(Buf::Act(last)), b(Buf::Labels), b(Buf::Delta(last)), b(Buf::Losses), b(Buf::Correct)],
                    Grid::Examples { w: 64 },
                )
            }
            Op::DenseBackward { layer } => {
                let d = lay.layers[layer];
                let (target, flags) = plan.backward_target(layer);
                let p = MatmulParams { n: d.d_in, k: d.d_out, batch_dim: 1, flags, b_off: d.w_offset, ..Default::default() };
                let aux = b(plan.layer_input(layer));
                self.matmul(op, p, &[b(Buf::Delta(layer)), b(Buf::Params), aux, b(target)], None)
            }
            Op::WeightGrad { layer } => {
                let d = lay.layers[layer];
                let p = MatmulParams {
                    m: d.d_out,
                    n: d.d_in,
                    batch_dim: 2,
                    flags: SCALE_INV_M | ACCUMULATE,
                    trans_a: 1,
                    out_off: d.w_offset,
                    ..Default::default()
                };
                let input = b(plan.layer_input(layer));
                self.matmul(op, p, &[b(Buf::Delta(layer)), input, input, b(Buf::Grads)], Some(d.d_out))
            }
            Op::BiasGrad { layer } => {
                let d = lay.layers[layer];
                self.small(
                    op,
                    &k.bias_grad,
                    [d.d_out, d.b_offset, 0, 0],
                    &[b(Buf::Delta(layer)), b(Buf::Grads)],
                    Grid::Fixed { x: d.d_out, wx: 64, y: 1, wy: 1 },
                )
            }
            Op::DenseNorms { layer, row } => {
                let d = lay.layers[layer];
                self.small(
                    op,
                    &k.per_example_norms,
                    [d.d_in, d.d_out, row as u32, self.m_max],
                    &[b(plan.layer_input(layer)), b(Buf::Delta(layer)), b(Buf::Norms)],
                    Grid::Examples { w: 64 },
                )
            }
            Op::SgdUpdate => self.small(
                op,
                &k.sgd_update,
                [lay.param_count, self.n_partials, 0, 0],
                &[b(Buf::Grads), b(Buf::Params), b(Buf::Partials)],
                Grid::Fixed { x: self.n_partials, wx: crate::reference::WORKGROUP as u32, y: 1, wy: 1 },
            ),
            Op::ReduceStats => self.small(
                op,
                &k.reduce_stats,
                [lay.n_tensors() as u32, self.m_max, self.n_partials, 0],
                &[b(Buf::Losses), b(Buf::Correct), b(Buf::Norms), b(Buf::Partials), self.stats],
                Grid::Fixed { x: 1, wx: 1, y: 1, wy: 1 },
            ),
        }
    }
}

impl GpuEngine {
    /// What must fit whatever the chunk: the parameters, gradients, the data splits and the
    /// per-example statistics of a whole batch, each in one binding.
    fn fixed_requirements(plan: &Plan, data: &Dataset, m_max: u32) -> Requirements {
        // The data splits are not listed: one larger than a binding is streamed.
        let mut buffers = vec![("the permutation of the training set".to_string(), data.train.len() as u64 * 4)];
        for (buf, extent) in plan.buffers() {
            match extent {
                Extent::PerBatchRow(n) => buffers.push((format!("{buf:?} for m_max = {m_max}"), n as u64 * m_max as u64 * 4)),
                Extent::Fixed(n) => buffers.push((format!("{buf:?}"), n as u64 * 4)),
                Extent::PerChunkRow(_) => {}
            }
        }
        Requirements { buffers }
    }

    /// `stream_data` forces streamed splits (for tests and for measuring the cost of streaming);
    /// otherwise only a split larger than one storage binding is streamed.
    pub async fn new(
        plan: Plan,
        data: &Dataset,
        m_max: u32,
        params: &[f32],
        forced_chunk: Option<u32>,
        stream_data: bool,
    ) -> Result<GpuEngine> {
        let ctx = GpuContext::new(Self::fixed_requirements(&plan, data, m_max)).await?;
        let limits = ctx.device.limits();
        let budget = Budget {
            max_binding: (limits.max_storage_buffer_binding_size as u64).min(limits.max_buffer_size),
            total: GPU_BUDGET,
            activations: u64::MAX,
            what: "the GPU adapter",
        };
        let mut chunking = choose_chunk(&plan, m_max, data.memory_bytes(), budget, forced_chunk)?;
        let loop_cap = plan.max_gpu_chunk_rows();
        if chunking.chunk > loop_cap {
            chunking = Chunking { chunk: loop_cap, reason: "kernel loop limit" };
        }
        let chunk = chunking.chunk;
        let device = &ctx.device;
        let lay = &plan.layout;
        let n_partials = crate::reference::sgd_update::partials(lay.param_count as usize) as u32;
        let n_test = data.test.len() as u32;
        let train_slots = chunking.count(m_max);
        let eval_slots = n_test.div_ceil(chunk).max(1);

        let mut bufs = BTreeMap::new();
        for (buf, extent) in plan.buffers() {
            let bytes = match extent {
                Extent::PerChunkRow(n) => n as u64 * chunk as u64 * 4,
                Extent::PerBatchRow(n) => n as u64 * m_max as u64 * 4,
                Extent::Fixed(n) => n as u64 * 4,
            };
            let b = match buf {
                Buf::Params => storage_init(device, "params", bytemuck::cast_slice(params)),
                _ => storage(device, &format!("{buf:?}"), bytes),
            };
            bufs.insert(buf, b);
        }
        let stats_bytes = (1 + eval_slots as u64) * 16;
        let stats = storage(device, "stats", stats_bytes);
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("stats readback"),
            size: stats_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let step = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("step uniform"),
            size: STEP_STRIDE * (train_slots + eval_slots) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let perm = storage(device, "permutation", data.train.len() as u64 * 4);
        let kernels = Kernels::new(device);
        let step_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("step uniform"),
            layout: &kernels.step_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &step,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<StepUniform>() as u64),
                }),
            }],
        });
        // Convolution pipelines only for models that use them (browsers compile each one).
        let conv = (!lay.convs.is_empty() || lay.prep.is_some()).then(|| ConvKernels::new(device, &kernels.step_layout));
        let streamed = |s: &Split| stream_data || s.gpu_bytes() > budget.max_binding;
        let train = SplitBufs::new(device, &data.train, lay.input_dim, "training", streamed(&data.train).then_some(m_max));
        let test_rows = (n_test.min(m_max).max(1) / chunk).max(1) * chunk; // whole chunks per group
        let test = SplitBufs::new(device, &data.test, lay.input_dim, "test", streamed(&data.test).then_some(test_rows));
        let builder = Builder {
            device,
            kernels,
            conv,
            plan: &plan,
            bufs: &bufs,
            perm: &perm,
            stats: &stats,
            m_max,
            chunk,
            n_partials,
            byte_scale: data.train.gpu_format().1,
        };
        let chunk_ops: Vec<Dispatch> = plan.chunk.iter().map(|&op| builder.build(op, &train)).collect();
        let finish_ops: Vec<Dispatch> = plan.finish.iter().map(|&op| builder.build(op, &train)).collect();
        let eval_ops: Vec<Dispatch> = plan.forward.iter().map(|&op| builder.build(op, &test)).collect();
        drop(builder);
        let widest = chunk_ops.iter().chain(&finish_ops).chain(&eval_ops).map(|d| d.widest(chunk)).max().unwrap_or(1);
        if widest > limits.max_compute_workgroups_per_dimension {
            return Err(CabsError::Gpu(format!(
                "the adapter '{}' allows {} workgroups per dimension, but this model needs {widest}; use a smaller model or chunk",
                ctx.adapter.name, limits.max_compute_workgroups_per_dimension
            )));
        }
        ctx.check()?;
        let mut engine = GpuEngine {
            ctx,
            plan,
            chunking,
            m_max,
            n_test,
            n_partials,
            bufs,
            stats,
            staging,
            step,
            step_group,
            perm,
            perm_host: Vec::new(),
            train,
            test,
            train_slots,
            chunk_ops,
            finish_ops,
            eval_ops,
            last_rows: 0,
        };
        let identity: Vec<u32> = (0..data.train.len() as u32).collect();
        engine.set_permutation(&identity);
        // Browsers compile pipelines lazily, at first use (up to seconds on software GPUs).
        // One step of one example at α = 0 uses every pipeline and changes no weight, so the
        // wait happens here rather than when the user presses Play.
        engine.train_step(0, 1, 0.0, true).await?;
        Ok(engine)
    }

    pub fn adapter(&self) -> &super::AdapterSummary {
        &self.ctx.adapter
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn layout(&self) -> &Layout {
        &self.plan.layout
    }

    pub fn chunking(&self) -> Chunking {
        self.chunking
    }

    /// Kernel dispatches of one training step of batch `m` (with statistics), for reports.
    pub fn dispatches_per_step(&self, m: u32) -> usize {
        self.plan.dispatches_per_step(self.chunking.count(m) as usize, true)
    }

    /// Destroy the device, as a driver reset or a browser tab losing its GPU would: for testing
    /// that the loss becomes an error, not a panic or a hang.
    pub fn lose_device_for_testing(&self) {
        self.ctx.device.destroy();
    }

    pub fn set_permutation(&mut self, perm: &[u32]) {
        self.ctx.queue.write_buffer(&self.perm, 0, bytemuck::cast_slice(perm));
        if self.train.stream.is_some() {
            self.perm_host = perm.to_vec();
        }
    }

    /// Whether the (training, test) split is streamed per step rather than resident.
    pub fn streams_data(&self) -> (bool, bool) {
        (self.train.stream.is_some(), self.test.stream.is_some())
    }

    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        if params.len() != self.plan.layout.param_count as usize {
            return Err(CabsError::Config(format!("expected {} parameters, got {}", self.plan.layout.param_count, params.len())));
        }
        self.ctx.queue.write_buffer(&self.bufs[&Buf::Params], 0, bytemuck::cast_slice(params));
        Ok(())
    }

    fn encode(&self, pass: &mut wgpu::ComputePass<'_>, d: &Dispatch, m: u32, slot: u32) {
        let (pipeline, grid) = d.pick(m);
        let (x, y) = grid.size(m);
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &d.group, &[]);
        pass.set_bind_group(1, &self.step_group, &[slot * STEP_STRIDE as u32]);
        pass.dispatch_workgroups(x, y, 1);
        if let Some(then) = &d.then {
            self.encode(pass, then, m, slot);
        }
    }

    fn write_step(&self, slot: u32, s: StepUniform) {
        self.ctx.queue.write_buffer(&self.step, slot as u64 * STEP_STRIDE, bytemuck::bytes_of(&s));
    }

    /// Write the uniform slot of every chunk of a training step (and, when the training split is
    /// streamed, upload the batch's examples); returns (slot, rows) per chunk.
    fn write_train_slots(&self, offset: u32, m: u32, lr: f32, with_stats: bool) -> Vec<(u32, u32)> {
        let streamed = self.train.stream.is_some();
        if streamed {
            self.train.upload(&self.ctx.queue, &self.perm_host[offset as usize..(offset + m) as usize]);
        }
        self.chunking
            .spans(m)
            .enumerate()
            .map(|(k, (row_base, rows))| {
                let slot = k as u32;
                self.write_step(
                    slot,
                    StepUniform {
                        m: rows,
                        // A streamed batch sits in batch order in the upload buffer.
                        offset: if streamed { row_base } else { offset + row_base },
                        lr,
                        inv_m: 1.0 / m as f32,
                        use_perm: !streamed as u32,
                        stats_slot: 0,
                        with_norms: with_stats as u32,
                        row_base,
                        batch: m,
                        accumulate: (k > 0) as u32,
                        ..Default::default()
                    },
                );
                (slot, rows)
            })
            .collect()
    }

    /// One SGD step on the batch `perm[offset .. offset + m]`, in chunks; returns the step's sums.
    pub async fn train_step(&mut self, offset: u32, m: u32, lr: f32, with_stats: bool) -> Result<StepSums> {
        if m == 0 || m > self.m_max {
            return Err(CabsError::Config(format!("batch of {m} outside 1 … m_max = {}", self.m_max)));
        }
        let slots = self.write_train_slots(offset, m, lr, with_stats);
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("training step") });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("training step"), timestamp_writes: None });
            for &(slot, rows) in &slots {
                for d in self.chunk_ops.iter().filter(|d| with_stats || !d.op.is_norm()) {
                    self.encode(&mut pass, d, rows, slot);
                }
            }
            let (last_slot, last_rows) = slots[slots.len() - 1];
            for d in &self.finish_ops {
                self.encode(&mut pass, d, last_rows, last_slot);
            }
        }
        enc.copy_buffer_to_buffer(&self.stats, 0, &self.staging, 0, 16);
        self.ctx.queue.submit([enc.finish()]);
        self.last_rows = slots[slots.len() - 1].1;
        let s = self.ctx.read_f32(&self.staging, 16).await?;
        Ok(StepSums { loss_sum: s[0], correct: s[1], sq_norm_sum: s[2], mean_grad_sq: s[3] })
    }

    /// GPU time of each dispatch of one training step with statistics (each in its own timed
    /// pass), in milliseconds, on the batch `perm[offset .. offset + m]` with α = 0 (the weights
    /// do not change): (label, shape, ms) per dispatch, chunk after chunk. None when the adapter
    /// cannot time passes.
    pub async fn profile_step(&mut self, offset: u32, m: u32) -> Result<Option<Vec<(&'static str, String, f64)>>> {
        if !self.ctx.timestamps {
            return Ok(None);
        }
        let slots = self.write_train_slots(offset, m, 0.0, true);
        let (last_slot, last_rows) = slots[slots.len() - 1];
        let mut list: Vec<(&Dispatch, u32, u32)> = Vec::new();
        for &(slot, rows) in &slots {
            list.extend(self.chunk_ops.iter().map(|d| (d, rows, slot)));
        }
        list.extend(self.finish_ops.iter().map(|d| (d, last_rows, last_slot)));
        let n = list.len() as u32;
        let device = &self.ctx.device;
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kernel timings"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * n,
        });
        let bytes = 2 * n as u64 * 8;
        let resolved = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel timings"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel timings readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("profiled step") });
        for (i, (d, rows, slot)) in list.iter().enumerate() {
            let writes = wgpu::ComputePassTimestampWrites {
                query_set: &queries,
                beginning_of_pass_write_index: Some(2 * i as u32),
                end_of_pass_write_index: Some(2 * i as u32 + 1),
            };
            let mut pass =
                enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(d.op.label()), timestamp_writes: Some(writes) });
            self.encode(&mut pass, d, *rows, *slot);
        }
        enc.resolve_query_set(&queries, 0..2 * n, &resolved, 0);
        enc.copy_buffer_to_buffer(&resolved, 0, &staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        self.last_rows = last_rows;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&self.ctx.read_bytes(&staging, bytes).await?);
        let period_ms = self.ctx.queue.get_timestamp_period() as f64 * 1e-6;
        Ok(Some(
            list.iter()
                .enumerate()
                .map(|(i, (d, _, _))| {
                    let ms = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period_ms;
                    (d.op.label(), self.plan.describe(d.op), ms)
                })
                .collect(),
        ))
    }

    /// Loss and accuracy over the whole test split: every chunk writes its sums to its own stats
    /// slot, one readback at the end. A resident split is one submission; a streamed one is one
    /// submission per group of chunks that fits its upload buffers (each group's upload is
    /// queued just before its submission, so no group sees another's examples).
    pub async fn evaluate(&mut self) -> Result<EvalSums> {
        if self.n_test == 0 {
            return Ok(EvalSums::default());
        }
        let chunk = self.chunking.chunk;
        let chunks = self.n_test.div_ceil(chunk);
        let group = self.test.stream.as_ref().map_or(self.n_test, |s| s.rows);
        let mut start = 0;
        while start < self.n_test {
            let end = (start + group).min(self.n_test);
            let indices: Vec<u32> = (start..end).collect();
            self.test.upload(&self.ctx.queue, &indices);
            let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("evaluation") });
            for c in start / chunk..end.div_ceil(chunk) {
                let slot = self.train_slots + c;
                let offset = c * chunk;
                let m = (end - offset).min(chunk);
                let at = if self.test.stream.is_some() { offset - start } else { offset };
                let s = StepUniform { m, offset: at, inv_m: 1.0 / m as f32, stats_slot: c + 1, batch: m, ..Default::default() };
                self.write_step(slot, s);
                // One pass per chunk: chunks reuse the same activation buffers.
                let mut pass =
                    enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("evaluation chunk"), timestamp_writes: None });
                for d in &self.eval_ops {
                    self.encode(&mut pass, d, m, slot);
                }
                self.last_rows = m;
            }
            self.ctx.queue.submit([enc.finish()]);
            start = end;
        }
        let bytes = (1 + chunks as u64) * 16;
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("evaluation readback") });
        enc.copy_buffer_to_buffer(&self.stats, 0, &self.staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let s = self.ctx.read_f32(&self.staging, bytes).await?;
        let mut out = EvalSums { n: self.n_test as usize, ..Default::default() };
        for c in 1..=chunks as usize {
            out.loss_sum += s[4 * c] as f64;
            out.correct += s[4 * c + 1] as f64;
        }
        Ok(out)
    }

    /// Copy the first `len` f32s of each buffer to the CPU (tests, probes; not per step).
    async fn read_many(&self, what: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<f32>>> {
        let total: u64 = what.iter().map(|(_, n)| n * 4).sum();
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("debug readback"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("debug readback") });
        let mut at = 0;
        for (buf, n) in what {
            if *n > 0 {
                enc.copy_buffer_to_buffer(buf, 0, &staging, at, n * 4);
            }
            at += n * 4;
        }
        self.ctx.queue.submit([enc.finish()]);
        let all = self.ctx.read_f32(&staging, total.max(4)).await?;
        let mut out = Vec::new();
        let mut at = 0usize;
        for (_, n) in what {
            out.push(all[at..at + *n as usize].to_vec());
            at += *n as usize;
        }
        Ok(out)
    }

    pub async fn params(&self) -> Result<Vec<f32>> {
        Ok(self.read_many(&[(&self.bufs[&Buf::Params], self.plan.layout.param_count as u64)]).await?.remove(0))
    }

    /// The first `m` values of every per-example norm row, and the first `grad_len` gradient
    /// entries (one readback; for the conv-ξ comparison, not part of a plain step).
    pub async fn norm_rows_and_grads(&self, m: u32, grad_len: usize) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
        let rows = self.plan.norm_rows() as u64 * self.m_max as u64;
        let mut r = self.read_many(&[(&self.bufs[&Buf::Norms], rows), (&self.bufs[&Buf::Grads], grad_len as u64)]).await?;
        let grads = r.pop().unwrap_or_default();
        let flat = r.pop().unwrap_or_default();
        Ok((flat.chunks(self.m_max as usize).map(|row| row[..m as usize].to_vec()).collect(), grads))
    }

    /// Every buffer after the last step of batch size `m`: the per-example statistics of the
    /// whole batch, the per-chunk buffers of its last chunk.
    pub async fn snapshot(&self, m: u32) -> Result<Snapshot> {
        let (m, r) = (m as u64, self.last_rows as u64);
        let lay = &self.plan.layout;
        let b = |x: Buf| &self.bufs[&x];
        let mut what: Vec<(&wgpu::Buffer, u64)> = vec![
            (b(Buf::Labels), r),
            (b(Buf::Losses), m),
            (b(Buf::Correct), m),
            (b(Buf::Grads), lay.param_count as u64),
            (b(Buf::Params), lay.param_count as u64),
            (b(Buf::Partials), self.n_partials as u64),
            (b(Buf::Norms), self.plan.norm_rows() as u64 * self.m_max as u64),
            (b(Buf::Input), r * lay.input_dim as u64),
        ];
        if let Some(p) = lay.prep {
            what.push((b(Buf::Prepped), r * p.output.len() as u64));
        }
        for (s, c) in lay.convs.iter().enumerate() {
            let conv = r * c.conv.out_len() as u64;
            what.extend([(b(Buf::ConvOut(s)), conv), (b(Buf::DConv(s)), conv)]);
            if let Some(p) = c.pool {
                let pooled = r * p.out_len() as u64;
                what.extend([(b(Buf::PoolOut(s)), pooled), (b(Buf::Arg(s)), pooled), (b(Buf::DPool(s)), pooled)]);
            }
        }
        what.push((b(self.plan.layer_input(0)), r * lay.layers[0].d_in as u64));
        for (l, d) in lay.layers.iter().enumerate() {
            what.push((b(Buf::Act(l)), r * d.d_out as u64));
            what.push((b(Buf::Delta(l)), r * d.d_out as u64));
        }
        let mut it = self.read_many(&what).await?.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let labels = next().into_iter().map(f32::to_bits).collect();
        let (losses, correct, grads, params, partials, norms_flat, input) = (next(), next(), next(), next(), next(), next(), next());
        let prepped = if lay.prep.is_some() { next() } else { Vec::new() };
        let convs = lay
            .convs
            .iter()
            .map(|c| {
                let (conv_out, d_conv) = (next(), next());
                let (pool_out, arg, d_pool) = match c.pool {
                    Some(_) => (next(), next().into_iter().map(f32::to_bits).collect(), next()),
                    None => (Vec::new(), Vec::new(), Vec::new()),
                };
                ConvSnapshot { conv_out, pool_out, arg, d_pool, d_conv }
            })
            .collect();
        let mut acts = vec![next()];
        let mut deltas = Vec::new();
        for _ in 0..lay.layers.len() {
            acts.push(next());
            deltas.push(next());
        }
        let norms = norms_flat.chunks(self.m_max as usize).map(|row| row[..m as usize].to_vec()).collect();
        Ok(Snapshot { rows: r as usize, labels, input, prepped, convs, acts, deltas, grads, params, losses, correct, norms, partials })
    }
}
