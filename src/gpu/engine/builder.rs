//! Turns each op of the step [`Plan`] into a [`Dispatch`]: its kernel (and tile variant chosen
//! by shape), its parameter uniform, its bind group and its grid. The bind group's buffers are
//! never picked here: each launch's come from [`Plan::bindings`], resolved slot by slot
//! ([`Builder::resolve`]). Run once when the engine is made; nothing here runs per step.

use super::super::conv::{self, ConvKernels, ConvParams, PoolParams, PrepParams};
use super::super::kernels::{Kernel, Kernels, Params4};
use super::super::matmul::MatmulParams;
use super::dispatch::{storage, uniform, Dispatch, Grid};
use super::stream::SplitBufs;
use crate::model::epilogue::{APPROX, MUL_RELU_DERIV, RELU};
use crate::plan::{Buf, Launch, Op, Plan, Slot};
use std::collections::BTreeMap;

/// Everything needed to build the dispatches of a plan.
pub(super) struct Builder<'a> {
    pub(super) device: &'a wgpu::Device,
    pub(super) kernels: Kernels,
    pub(super) conv: Option<ConvKernels>,
    pub(super) plan: &'a Plan,
    pub(super) bufs: &'a BTreeMap<Buf, wgpu::Buffer>,
    pub(super) perm: &'a wgpu::Buffer,
    pub(super) stats: &'a wgpu::Buffer,
    pub(super) m_max: u32,
    /// Examples per chunk (sizes the scratch buffers of split reductions).
    pub(super) chunk: u32,
    pub(super) n_partials: u32,
    pub(super) byte_scale: f32,
}

impl Builder<'_> {
    /// The buffers of one launch in binding order, resolved from its slots: the plan's named
    /// buffers, the data split the gather reads, the permutation, the stats, the op's scratch.
    fn resolve<'b>(&'b self, launch: &Launch, split: &'b SplitBufs, scratch: Option<&'b wgpu::Buffer>) -> Vec<&'b wgpu::Buffer> {
        launch
            .slots
            .iter()
            .map(|&(slot, _)| match slot {
                Slot::Buf(b) => &self.bufs[&b],
                Slot::DataFeatures => &split.features,
                Slot::DataLabels => &split.labels,
                Slot::Perm => self.perm,
                Slot::Stats => self.stats,
                Slot::Scratch => scratch.expect("ops with a scratch slot get one (Builder::scratch)"),
            })
            .collect()
    }

    /// The scratch of partial sums of the ops whose launches pass one on, sized for a chunk.
    fn scratch(&self, op: Op) -> Option<wgpu::Buffer> {
        let c = |stage: usize| &self.plan.layout.convs[stage].conv;
        match op {
            Op::ConvFilterGrad { stage } => {
                Some(storage(self.device, "filter gradient splits", conv::filter_grad_scratch(c(stage), self.chunk) * 4))
            }
            Op::ConvNorms { stage, approx: false, .. } => {
                Some(storage(self.device, "norm tiles", conv::norms_scratch(c(stage), self.chunk) * 4))
            }
            _ => None,
        }
    }

    fn dispatch(&self, op: Op, kernel: &Kernel, params: wgpu::Buffer, buffers: &[&wgpu::Buffer], grid: Grid) -> Dispatch {
        let mut all = vec![&params];
        all.extend_from_slice(buffers);
        Dispatch {
            op,
            kernel: kernel.label,
            pipeline: kernel.pipeline.clone(),
            group: kernel.bind(self.device, &all),
            bound: buffers.iter().map(|&b| b.clone()).collect(),
            grid,
            small: None,
            then: None,
        }
    }

    /// A matmul dispatch in the tile shape that fits it ([`crate::gpu::matmul::MatmulKernels::choose`]).
    fn matmul(&self, op: Op, p: MatmulParams, buffers: &[&wgpu::Buffer], fixed_rows: Option<u32>) -> Dispatch {
        let tiles = self.kernels.matmul.choose(&p, fixed_rows);
        let mut d = self.dispatch(op, &self.kernels.matmul.kernel, uniform(self.device, "matmul params", &p), buffers, tiles.grid);
        d.pipeline = tiles.pipeline;
        d.small = tiles.small;
        d
    }

    fn small(&self, op: Op, kernel: &Kernel, p: [u32; 4], buffers: &[&wgpu::Buffer], grid: Grid) -> Dispatch {
        self.dispatch(op, kernel, uniform(self.device, "kernel params", &Params4(p)), buffers, grid)
    }

    /// The per-example dot δ_i · t_i of `width` values into the inner-product row (one workgroup
    /// per example).
    fn dot(&self, op: Op, width: u32, first: bool, buffers: &[&wgpu::Buffer]) -> Dispatch {
        self.small(op, &self.kernels.inner_products, [width, first as u32, 0, 0], buffers, Grid::Examples { w: 1 })
    }

    fn conv_kernels(&self) -> &ConvKernels {
        self.conv.as_ref().expect("conv pipelines exist for models with conv ops")
    }

    /// The dispatch of one op (and the one that completes it, for ops of two launches); `split`
    /// is the data the gather reads.
    pub(super) fn build(&self, op: Op, split: &SplitBufs) -> Dispatch {
        let (k, lay, plan) = (&self.kernels, &self.plan.layout, self.plan);
        let launches = plan.bindings(op);
        let scratch = self.scratch(op);
        let bind = |i: usize| self.resolve(&launches[i], split, scratch.as_ref());
        let conv_params = |s: usize, flags: u32, row: usize| {
            let c = &lay.convs[s];
            uniform(self.device, "conv params", &ConvParams::new(&c.conv, flags, c.w_offset, c.b_offset, row as u32, self.m_max))
        };
        // Two launches: the second completes the first (a reduction, or the inner product's dot).
        let then = |mut first: Dispatch, second: Dispatch| {
            first.then = Some(Box::new(second));
            first
        };
        match op {
            Op::Gather => {
                self.dispatch(op, &k.gather_batch, split.params.clone(), &bind(0), Grid::Rows { x: lay.input_dim, wx: 64, wy: 1 })
            }
            Op::CropStandardize => {
                let p = lay.prep.expect("plan has a transform");
                let floor = self.byte_scale / (p.output.len() as f32).sqrt();
                let params = uniform(self.device, "crop params", &PrepParams::new(&p, floor));
                self.dispatch(op, &self.conv_kernels().crop_standardize, params, &bind(0), conv::crop_grid())
            }
            Op::ConvForward { stage } => {
                let c = &lay.convs[stage].conv;
                self.dispatch(op, self.conv_kernels().forward.pick(c.out_c), conv_params(stage, RELU, 0), &bind(0), conv::forward_grid(c))
            }
            Op::PoolForward { stage } => {
                let pool = lay.convs[stage].pool.expect("pooled");
                let params = uniform(self.device, "pool params", &PoolParams::new(&pool, 0));
                self.dispatch(op, &self.conv_kernels().pool_forward, params, &bind(0), conv::pool_forward_grid(&pool))
            }
            Op::PoolBackward { stage } => {
                let pool = lay.convs[stage].pool.expect("pooled");
                let params = uniform(self.device, "pool params", &PoolParams::new(&pool, MUL_RELU_DERIV));
                self.dispatch(op, &self.conv_kernels().pool_backward, params, &bind(0), conv::pool_backward_grid(&pool))
            }
            Op::ConvBackwardInput { stage } => {
                let c = &lay.convs[stage].conv;
                let flags = plan.conv_backward_target(stage).1;
                let kernel = self.conv_kernels().backward_input.pick(c.in_c);
                self.dispatch(op, kernel, conv_params(stage, flags, 0), &bind(0), conv::backward_input_grid(c))
            }
            Op::ConvFilterGrad { stage } => {
                let (c, ck) = (&lay.convs[stage].conv, self.conv_kernels());
                let (partial, sum) = conv::filter_grad_grids(c);
                then(
                    self.dispatch(op, ck.filter_grad.pick(c.out_c), conv_params(stage, 0, 0), &bind(0), partial),
                    self.dispatch(op, &ck.grad_reduce, conv_params(stage, 0, 0), &bind(1), sum),
                )
            }
            Op::ConvNorms { stage, approx: true, row } => {
                let ck = self.conv_kernels();
                self.dispatch(op, &ck.norms_approx, conv_params(stage, APPROX, row), &bind(0), conv::norms_approx_grid())
            }
            Op::ConvNorms { stage, approx: false, row } => {
                let (c, ck) = (&lay.convs[stage].conv, self.conv_kernels());
                let (tiles, sum) = conv::norms_grids(c);
                then(
                    self.dispatch(op, ck.norms.pick(c.out_c), conv_params(stage, 0, row), &bind(0), tiles),
                    self.dispatch(op, &ck.norms_reduce, conv_params(stage, 0, row), &bind(1), sum),
                )
            }
            Op::DenseForward { layer } => {
                self.matmul(op, MatmulParams::forward(&lay.layers[layer], plan.forward_flags(layer)), &bind(0), None)
            }
            Op::SoftmaxXent => self.small(op, &k.softmax_xent, [lay.classes(), 0, 0, 0], &bind(0), Grid::Examples { w: 64 }),
            Op::DenseBackward { layer } => {
                self.matmul(op, MatmulParams::backward(&lay.layers[layer], plan.backward_target(layer).1), &bind(0), None)
            }
            Op::WeightGrad { layer } => {
                let d = lay.layers[layer];
                self.matmul(op, MatmulParams::weight_grad(&d), &bind(0), Some(d.d_out))
            }
            Op::BiasGrad { layer } => {
                let d = lay.layers[layer];
                self.small(op, &k.bias_grad, [d.d_out, d.b_offset, 0, 0], &bind(0), Grid::Fixed { x: d.d_out, wx: 64, y: 1, wy: 1 })
            }
            Op::DenseNorms { layer, row } => {
                let d = lay.layers[layer];
                self.small(op, &k.per_example_norms, [d.d_in, d.d_out, row as u32, self.m_max], &bind(0), Grid::Examples { w: 64 })
            }
            Op::SgdUpdate => self.small(
                op,
                &k.sgd_update,
                [lay.param_count, self.n_partials, 0, 0],
                &bind(0),
                Grid::Fixed { x: self.n_partials, wx: crate::reference::WORKGROUP as u32, y: 1, wy: 1 },
            ),
            Op::DenseInner { layer, first } => {
                // t = Ḡ·a + ḡ_b: the layer's forward product with the gradient as weights, over
                // the layer's output (which the pass no longer needs); then δ · t per example.
                let d = lay.layers[layer];
                then(self.matmul(op, MatmulParams::inner(&d), &bind(0), None), self.dot(op, d.d_out, first, &bind(1)))
            }
            Op::ConvInner { stage, first } => {
                let c = &lay.convs[stage].conv;
                let t =
                    self.dispatch(op, self.conv_kernels().forward.pick(c.out_c), conv_params(stage, 0, 0), &bind(0), conv::forward_grid(c));
                then(t, self.dot(op, c.out_len() as u32, first, &bind(1)))
            }
            Op::InnerVar => self.small(op, &k.inner_product_var, [0; 4], &bind(0), Grid::Fixed { x: 1, wx: 1, y: 1, wy: 1 }),
            Op::ReduceStats => self.small(
                op,
                &k.reduce_stats,
                [lay.n_tensors() as u32, self.m_max, self.n_partials, 0],
                &bind(0),
                Grid::Fixed { x: 1, wx: 1, y: 1, wy: 1 },
            ),
        }
    }
}
