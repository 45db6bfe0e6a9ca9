//! Convolution, max-pooling and the image input transform on the GPU: one pipeline per kernel
//! (`shaders/conv2d_*.wgsl`, `shaders/max_pool_*.wgsl`, `shaders/crop_standardize.wgsl`), their
//! parameter structs, and their workgroup grids (`*_grid`, which the engine's builder uses and
//! the kernel tests in `tests/engine/gpu_conv.rs` use too). Their bindings are the plan's
//! (`plan::bindings`). The training engine (`gpu::engine`) builds these pipelines only for
//! convolutional models.
//!
//! The forward pass, the input gradient, the filter gradient and the exact per-example norms
//! are implicit GEMMs sharing one tiled product (`shaders/conv_gemm.wgsl`, the matmul's 64×64
//! register blocking, or 32×64 for products of at most 32 rows: [`Tiled`]). The filter gradient and the norms write partial sums to a scratch
//! buffer that a second, small kernel reduces in a fixed order ([`filter_grad_scratch`],
//! [`norms_scratch`] size it).

use super::engine::Grid;
use super::kernels::Kernel;
use crate::model::shapes::{Conv2dSpec, PoolSpec};
use crate::plan::bindings::{self as sig, Signature};
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
        let prelude = include_str!("../../shaders/conv_params.wgsl");
        let k = |signature, body: &str| Kernel::new(device, step_layout, signature, &format!("{prelude}\n{body}"));
        let gemm = include_str!("../../shaders/conv_gemm.wgsl");
        let block = include_str!("../../shaders/block8x8.wgsl");
        // The filter gradient and the exact norms multiply the same operands (one definition).
        let operands = include_str!("../../shaders/conv_filter_operands.wgsl");
        let shape = |signature, rows: u32, body: &str| {
            let consts = format!("const TILE_M: u32 = {rows}u;\nconst BLOCK_M: u32 = {}u;", rows / 8);
            k(signature, &format!("{consts}\n{body}\n{gemm}\n{block}"))
        };
        let tiled =
            |signature: Signature, body: &str| Tiled { square: shape(signature, TILE, body), narrow: shape(signature, NARROW_ROWS, body) };
        ConvKernels {
            crop_standardize: Kernel::new(device, step_layout, sig::CROP_STANDARDIZE, include_str!("../../shaders/crop_standardize.wgsl")),
            forward: tiled(sig::CONV2D_FORWARD, include_str!("../../shaders/conv2d_forward.wgsl")),
            backward_input: tiled(sig::CONV2D_BACKWARD_INPUT, include_str!("../../shaders/conv2d_backward_input.wgsl")),
            filter_grad: tiled(sig::CONV2D_FILTER_GRAD, &format!("{operands}\n{}", include_str!("../../shaders/conv2d_filter_grad.wgsl"))),
            grad_reduce: k(sig::CONV2D_GRAD_REDUCE, include_str!("../../shaders/conv2d_grad_reduce.wgsl")),
            norms: tiled(sig::CONV2D_NORMS, &format!("{operands}\n{}", include_str!("../../shaders/conv2d_norms.wgsl"))),
            norms_reduce: k(sig::CONV2D_NORMS_REDUCE, include_str!("../../shaders/conv2d_norms_reduce.wgsl")),
            norms_approx: k(sig::CONV2D_NORMS_APPROX, include_str!("../../shaders/conv2d_norms_approx.wgsl")),
            pool_forward: k(sig::MAX_POOL_FORWARD, include_str!("../../shaders/max_pool_forward.wgsl")),
            pool_backward: k(sig::MAX_POOL_BACKWARD, include_str!("../../shaders/max_pool_backward.wgsl")),
        }
    }
}
