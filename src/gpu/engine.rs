//! The GPU training engine: owns every buffer (sized once for `m_max`), every bind group (built
//! once) and the encoding of a training step as one submission (5L+3 dispatches for an L-layer
//! MLP; each convolution stage adds forward, pool, backward, filter-gradient and norm
//! dispatches), with one 16-byte readback. The batch size changes through the step uniform only.

use super::context::{GpuContext, Requirements};
use super::conv::{ConvKernels, ConvParams, PoolParams, PrepParams, APPROX, MUL_RELU_DERIV, RELU};
use super::kernels::{GatherParams, Kernel, Kernels, MatmulParams, Params4, StepUniform, STEP_STRIDE};
use crate::data::{Dataset, Split};
use crate::engine::{ConvNorms, ConvSnapshot, EvalSums, Snapshot};
use crate::error::{CabsError, Result};
use crate::model::Layout;
use crate::reference::matmul::{activation_flag, derivative_flag, ADD_BIAS, SCALE_INV_M};
use crate::reference::reduce_stats::StepSums;
use wgpu::util::DeviceExt;

const COPY: wgpu::BufferUsages = wgpu::BufferUsages::COPY_SRC.union(wgpu::BufferUsages::COPY_DST);

/// One pre-built dispatch: pipeline, group-0 bind group, and how to size the grid.
struct Dispatch {
    /// For per-kernel timings.
    name: &'static str,
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    grid: Grid,
}

/// Workgroup counts as a function of the batch size m.
#[derive(Clone, Copy)]
enum Grid {
    /// (ceil(x / wx), ceil(m / wy)) — kernels over a batch of rows.
    Rows { x: u32, wx: u32, wy: u32 },
    /// (ceil(x / wx), ceil(y / wy)) — independent of m.
    Fixed { x: u32, wx: u32, y: u32, wy: u32 },
    /// (ceil(m / w), 1) — one thread per example.
    Examples { w: u32 },
}

impl Grid {
    fn size(self, m: u32) -> (u32, u32) {
        match self {
            Grid::Rows { x, wx, wy } => (x.div_ceil(wx), m.div_ceil(wy)),
            Grid::Fixed { x, wx, y, wy } => (x.div_ceil(wx), y.div_ceil(wy)),
            Grid::Examples { w } => (m.div_ceil(w), 1),
        }
    }
}

/// One convolution stage's buffers (see [`ConvSnapshot`]); without a pool, `pool_out`, `arg`
/// and `d_pool` are placeholders.
struct StageBufs {
    conv_out: wgpu::Buffer,
    pool_out: wgpu::Buffer,
    arg: wgpu::Buffer,
    d_pool: wgpu::Buffer,
    d_conv: wgpu::Buffer,
}

struct Bufs {
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    /// The batch as gathered (the same buffer as acts[0] for dense models).
    input: wgpu::Buffer,
    /// After the input transform (a placeholder without one).
    prepped: wgpu::Buffer,
    stages: Vec<StageBufs>,
    /// acts[0] is the first dense layer's input (for convolutional models the same buffer as the
    /// last stage's output), acts[l + 1] the output of layer l (the last: logits).
    acts: Vec<wgpu::Buffer>,
    /// deltas[l]: per-example error at the output of layer l.
    deltas: Vec<wgpu::Buffer>,
    labels: wgpu::Buffer,
    losses: wgpu::Buffer,
    correct: wgpu::Buffer,
    norms: wgpu::Buffer,
    partials: wgpu::Buffer,
    stats: wgpu::Buffer,
    staging: wgpu::Buffer,
    step: wgpu::Buffer,
    perm: wgpu::Buffer,
}

pub struct GpuEngine {
    ctx: GpuContext,
    layout: Layout,
    m_max: u32,
    norm_rows: usize,
    n_test: u32,
    n_partials: u32,
    bufs: Bufs,
    step_group: wgpu::BindGroup,
    /// gather (training data), input transform, convolution stages and dense layers forward,
    /// loss: shared by training and evaluation.
    train_gather: Dispatch,
    eval_gather: Dispatch,
    forward: Vec<Dispatch>,
    loss: Dispatch,
    /// backward δ…, weight gradients…, bias gradients…, filter gradients…
    backward: Vec<Dispatch>,
    norms: Vec<Dispatch>,
    update: Dispatch,
    reduce: Dispatch,
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

/// Values per example of every per-example buffer of a layout (for sizing and limits).
fn per_example_lens(layout: &Layout, dim: u32) -> Vec<u64> {
    let mut v = vec![dim as u64];
    v.extend(layout.prep.map(|p| p.output.len() as u64));
    for c in &layout.convs {
        v.push(c.conv.out_len() as u64);
        v.extend(c.pool.map(|p| p.out_len() as u64));
    }
    v.extend(layout.layers.iter().map(|d| d.d_in.max(d.d_out) as u64));
    v
}

/// What stage `s` passes on: its pool's output, or its ReLU'd convolution without a pool.
fn stage_out<'a>(layout: &Layout, stages: &'a [StageBufs], s: usize) -> &'a wgpu::Buffer {
    if layout.convs[s].pool.is_some() {
        &stages[s].pool_out
    } else {
        &stages[s].conv_out
    }
}

impl GpuEngine {
    /// The largest buffer this configuration needs, for [`Requirements`].
    pub fn requirements(layout: &Layout, data: &Dataset, m_max: u32, conv_norms: ConvNorms) -> Requirements {
        let widest = per_example_lens(layout, data.dim).into_iter().max().unwrap_or(1);
        let feature_bytes = |s: &Split| s.gpu_words().len() as u64 * 4;
        let biggest = [
            layout.param_count as u64 * 4,
            m_max as u64 * widest * 4,
            feature_bytes(&data.train),
            feature_bytes(&data.test),
            conv_norms.rows(layout) as u64 * m_max as u64 * 4,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let filter_groups = layout.convs.iter().map(|c| (c.conv.filter_len() + c.conv.out_c).div_ceil(64) as u64).max().unwrap_or(1);
        let workgroups = [widest.div_ceil(64), filter_groups, m_max as u64];
        Requirements {
            max_binding_bytes: biggest,
            max_buffer_bytes: biggest,
            max_workgroups: workgroups.into_iter().max().unwrap_or(1).min(u32::MAX as u64) as u32,
            bytes_per_example: widest * 4,
        }
    }

    pub async fn new(layout: Layout, data: &Dataset, m_max: u32, params: &[f32], conv_norms: ConvNorms) -> Result<GpuEngine> {
        let ctx = GpuContext::new(Self::requirements(&layout, data, m_max, conv_norms)).await?;
        let device = &ctx.device;
        let kernels = Kernels::new(device);
        // Convolution pipelines only for models that use them (browsers compile each one).
        let conv_kernels = (!layout.convs.is_empty() || layout.prep.is_some()).then(|| ConvKernels::new(device, &kernels.step_layout));
        let n_layers = layout.layers.len();
        let n_convs = layout.convs.len();
        let norm_rows = conv_norms.rows(&layout);
        let n_test = data.test.len() as u32;
        let eval_chunks = n_test.div_ceil(m_max).max(1);
        let n_partials = crate::reference::sgd_update::groups(layout.param_count as usize) as u32;
        let f = 4u64;
        let mm = m_max as u64;
        let per_example = |label: &str, len: usize| storage(device, label, mm * len as u64 * f);

        let stages: Vec<StageBufs> = layout
            .convs
            .iter()
            .enumerate()
            .map(|(s, c)| {
                let pooled = c.pool.map_or(0, |p| p.out_len());
                StageBufs {
                    conv_out: per_example(&format!("conv {s} output"), c.conv.out_len()),
                    pool_out: per_example(&format!("pool {s} output"), pooled),
                    arg: per_example(&format!("pool {s} arg-max"), pooled),
                    d_pool: per_example(&format!("pool {s} error"), pooled),
                    d_conv: per_example(&format!("conv {s} error"), c.conv.out_len()),
                }
            })
            .collect();
        let input = per_example("batch input", layout.input_dim() as usize);
        let prepped = per_example("transformed input", layout.prep.map_or(0, |p| p.output.len() as usize));
        let mut acts = vec![match n_convs {
            0 if layout.prep.is_none() => input.clone(),
            0 => prepped.clone(),
            _ => stage_out(&layout, &stages, n_convs - 1).clone(),
        }];
        let mut deltas = Vec::new();
        for (l, d) in layout.layers.iter().enumerate() {
            acts.push(per_example(&format!("acts {}", l + 1), d.d_out as usize));
            deltas.push(per_example(&format!("deltas {l}"), d.d_out as usize));
        }
        let stats_bytes = (1 + eval_chunks as u64) * 4 * f;
        let bufs = Bufs {
            params: storage_init(device, "params", bytemuck::cast_slice(params)),
            grads: storage(device, "grads", layout.param_count as u64 * f),
            input,
            prepped,
            stages,
            acts,
            deltas,
            labels: storage(device, "batch labels", mm * f),
            losses: storage(device, "per-example losses", mm * f),
            correct: storage(device, "per-example correct", mm * f),
            norms: storage(device, "per-example squared norms", norm_rows as u64 * mm * f),
            partials: storage(device, "sum of squared gradient partials", n_partials as u64 * f),
            stats: storage(device, "stats", stats_bytes),
            staging: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("stats readback"),
                size: stats_bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            step: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("step uniform"),
                size: STEP_STRIDE * (1 + eval_chunks as u64),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            perm: storage(device, "permutation", data.train.len() as u64 * f),
        };
        let step_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("step uniform"),
            layout: &kernels.step_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &bufs.step,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<StepUniform>() as u64),
                }),
            }],
        });

        let b = &bufs;
        let stage_out = |s: usize| stage_out(&layout, &b.stages, s);
        let stage_d_out = |s: usize| if layout.convs[s].pool.is_some() { &b.stages[s].d_pool } else { &b.stages[s].d_conv };
        let dim = layout.input_dim();
        let dispatch = |name, kernel: &Kernel, params: &wgpu::Buffer, buffers: &[&wgpu::Buffer], grid: Grid| {
            let mut all = vec![params];
            all.extend_from_slice(buffers);
            Dispatch { name, pipeline: kernel.pipeline.clone(), group: kernel.bind(device, &all), grid }
        };
        let gather = |split: &Split, name: &str| {
            let (format, scale) = split.gpu_format();
            let data_buf = storage_init(device, &format!("{name} features"), &split.gpu_words());
            let label_buf = storage_init(device, &format!("{name} labels"), &split.labels);
            let params = uniform(device, "gather params", &GatherParams { dim, format, scale, _pad: 0 });
            dispatch(
                "gather_batch",
                &kernels.gather_batch,
                &params,
                &[&data_buf, &label_buf, &b.perm, &b.input, &b.labels],
                Grid::Rows { x: dim, wx: 64, wy: 1 },
            )
        };
        let train_gather = gather(&data.train, "training");
        let eval_gather = gather(&data.test, "test");

        let matmul = |name, p: MatmulParams, a: &wgpu::Buffer, bb: &wgpu::Buffer, aux: &wgpu::Buffer, out: &wgpu::Buffer, grid: Grid| {
            dispatch(name, &kernels.matmul, &uniform(device, "matmul params", &p), &[a, bb, aux, out], grid)
        };
        let small = |name, kernel: &Kernel, p: [u32; 4], buffers: &[&wgpu::Buffer], grid: Grid| {
            dispatch(name, kernel, &uniform(device, "kernel params", &Params4(p)), buffers, grid)
        };

        // Convolution stages: forward (with the input transform), backward, gradients, norms.
        let mut conv_forward = Vec::new();
        let mut conv_backward = Vec::new();
        let mut conv_grads = Vec::new();
        let mut conv_norms_list = Vec::new();
        if let Some(ck) = &conv_kernels {
            let byte_scale = data.train.gpu_format().1;
            let stage_in = |s: usize| match s {
                0 if layout.prep.is_some() => &b.prepped,
                0 => &b.input,
                _ => stage_out(s - 1),
            };
            if let Some(p) = layout.prep {
                let floor = byte_scale / (p.output.len() as f32).sqrt();
                let params = uniform(device, "crop params", &PrepParams::new(&p, floor));
                conv_forward.push(dispatch(
                    "crop_standardize",
                    &ck.crop_standardize,
                    &params,
                    &[&b.input, &b.prepped],
                    Grid::Examples { w: 1 },
                ));
            }
            for (s, c) in layout.convs.iter().enumerate() {
                let (w_off, b_off) = (c.w_offset, c.b_offset);
                let cp =
                    |flags, row: usize| uniform(device, "conv params", &ConvParams::new(&c.conv, flags, w_off, b_off, row as u32, m_max));
                let st = &b.stages[s];
                let (out_len, in_len) = (c.conv.out_len() as u32, c.conv.in_len() as u32);
                conv_forward.push(dispatch(
                    "conv2d_forward",
                    &ck.forward,
                    &cp(RELU, 0),
                    &[stage_in(s), &b.params, &st.conv_out],
                    Grid::Rows { x: out_len, wx: 64, wy: 1 },
                ));
                if let Some(pool) = c.pool {
                    let pp = uniform(device, "pool params", &PoolParams::new(&pool, 0));
                    conv_forward.push(dispatch(
                        "max_pool_forward",
                        &ck.pool_forward,
                        &pp,
                        &[&st.conv_out, &st.pool_out, &st.arg],
                        Grid::Rows { x: pool.out_len() as u32, wx: 64, wy: 1 },
                    ));
                    let pb = uniform(device, "pool params", &PoolParams::new(&pool, MUL_RELU_DERIV));
                    conv_backward.push((
                        s,
                        dispatch(
                            "max_pool_backward",
                            &ck.pool_backward,
                            &pb,
                            &[&st.d_pool, &st.arg, &st.conv_out, &st.d_conv],
                            Grid::Rows { x: out_len, wx: 64, wy: 1 },
                        ),
                    ));
                }
                if s > 0 {
                    // Without a pool in between, the previous stage's ReLU derivative is applied here.
                    let flags = if layout.convs[s - 1].pool.is_some() { 0 } else { MUL_RELU_DERIV };
                    conv_backward.push((
                        s,
                        dispatch(
                            "conv2d_backward_input",
                            &ck.backward_input,
                            &cp(flags, 0),
                            &[&st.d_conv, &b.params, stage_out(s - 1), stage_d_out(s - 1)],
                            Grid::Rows { x: in_len, wx: 64, wy: 1 },
                        ),
                    ));
                }
                conv_grads.push(dispatch(
                    "conv2d_filter_grad",
                    &ck.filter_grad,
                    &cp(0, 0),
                    &[stage_in(s), &st.d_conv, &b.grads],
                    Grid::Fixed { x: (c.conv.filter_len() + c.conv.out_c) as u32, wx: 64, y: 1, wy: 1 },
                ));
                let mut norm = |name, flags, row| {
                    conv_norms_list.push(dispatch(
                        name,
                        &ck.norms,
                        &cp(flags, row),
                        &[stage_in(s), &st.d_conv, &b.norms],
                        Grid::Examples { w: 1 },
                    ))
                };
                match conv_norms {
                    ConvNorms::Exact => norm("conv2d_norms (exact)", 0, 2 * s),
                    ConvNorms::Both => {
                        norm("conv2d_norms (exact)", 0, 2 * s);
                        norm("conv2d_norms (approximate)", APPROX, layout.n_tensors() + 2 * s);
                    }
                    ConvNorms::Reference => norm("conv2d_norms (approximate)", APPROX, 2 * s),
                }
            }
        }

        let act = layout.activation;
        let mut forward = conv_forward;
        forward.extend(layout.layers.iter().enumerate().map(|(l, d)| {
            let flags = ADD_BIAS | if d.activated { activation_flag(act) } else { 0 };
            let p = MatmulParams {
                n: d.d_out,
                k: d.d_in,
                batch_dim: 1,
                flags,
                trans_b: 1,
                b_off: d.w_offset,
                bias_off: d.b_offset,
                ..Default::default()
            };
            matmul("matmul (forward)", p, &b.acts[l], &b.params, &b.acts[l], &b.acts[l + 1], Grid::Rows { x: d.d_out, wx: 64, wy: 64 })
        }));
        let classes = layout.classes();
        let loss = small(
            "softmax_xent",
            &kernels.softmax_xent,
            [classes, 0, 0, 0],
            &[&b.acts[n_layers], &b.labels, &b.deltas[n_layers - 1], &b.losses, &b.correct],
            Grid::Examples { w: 64 },
        );
        let mut backward = Vec::new();
        for l in (1..n_layers).rev() {
            let d = layout.layers[l];
            let p =
                MatmulParams { n: d.d_in, k: d.d_out, batch_dim: 1, flags: derivative_flag(act), b_off: d.w_offset, ..Default::default() };
            backward.push(matmul(
                "matmul (backward δ)",
                p,
                &b.deltas[l],
                &b.params,
                &b.acts[l],
                &b.deltas[l - 1],
                Grid::Rows { x: d.d_in, wx: 64, wy: 64 },
            ));
        }
        if let Some(last) = layout.convs.last() {
            // Into the last stage's output error; its ReLU derivative here only without a pool.
            let d = layout.layers[0];
            let flags = if last.pool.is_some() { 0 } else { MUL_RELU_DERIV };
            let p = MatmulParams { n: d.d_in, k: d.d_out, batch_dim: 1, flags, b_off: d.w_offset, ..Default::default() };
            backward.push(matmul(
                "matmul (backward δ)",
                p,
                &b.deltas[0],
                &b.params,
                &b.acts[0],
                stage_d_out(n_convs - 1),
                Grid::Rows { x: d.d_in, wx: 64, wy: 64 },
            ));
            conv_backward.sort_by_key(|(s, _)| std::cmp::Reverse(*s));
            backward.extend(conv_backward.into_iter().map(|(_, d)| d));
        }
        for (l, d) in layout.layers.iter().enumerate() {
            let p = MatmulParams {
                m: d.d_out,
                n: d.d_in,
                batch_dim: 2,
                flags: SCALE_INV_M,
                trans_a: 1,
                out_off: d.w_offset,
                ..Default::default()
            };
            backward.push(matmul(
                "matmul (weight gradient)",
                p,
                &b.deltas[l],
                &b.acts[l],
                &b.acts[l],
                &b.grads,
                Grid::Fixed { x: d.d_in, wx: 64, y: d.d_out, wy: 64 },
            ));
        }
        for (l, d) in layout.layers.iter().enumerate() {
            backward.push(small(
                "bias_grad",
                &kernels.bias_grad,
                [d.d_out, d.b_offset, 0, 0],
                &[&b.deltas[l], &b.grads],
                Grid::Fixed { x: d.d_out, wx: 64, y: 1, wy: 1 },
            ));
        }
        backward.extend(conv_grads);
        let mut norms: Vec<Dispatch> = layout
            .layers
            .iter()
            .enumerate()
            .map(|(l, d)| {
                small(
                    "per_example_norms",
                    &kernels.per_example_norms,
                    [d.d_in, d.d_out, (2 * n_convs + 2 * l) as u32, m_max],
                    &[&b.acts[l], &b.deltas[l], &b.norms],
                    Grid::Examples { w: 64 },
                )
            })
            .collect();
        norms.extend(conv_norms_list);
        let update = small(
            "sgd_update",
            &kernels.sgd_update,
            [layout.param_count, n_partials, 0, 0],
            &[&b.grads, &b.params, &b.partials],
            Grid::Fixed { x: n_partials, wx: 1, y: 1, wy: 1 },
        );
        let reduce = small(
            "reduce_stats",
            &kernels.reduce_stats,
            [layout.n_tensors() as u32, m_max, n_partials, 0],
            &[&b.losses, &b.correct, &b.norms, &b.partials, &b.stats],
            Grid::Fixed { x: 1, wx: 1, y: 1, wy: 1 },
        );
        ctx.check()?;
        let mut engine = GpuEngine {
            ctx,
            layout,
            m_max,
            norm_rows,
            n_test,
            n_partials,
            bufs,
            step_group,
            train_gather,
            eval_gather,
            forward,
            loss,
            backward,
            norms,
            update,
            reduce,
        };
        // Browsers compile pipelines lazily, at first use (up to seconds on software GPUs).
        // One step of one example at α = 0 uses every pipeline and changes no weight, so the
        // wait happens here rather than when the user presses Play.
        engine.train_step(0, 1, 0.0, true).await?;
        Ok(engine)
    }

    pub fn adapter(&self) -> &super::AdapterSummary {
        &self.ctx.adapter
    }

    /// Kernel dispatches in one training step (with statistics), for reports.
    pub fn dispatches_per_step(&self) -> usize {
        1 + self.forward.len() + 1 + self.backward.len() + self.norms.len() + 2
    }

    /// Destroy the device, as a driver reset or a browser tab losing its GPU would: for testing
    /// that the loss becomes an error, not a panic or a hang.
    pub fn lose_device_for_testing(&self) {
        self.ctx.device.destroy();
    }

    pub fn set_permutation(&mut self, perm: &[u32]) {
        self.ctx.queue.write_buffer(&self.bufs.perm, 0, bytemuck::cast_slice(perm));
    }

    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        if params.len() != self.layout.param_count as usize {
            return Err(CabsError::Config(format!("expected {} parameters, got {}", self.layout.param_count, params.len())));
        }
        self.ctx.queue.write_buffer(&self.bufs.params, 0, bytemuck::cast_slice(params));
        Ok(())
    }

    fn encode(&self, pass: &mut wgpu::ComputePass<'_>, d: &Dispatch, m: u32, slot: u32) {
        let (x, y) = d.grid.size(m);
        pass.set_pipeline(&d.pipeline);
        pass.set_bind_group(0, &d.group, &[]);
        pass.set_bind_group(1, &self.step_group, &[slot * STEP_STRIDE as u32]);
        pass.dispatch_workgroups(x, y, 1);
    }

    fn write_step(&self, slot: u32, s: StepUniform) {
        self.ctx.queue.write_buffer(&self.bufs.step, slot as u64 * STEP_STRIDE, bytemuck::bytes_of(&s));
    }

    /// One SGD step on the batch `perm[offset .. offset + m]`; returns the step's sums.
    pub async fn train_step(&mut self, offset: u32, m: u32, lr: f32, with_stats: bool) -> Result<StepSums> {
        debug_assert!(m >= 1 && m <= self.m_max);
        self.write_step(
            0,
            StepUniform { m, offset, lr, inv_m: 1.0 / m as f32, use_perm: 1, stats_slot: 0, with_norms: with_stats as u32, _pad: 0 },
        );
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("training step") });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("training step"), timestamp_writes: None });
            self.encode(&mut pass, &self.train_gather, m, 0);
            for d in self.forward.iter().chain([&self.loss]).chain(&self.backward) {
                self.encode(&mut pass, d, m, 0);
            }
            if with_stats {
                for d in &self.norms {
                    self.encode(&mut pass, d, m, 0);
                }
            }
            self.encode(&mut pass, &self.update, m, 0);
            self.encode(&mut pass, &self.reduce, m, 0);
        }
        enc.copy_buffer_to_buffer(&self.bufs.stats, 0, &self.bufs.staging, 0, 16);
        self.ctx.queue.submit([enc.finish()]);
        let s = self.ctx.read_f32(&self.bufs.staging, 16).await?;
        Ok(StepSums { loss_sum: s[0], correct: s[1], sq_norm_sum: s[2], mean_grad_sq: s[3] })
    }

    /// GPU time of each dispatch of one training step with statistics (each in its own timed
    /// pass), in milliseconds, on the batch `perm[offset .. offset + m]` with α = 0 (the weights
    /// do not change). None when the adapter cannot time passes.
    pub async fn profile_step(&mut self, offset: u32, m: u32) -> Result<Option<Vec<(&'static str, f64)>>> {
        if !self.ctx.timestamps {
            return Ok(None);
        }
        self.write_step(0, StepUniform { m, offset, lr: 0.0, inv_m: 1.0 / m as f32, use_perm: 1, stats_slot: 0, with_norms: 1, _pad: 0 });
        let list: Vec<&Dispatch> = [&self.train_gather]
            .into_iter()
            .chain(&self.forward)
            .chain([&self.loss])
            .chain(&self.backward)
            .chain(&self.norms)
            .chain([&self.update, &self.reduce])
            .collect();
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
        for (i, d) in list.iter().enumerate() {
            let writes = wgpu::ComputePassTimestampWrites {
                query_set: &queries,
                beginning_of_pass_write_index: Some(2 * i as u32),
                end_of_pass_write_index: Some(2 * i as u32 + 1),
            };
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(d.name), timestamp_writes: Some(writes) });
            self.encode(&mut pass, d, m, 0);
        }
        enc.resolve_query_set(&queries, 0..2 * n, &resolved, 0);
        enc.copy_buffer_to_buffer(&resolved, 0, &staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&self.ctx.read_bytes(&staging, bytes).await?);
        let period_ms = self.ctx.queue.get_timestamp_period() as f64 * 1e-6;
        Ok(Some(list.iter().enumerate().map(|(i, d)| (d.name, ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period_ms)).collect()))
    }

    /// Loss and accuracy over the whole test split: all chunks in one submission, one readback.
    pub async fn evaluate(&mut self) -> Result<EvalSums> {
        if self.n_test == 0 {
            return Ok(EvalSums::default());
        }
        let chunks = self.n_test.div_ceil(self.m_max);
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("evaluation") });
        for c in 0..chunks {
            let slot = c + 1;
            let offset = c * self.m_max;
            let m = (self.n_test - offset).min(self.m_max);
            self.write_step(
                slot,
                StepUniform { m, offset, lr: 0.0, inv_m: 1.0 / m as f32, use_perm: 0, stats_slot: slot, with_norms: 0, _pad: 0 },
            );
            // One pass per chunk: chunks reuse the same activation buffers.
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("evaluation chunk"), timestamp_writes: None });
            self.encode(&mut pass, &self.eval_gather, m, slot);
            for d in self.forward.iter().chain([&self.loss, &self.reduce]) {
                self.encode(&mut pass, d, m, slot);
            }
        }
        let bytes = (1 + chunks as u64) * 16;
        enc.copy_buffer_to_buffer(&self.bufs.stats, 0, &self.bufs.staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let s = self.ctx.read_f32(&self.bufs.staging, bytes).await?;
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
        Ok(self.read_many(&[(&self.bufs.params, self.layout.param_count as u64)]).await?.remove(0))
    }

    /// The first `m` values of every per-example norm row, and the first `grad_len` gradient
    /// entries (one readback; for the conv-ξ comparison, not part of a plain step).
    pub async fn norm_rows_and_grads(&self, m: u32, grad_len: usize) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
        let rows = self.norm_rows as u64 * self.m_max as u64;
        let mut r = self.read_many(&[(&self.bufs.norms, rows), (&self.bufs.grads, grad_len as u64)]).await?;
        let grads = r.pop().unwrap_or_default();
        let flat = r.pop().unwrap_or_default();
        Ok((flat.chunks(self.m_max as usize).map(|row| row[..m as usize].to_vec()).collect(), grads))
    }

    /// Every intermediate buffer of the last training step of batch size `m`.
    pub async fn snapshot(&self, m: u32) -> Result<Snapshot> {
        let m = m as u64;
        let lay = &self.layout;
        let mut what: Vec<(&wgpu::Buffer, u64)> = vec![
            (&self.bufs.labels, m),
            (&self.bufs.losses, m),
            (&self.bufs.correct, m),
            (&self.bufs.grads, lay.param_count as u64),
            (&self.bufs.params, lay.param_count as u64),
            (&self.bufs.partials, self.n_partials as u64),
            (&self.bufs.norms, self.norm_rows as u64 * self.m_max as u64),
            (&self.bufs.input, m * lay.input_dim() as u64),
            (&self.bufs.prepped, m * lay.prep.map_or(0, |p| p.output.len() as u64)),
        ];
        for (c, st) in lay.convs.iter().zip(&self.bufs.stages) {
            let (conv, pooled) = (m * c.conv.out_len() as u64, m * c.pool.map_or(0, |p| p.out_len() as u64));
            what.extend([(&st.conv_out, conv), (&st.pool_out, pooled), (&st.arg, pooled), (&st.d_pool, pooled), (&st.d_conv, conv)]);
        }
        what.push((&self.bufs.acts[0], m * lay.layers[0].d_in as u64));
        for (l, d) in lay.layers.iter().enumerate() {
            what.push((&self.bufs.acts[l + 1], m * d.d_out as u64));
            what.push((&self.bufs.deltas[l], m * d.d_out as u64));
        }
        let mut r = self.read_many(&what).await?.into_iter();
        let mut next = || r.next().unwrap_or_default();
        let labels = next().into_iter().map(f32::to_bits).collect();
        let (losses, correct, grads, params, partials, norms_flat) = (next(), next(), next(), next(), next(), next());
        let (input, prepped) = (next(), next());
        let convs = lay
            .convs
            .iter()
            .map(|_| ConvSnapshot {
                conv_out: next(),
                pool_out: next(),
                arg: next().into_iter().map(f32::to_bits).collect(),
                d_pool: next(),
                d_conv: next(),
            })
            .collect();
        let mut acts = vec![next()];
        let mut deltas = Vec::new();
        for _ in 0..lay.layers.len() {
            acts.push(next());
            deltas.push(next());
        }
        let norms = norms_flat.chunks(self.m_max as usize).map(|row| row[..m as usize].to_vec()).collect();
        Ok(Snapshot { labels, input, prepped, convs, acts, deltas, grads, params, losses, correct, norms, partials })
    }
}
