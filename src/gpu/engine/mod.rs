//! The GPU training engine: binds and encodes the step [`Plan`]. It owns every buffer (the
//! per-example ones sized for one chunk, not for m_max), every bind group (built once, one per
//! op) and the encoding of a training step as one submission: the plan's chunk ops once per
//! chunk, then its finish ops, then one 16-byte readback. The batch size and the chunk's place
//! change through the step uniform only (one 256-byte slot per chunk, bound with a dynamic
//! offset), never through a pipeline or bind-group rebuild.
//!
//! Split by seam: [`builder`] makes one dispatch per plan op (buffers from the plan's bindings;
//! pipeline, parameters and grid from the kernel's family in `gpu::{matmul, conv, small}`), [`dispatch`] holds what a dispatch is, [`stream`] the data splits (resident or
//! streamed), [`step`] the encoding of training steps and evaluation, [`readback`] the copies
//! back to the host for tests and probes. This file owns the buffers and builds the engine.

mod builder;
mod dispatch;
mod readback;
mod step;
mod stream;

use super::context::{GpuContext, Requirements};
use super::conv::ConvKernels;
use super::kernels::{Kernels, StepUniform, STEP_STRIDE};
use crate::data::{Dataset, Split};
use crate::error::{CabsError, Result};
use crate::model::Layout;
use crate::plan::Slot;
use crate::plan::{choose_chunk, Budget, Buf, Chunking, Extent, Op, Plan};
use builder::Builder;
pub use dispatch::Grid;
use dispatch::{storage, storage_init, Dispatch};
use std::collections::BTreeMap;
use stream::SplitBufs;

/// One launch as [`GpuEngine::bound`] reports it: the kernel's label and what fills each of its
/// storage bindings.
pub type BoundLaunch = (&'static str, Vec<Option<Slot>>);

/// What the engine may take of a GPU in all: WebGPU does not tell how much memory a device has,
/// so the plan stays within a share that integrated and software adapters can give.
#[cfg(target_arch = "wasm32")]
const GPU_BUDGET: u64 = 1 << 30;
#[cfg(not(target_arch = "wasm32"))]
const GPU_BUDGET: u64 = 4 << 30;

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
    /// The plan's inner-product ops and [`crate::plan::Op::InnerVar`] (the recomputation of
    /// earlier chunks reuses `chunk_ops`).
    inner_ops: Vec<Dispatch>,
    /// Run the inner products' pass in each training step.
    inner_on: bool,
    /// (mean, sample variance) of the last step's p_i.
    inner_stats: Option<(f32, f32)>,
    /// Rows of the last chunk run (what a snapshot shows of the per-chunk buffers).
    last_rows: u32,
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
        let kernels = Kernels::new(device, ctx.adapter.is_software());
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
        let inner_ops: Vec<Dispatch> = plan.inner.iter().chain(&[Op::InnerVar]).map(|&op| builder.build(op, &train)).collect();
        drop(builder);
        let widest = chunk_ops.iter().chain(&finish_ops).chain(&eval_ops).chain(&inner_ops).map(|d| d.widest(chunk)).max().unwrap_or(1);
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
            inner_ops,
            inner_on: false,
            inner_stats: None,
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

    /// Compute the per-example inner products and their variance in every training step from
    /// now on, or stop (see [`crate::plan::Plan::inner_pass`]).
    pub fn set_inner_products(&mut self, on: bool) {
        self.inner_on = on;
        self.inner_stats = None;
    }

    /// (mean, sample variance) of the last step's p_i; None unless computed.
    pub fn inner_product_stats(&self) -> Option<(f32, f32)> {
        self.inner_stats
    }

    /// Whether the (training, test) split is streamed per step rather than resident.
    pub fn streams_data(&self) -> (bool, bool) {
        (self.train.stream.is_some(), self.test.stream.is_some())
    }

    /// What the engine's dispatches bind, named as the plan names it: for each op of the chunk,
    /// finish, forward and inner-product lists, each launch's kernel label and its storage
    /// buffers, each identified by which buffer of the engine it is (a buffer the engine does not
    /// hold is the op's scratch, if every launch of the op binds that same one; any other is
    /// `None`). For the test that the engine binds exactly [`Plan::bindings`].
    pub fn bound(&self) -> Vec<(Op, Vec<BoundLaunch>)> {
        let mut known: Vec<(&wgpu::Buffer, Slot)> = self.bufs.iter().map(|(&b, buf)| (buf, Slot::Buf(b))).collect();
        known.extend([(&self.perm, Slot::Perm), (&self.stats, Slot::Stats)]);
        for split in [&self.train, &self.test] {
            known.extend([(&split.features, Slot::DataFeatures), (&split.labels, Slot::DataLabels)]);
        }
        let ops = self.chunk_ops.iter().chain(&self.finish_ops).chain(&self.eval_ops).chain(&self.inner_ops);
        ops.map(|d| {
            let mut scratch: Option<&wgpu::Buffer> = None;
            let mut launches = Vec::new();
            let mut next = Some(d);
            while let Some(l) = next {
                let slots = l
                    .bound
                    .iter()
                    .map(|b| match known.iter().find(|(k, _)| *k == b) {
                        Some(&(_, slot)) => Some(slot),
                        None if *scratch.get_or_insert(b) == b => Some(Slot::Scratch),
                        None => None,
                    })
                    .collect();
                launches.push((l.kernel, slots));
                next = l.then.as_deref();
            }
            (d.op, launches)
        })
        .collect()
    }

    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        if params.len() != self.plan.layout.param_count as usize {
            return Err(CabsError::Config(format!("expected {} parameters, got {}", self.plan.layout.param_count, params.len())));
        }
        self.ctx.queue.write_buffer(&self.bufs[&Buf::Params], 0, bytemuck::cast_slice(params));
        Ok(())
    }
}
