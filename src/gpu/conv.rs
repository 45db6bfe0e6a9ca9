//! The convolution family's host side: convolutions, max-pooling and the image input transform
//! (`shaders/conv2d_*.wgsl`, `shaders/max_pool_*.wgsl`, `shaders/crop_standardize.wgsl`). Here:
//! their parameter structs ([`ConvParams`], [`PoolParams`], [`PrepParams`]), their pipelines
//! ([`ConvKernels`], built only for convolutional models), their workgroup grids (`*_grid`, also
//! used by the kernel tests in `tests/engine/gpu_conv.rs`), the scratch their split reductions
//! need ([`scratch`]) and, per op, which pipeline, parameters and grid each launch takes
//! ([`ConvKernels::call`]). Their bindings are the signatures of the same names in
//! `plan::bindings`; their CPU twins are `reference::conv2d`, `reference::max_pool` and
//! `reference::crop_standardize` (fast: `fast::conv`), called by the CPU engine's conv, pool and
//! transform ops (`engine::cpu`).
//!
//! The forward pass, the input gradient, the filter gradient and the exact per-example norms
//! are implicit GEMMs sharing one tiled product (`shaders/conv_gemm.wgsl`, the matmul's 64×64
//! register blocking, or 32×64 for products of at most 32 rows: [`Tiled`]). The filter gradient
//! and the norms write partial sums to a scratch buffer that a second, small kernel reduces in
//! a fixed order ([`filter_grad_scratch`], [`norms_scratch`] size it).

use super::engine::Grid;
use super::kernels::{Call, Kernel, StepShape};
use crate::model::epilogue::{APPROX, MUL_RELU_DERIV, RELU};
use crate::model::shapes::{Conv2dSpec, PoolSpec};
use crate::model::ConvLayer;
use crate::plan::bindings::{self as sig, Signature};
use crate::plan::{Op, Plan};
use bytemuck::{Pod, Zeroable};

/// Rows (example, position) of the filter gradient's reduction per split (`SPLIT_K` in
/// `shaders/conv_params.wgsl`): bounds each thread's loop at 4096 / 16 = 256 slices.
pub const SPLIT_K: u32 = crate::plan::GPU_SPLIT_K;
/// Side of the square output tile of the implicit GEMMs (`shaders/conv_gemm.wgsl`); grids are
/// sized by it whichever variant runs (see [`Tiled`]).
pub const TILE: u32 = 64;
/// Rows of the narrow variant's output tile (32 × 64).
pub const NARROW_ROWS: u32 = 32;

/// One implicit-GEMM kernel in two tile shapes with the same bindings: 64 × 64, and 32 × 64 for
/// products of at most 32 rows (filters, or input channels for the input gradient), where the
/// square tile would leave half its threads multiplying rows that do not exist (cnn-mnist's
/// conv 0 with 32 filters, conv 1's input gradient with 32 channels). Such a product has one row
/// tile in either shape, so grids and scratch sizes do not depend on the choice.
pub struct Tiled {
    pub square: Kernel,
    pub narrow: Kernel,
}

impl Tiled {
    /// The variant for a product of `rows` rows.
    pub fn pick(&self, rows: usize) -> &Kernel {
        if rows as u32 <= NARROW_ROWS {
            &self.narrow
        } else {
            &self.square
        }
    }
}

/// The kernels of this family (what [`ConvKernels::call`] answers for).
pub const SIGNATURES: [Signature; 10] = [
    sig::CROP_STANDARDIZE,
    sig::CONV2D_FORWARD,
    sig::CONV2D_BACKWARD_INPUT,
    sig::CONV2D_FILTER_GRAD,
    sig::CONV2D_GRAD_REDUCE,
    sig::CONV2D_NORMS,
    sig::CONV2D_NORMS_REDUCE,
    sig::CONV2D_NORMS_APPROX,
    sig::MAX_POOL_FORWARD,
    sig::MAX_POOL_BACKWARD,
];

/// Whether a kernel belongs to this family.
pub fn owns(signature: Signature) -> bool {
    SIGNATURES.iter().any(|s| s.kernel == signature.kernel)
}

/// The scratch of partial sums an op's two launches pass on, for chunks of up to `chunk`
/// examples: its label and its f32s. Only the filter gradient and the exact norms have one.
pub fn scratch(plan: &Plan, op: Op, chunk: u32) -> Option<(&'static str, u64)> {
    let c = |stage: usize| &plan.layout.convs[stage].conv;
    match op {
        Op::ConvFilterGrad { stage } => Some(("filter gradient splits", filter_grad_scratch(c(stage), chunk))),
        Op::ConvNorms { stage, approx: false, .. } => Some(("norm tiles", norms_scratch(c(stage), chunk))),
        _ => None,
    }
}

/// Splits of the filter gradient of a chunk of `m` examples.
pub fn filter_grad_splits(s: &Conv2dSpec, m: u32) -> u32 {
    (m * s.positions() as u32).div_ceil(SPLIT_K).max(1)
}

/// Workgroup grid of `conv2d_filter_grad` (x: column tiles; y: row tiles per split).
pub fn filter_grad_tiles(s: &Conv2dSpec) -> (u32, u32) {
    (((s.filter_len() / s.out_c + 1) as u32).div_ceil(TILE), (s.out_c as u32).div_ceil(TILE))
}

/// f32s of `conv2d_filter_grad`'s partial sums for chunks of up to `chunk` examples.
pub fn filter_grad_scratch(s: &Conv2dSpec, chunk: u32) -> u64 {
    filter_grad_splits(s, chunk) as u64 * (s.filter_len() + s.out_c) as u64
}

/// f32s of `conv2d_norms`' per-tile sums for chunks of up to `chunk` examples.
pub fn norms_scratch(s: &Conv2dSpec, chunk: u32) -> u64 {
    let (x, y) = filter_grad_tiles(s);
    2 * chunk as u64 * (x * y) as u64
}

/// `crop_standardize`: one workgroup per example.
pub fn crop_grid() -> Grid {
    Grid::Examples { w: 1 }
}

/// `conv2d_forward` (and the inner products' conv): output tiles over (examples × positions,
/// filters).
pub fn forward_grid(s: &Conv2dSpec) -> Grid {
    Grid::ExampleCols { per_row: s.positions() as u32, w: TILE, y: (s.out_c as u32).div_ceil(TILE) }
}

/// `conv2d_backward_input`: tiles over (examples × input pixels, input channels).
pub fn backward_input_grid(s: &Conv2dSpec) -> Grid {
    Grid::ExampleCols { per_row: (s.in_h * s.in_w) as u32, w: TILE, y: (s.in_c as u32).div_ceil(TILE) }
}

/// `conv2d_filter_grad` (tiles per split of examples × positions), then `conv2d_grad_reduce`
/// (one thread per filter value and bias).
pub fn filter_grad_grids(s: &Conv2dSpec) -> (Grid, Grid) {
    let (x, y) = filter_grad_tiles(s);
    (
        Grid::ExampleSplits { x, y, per_row: s.positions() as u32, w: SPLIT_K },
        Grid::Fixed { x: (s.filter_len() + s.out_c) as u32, wx: 64, y: 1, wy: 1 },
    )
}

/// `conv2d_norms` (the filter gradient's tiles, per example), then `conv2d_norms_reduce` (one
/// thread per example).
pub fn norms_grids(s: &Conv2dSpec) -> (Grid, Grid) {
    let (x, y) = filter_grad_tiles(s);
    (Grid::ExampleSplits { x, y, per_row: 1, w: 1 }, Grid::Examples { w: 64 })
}

/// `conv2d_norms_approx`: one workgroup per example.
pub fn norms_approx_grid() -> Grid {
    Grid::Examples { w: 1 }
}

/// `max_pool_forward`: one thread per output value of each example.
pub fn pool_forward_grid(p: &PoolSpec) -> Grid {
    Grid::Rows { x: p.out_len() as u32, wx: 64, wy: 1 }
}

/// `max_pool_backward`: one thread per input value of each example.
pub fn pool_backward_grid(p: &PoolSpec) -> Grid {
    Grid::Rows { x: p.in_len() as u32, wx: 64, wy: 1 }
}

/// Mirror of `struct Conv` in `shaders/conv_params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ConvParams {
    pub in_c: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub out_c: u32,
    pub k_h: u32,
    pub k_w: u32,
    pub stride: u32,
    pub pad_top: u32,
    pub pad_left: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub flags: u32,
    pub w_off: u32,
    pub b_off: u32,
    /// First of the two per-example norm rows this layer writes.
    pub w_row: u32,
    pub m_max: u32,
}

impl ConvParams {
    /// The parameters of a stage of the model (its filters' place in the flat parameters).
    pub fn stage(c: &ConvLayer, flags: u32, w_row: usize, m_max: u32) -> ConvParams {
        ConvParams::new(&c.conv, flags, c.w_offset, c.b_offset, w_row as u32, m_max)
    }

    pub fn new(s: &Conv2dSpec, flags: u32, w_off: u32, b_off: u32, w_row: u32, m_max: u32) -> ConvParams {
        let (oh, ow, pt, pl) = s.output();
        let u = |v: usize| v as u32;
        ConvParams {
            in_c: u(s.in_c),
            in_h: u(s.in_h),
            in_w: u(s.in_w),
            out_c: u(s.out_c),
            k_h: u(s.k_h),
            k_w: u(s.k_w),
            stride: u(s.stride),
            pad_top: u(pt),
            pad_left: u(pl),
            out_h: u(oh),
            out_w: u(ow),
            flags,
            w_off,
            b_off,
            w_row,
            m_max,
        }
    }
}

/// Mirror of `struct Pool` in `shaders/conv_params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PoolParams {
    pub c: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub window: u32,
    pub stride: u32,
    pub pad_top: u32,
    pub pad_left: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub flags: u32,
    pub _pad: [u32; 2],
}

impl PoolParams {
    pub fn new(s: &PoolSpec, flags: u32) -> PoolParams {
        let (oh, ow, pt, pl) = s.output();
        let u = |v: usize| v as u32;
        PoolParams {
            c: u(s.c),
            in_h: u(s.in_h),
            in_w: u(s.in_w),
            window: u(s.window),
            stride: u(s.stride),
            pad_top: u(pt),
            pad_left: u(pl),
            out_h: u(oh),
            out_w: u(ow),
            flags,
            _pad: [0; 2],
        }
    }
}

/// Mirror of `struct Prep` in `shaders/crop_standardize.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PrepParams {
    pub in_c: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub top: u32,
    pub left: u32,
    pub standardize: u32,
    pub floor: f32,
    pub _pad: [u32; 3],
}

impl PrepParams {
    pub fn new(p: &crate::model::Prep, floor: f32) -> PrepParams {
        let (top, left) = p.offset();
        PrepParams {
            in_c: p.input.c,
            in_h: p.input.h,
            in_w: p.input.w,
            out_h: p.output.h,
            out_w: p.output.w,
            top,
            left,
            standardize: p.standardize as u32,
            floor,
            _pad: [0; 3],
        }
    }
}

/// The family's pipelines.
pub struct ConvKernels {
    pub crop_standardize: Kernel,
    pub forward: Tiled,
    pub backward_input: Tiled,
    pub filter_grad: Tiled,
    pub grad_reduce: Kernel,
    pub norms: Tiled,
    pub norms_reduce: Kernel,
    pub norms_approx: Kernel,
    pub pool_forward: Kernel,
    pub pool_backward: Kernel,
}

impl ConvKernels {
    pub fn new(device: &wgpu::Device, step_layout: &wgpu::BindGroupLayout) -> ConvKernels {
        let prelude = wgsl!("conv_params.wgsl");
        let k = |signature, body: &str| Kernel::new(device, step_layout, signature, &format!("{prelude}\n{body}"));
        let gemm = wgsl!("conv_gemm.wgsl");
        let block = wgsl!("block8x8.wgsl");
        // The filter gradient and the exact norms multiply the same operands (one definition).
        let operands = wgsl!("conv_filter_operands.wgsl");
        let shape = |signature, rows: u32, body: &str| {
            let consts = format!("const TILE_M: u32 = {rows}u;\nconst BLOCK_M: u32 = {}u;", rows / 8);
            k(signature, &format!("{consts}\n{body}\n{gemm}\n{block}"))
        };
        let tiled =
            |signature: Signature, body: &str| Tiled { square: shape(signature, TILE, body), narrow: shape(signature, NARROW_ROWS, body) };
        ConvKernels {
            crop_standardize: Kernel::new(device, step_layout, sig::CROP_STANDARDIZE, wgsl!("crop_standardize.wgsl")),
            forward: tiled(sig::CONV2D_FORWARD, wgsl!("conv2d_forward.wgsl")),
            backward_input: tiled(sig::CONV2D_BACKWARD_INPUT, wgsl!("conv2d_backward_input.wgsl")),
            filter_grad: tiled(sig::CONV2D_FILTER_GRAD, &format!("{operands}\n{}", wgsl!("conv2d_filter_grad.wgsl"))),
            grad_reduce: k(sig::CONV2D_GRAD_REDUCE, wgsl!("conv2d_grad_reduce.wgsl")),
            norms: tiled(sig::CONV2D_NORMS, &format!("{operands}\n{}", wgsl!("conv2d_norms.wgsl"))),
            norms_reduce: k(sig::CONV2D_NORMS_REDUCE, wgsl!("conv2d_norms_reduce.wgsl")),
            norms_approx: k(sig::CONV2D_NORMS_APPROX, wgsl!("conv2d_norms_approx.wgsl")),
            pool_forward: k(sig::MAX_POOL_FORWARD, wgsl!("max_pool_forward.wgsl")),
            pool_backward: k(sig::MAX_POOL_BACKWARD, wgsl!("max_pool_backward.wgsl")),
        }
    }
}

impl ConvKernels {
    /// The pipeline (tile variant by the product's rows), parameters and grid of `op`'s launch
    /// of the kernel `signature` names (one of [`SIGNATURES`]: the op's
    /// [`crate::plan::Plan::bindings`] say which).
    pub fn call(&self, op: Op, signature: Signature, shape: &StepShape) -> Call<'_> {
        let (plan, lay) = (shape.plan, &shape.plan.layout);
        let conv = |stage: usize, flags: u32, row: usize| ConvParams::stage(&lay.convs[stage], flags, row, shape.m_max);
        let pool = |stage: usize| lay.convs[stage].pool.expect("the plan pools only pooled stages");
        match (signature.kernel, op) {
            ("crop_standardize", _) => {
                let p = lay.prep.expect("the plan transforms the input only with a transform");
                // The standardisation's floor on the standard deviation: one stored unit over √n.
                let floor = shape.byte_scale / (p.output.len() as f32).sqrt();
                Call::new(&self.crop_standardize, &PrepParams::new(&p, floor), crop_grid())
            }
            ("conv2d_forward", Op::ConvForward { stage }) => {
                let c = &lay.convs[stage].conv;
                Call::new(self.forward.pick(c.out_c), &conv(stage, RELU, 0), forward_grid(c))
            }
            // The inner products' conv(x_i, Ḡ) + ḡ_b: the forward product, no ReLU.
            ("conv2d_forward", Op::ConvInner { stage, .. }) => {
                let c = &lay.convs[stage].conv;
                Call::new(self.forward.pick(c.out_c), &conv(stage, 0, 0), forward_grid(c))
            }
            ("max_pool_forward", Op::PoolForward { stage }) => {
                let p = pool(stage);
                Call::new(&self.pool_forward, &PoolParams::new(&p, 0), pool_forward_grid(&p))
            }
            ("max_pool_backward", Op::PoolBackward { stage }) => {
                let p = pool(stage);
                Call::new(&self.pool_backward, &PoolParams::new(&p, MUL_RELU_DERIV), pool_backward_grid(&p))
            }
            ("conv2d_backward_input", Op::ConvBackwardInput { stage }) => {
                let c = &lay.convs[stage].conv;
                let flags = plan.conv_backward_target(stage).1;
                Call::new(self.backward_input.pick(c.in_c), &conv(stage, flags, 0), backward_input_grid(c))
            }
            ("conv2d_filter_grad", Op::ConvFilterGrad { stage }) => {
                let c = &lay.convs[stage].conv;
                Call::new(self.filter_grad.pick(c.out_c), &conv(stage, 0, 0), filter_grad_grids(c).0)
            }
            ("conv2d_grad_reduce", Op::ConvFilterGrad { stage }) => {
                Call::new(&self.grad_reduce, &conv(stage, 0, 0), filter_grad_grids(&lay.convs[stage].conv).1)
            }
            ("conv2d_norms_approx", Op::ConvNorms { stage, row, .. }) => {
                Call::new(&self.norms_approx, &conv(stage, APPROX, row), norms_approx_grid())
            }
            ("conv2d_norms", Op::ConvNorms { stage, row, .. }) => {
                let c = &lay.convs[stage].conv;
                Call::new(self.norms.pick(c.out_c), &conv(stage, 0, row), norms_grids(c).0)
            }
            ("conv2d_norms_reduce", Op::ConvNorms { stage, row, .. }) => {
                Call::new(&self.norms_reduce, &conv(stage, 0, row), norms_grids(&lay.convs[stage].conv).1)
            }
            (kernel, op) => unreachable!("{op:?} launches no {kernel} of the conv family (Plan::bindings)"),
        }
    }
}
