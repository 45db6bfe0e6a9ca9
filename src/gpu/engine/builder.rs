//! Turns each op of the step [`Plan`] into a [`Dispatch`]: its kernel (and tile variant chosen
//! by shape), its parameter uniform, its bind group and its grid. Run once when the engine is
//! made; nothing here runs per step.

use super::super::conv::{self, ConvKernels, ConvParams, PoolParams, PrepParams, APPROX, MUL_RELU_DERIV, RELU, SPLIT_K, TILE};
use super::super::kernels::{Kernel, Kernels, MatmulParams, MatmulShape, Params4};
use super::dispatch::{storage, uniform, Dispatch, Grid};
use super::stream::SplitBufs;
use crate::plan::{Buf, Op, Plan};
use crate::reference::matmul::{ACCUMULATE, ADD_BIAS, SCALE_INV_M};
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
    /// A software adapter (lavapipe, SwiftShader): barriers cost more there than re-reading
    /// storage, which picks `direct` for reductions of at most 16.
    pub(super) software: bool,
}

/// Reductions up to this deep are one 16-deep slice.
const SLICE_ROWS: u32 = 16;

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
    /// 16 wide, 16-row strips when its rows are a fixed count of at most 16 (see
    /// [`Kernels::matmul_strip`]), 64×64 otherwise (in 8×8 blocks per thread, `blocked` in
    /// `shaders/matmul.wgsl`); when the rows are the batch (`fixed_rows` None), chunks of at most
    /// 16 rows take 16-row strips, or 16×16 tiles if the output is at most 16 wide.
    /// On a software adapter, a 64×64 product with a fixed reduction of at most 16 runs without
    /// workgroup memory (`direct` in `shaders/matmul.wgsl`); a hardware GPU keeps the staged
    /// tile, whose 16 FLOP per byte loaded is what it rewards (`direct` has not been measured on
    /// one). Weight gradients of chunks of at most 16 rows run in `blocked` too.
    fn matmul(&self, op: Op, p: MatmulParams, buffers: &[&wgpu::Buffer], fixed_rows: Option<u32>) -> Dispatch {
        let k = &self.kernels;
        let grid = |s: MatmulShape| match fixed_rows {
            Some(r) => Grid::Fixed { x: p.n, wx: s.cols(), y: r, wy: s.rows() },
            None => Grid::Rows { x: p.n, wx: s.cols(), wy: s.rows() },
        };
        let narrow = p.n <= MatmulShape::NARROW.cols();
        let few_rows = fixed_rows.is_some_and(|r| r <= MatmulShape::WIDE.rows());
        let (pipeline, shape) = match (narrow, few_rows) {
            (true, _) => (k.matmul_narrow(), MatmulShape::NARROW),
            (false, true) => k.matmul_strip(&p),
            _ => (k.matmul_square(&p), MatmulShape::SQUARE),
        };
        let params = uniform(self.device, "matmul params", &p);
        let mut d = self.dispatch(op, &k.matmul, params, buffers, grid(shape));
        d.pipeline = pipeline.clone();
        if fixed_rows.is_none() {
            d.small = Some(if narrow {
                (MatmulShape::TINY.rows(), k.matmul_tiny.clone(), grid(MatmulShape::TINY))
            } else {
                let (strip, shape) = k.matmul_strip(&p);
                (shape.rows(), strip.clone(), grid(shape))
            });
        }
        if self.software && shape == MatmulShape::SQUARE && p.batch_dim != 2 && p.k <= SLICE_ROWS {
            // A fixed reduction of at most 16 (the output layer's δ back through 10 classes):
            // one staged slice at every batch size, so no tile pays for its barriers there.
            d.pipeline = k.matmul_direct.clone();
        }
        d
    }

    fn small(&self, op: Op, kernel: &Kernel, p: [u32; 4], buffers: &[&wgpu::Buffer], grid: Grid) -> Dispatch {
        self.dispatch(op, kernel, uniform(self.device, "kernel params", &Params4(p)), buffers, grid)
    }

    /// The per-example dot δ_i · t_i of `width` values into the inner-product row (one workgroup
    /// per example).
    fn dot(&self, op: Op, width: u32, first: bool, delta: Buf, t: Buf) -> Dispatch {
        let bufs = [self.buf(delta), self.buf(t), self.buf(Buf::Inner)];
        self.small(op, &self.kernels.inner_products, [width, first as u32, 0, 0], &bufs, Grid::Examples { w: 1 })
    }

    fn conv_kernels(&self) -> &ConvKernels {
        self.conv.as_ref().expect("conv pipelines exist for models with conv ops")
    }

    /// The dispatch of one op; `split` is the data the gather reads.
    pub(super) fn build(&self, op: Op, split: &SplitBufs) -> Dispatch {
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
                self.conv_kernels().forward.pick(lay.convs[stage].conv.out_c),
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
                    self.conv_kernels().backward_input.pick(lay.convs[stage].conv.in_c),
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
                    ck.filter_grad.pick(c.out_c),
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
                    ck.norms.pick(c.out_c),
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
            Op::DenseInner { layer, first } => {
                // t = Ḡ·a + ḡ_b: the layer's forward product with the gradient as weights, over
                // the layer's output (which the pass no longer needs); then δ · t per example.
                let d = lay.layers[layer];
                let p = MatmulParams {
                    n: d.d_out,
                    k: d.d_in,
                    batch_dim: 1,
                    flags: ADD_BIAS,
                    trans_b: 1,
                    b_off: d.w_offset,
                    bias_off: d.b_offset,
                    ..Default::default()
                };
                let input = b(plan.layer_input(layer));
                let mut t = self.matmul(op, p, &[input, b(Buf::Grads), input, b(Buf::Act(layer))], None);
                t.then = Some(Box::new(self.dot(op, d.d_out, first, Buf::Delta(layer), Buf::Act(layer))));
                t
            }
            Op::ConvInner { stage, first } => {
                let c = &lay.convs[stage].conv;
                let mut t = self.dispatch(
                    op,
                    self.conv_kernels().forward.pick(c.out_c),
                    conv_params(stage, 0, 0),
                    &[b(plan.stage_input(stage)), b(Buf::Grads), b(Buf::ConvOut(stage))],
                    Grid::ExampleCols { per_row: c.positions() as u32, w: TILE, y: (c.out_c as u32).div_ceil(TILE) },
                );
                t.then = Some(Box::new(self.dot(op, c.out_len() as u32, first, Buf::DConv(stage), Buf::ConvOut(stage))));
                t
            }
            Op::InnerVar => {
                self.small(op, &k.inner_product_var, [0; 4], &[b(Buf::Inner), b(Buf::InnerStats)], Grid::Fixed { x: 1, wx: 1, y: 1, wy: 1 })
            }
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
