//! The matmul kernel family's host side (`shaders/matmul.wgsl` and `shaders/block8x8.wgsl`): its
//! parameter struct and the four products a dense layer runs ([`MatmulParams::forward`] …), its
//! tile shapes ([`MatmulShape`]), its pipelines ([`MatmulKernels`], some compiled on first use),
//! the choice of tile and grid for a product ([`MatmulKernels::choose`]) and which product each
//! op runs ([`MatmulKernels::call`]). Its bindings are `plan::bindings::MATMUL`; its CPU twin is
//! `reference::matmul` (fast: `fast::gemm`), called by the CPU engine's dense ops
//! (`engine::cpu`: `DenseForward`, `DenseBackward`, `WeightGrad`, `DenseInner`).

use super::engine::Grid;
use super::kernels::{Call, Kernel, StepShape};
use crate::model::epilogue::{ACCUMULATE, ADD_BIAS, SCALE_INV_M};
use crate::model::DenseLayer;
use crate::plan::bindings::MATMUL;
use crate::plan::Op;
use bytemuck::{Pod, Zeroable};
use std::cell::OnceCell;

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

impl MatmulParams {
    /// A dense layer's forward product `a · Wᵀ + b` with the epilogue `flags` (over the batch).
    pub fn forward(d: &DenseLayer, flags: u32) -> MatmulParams {
        let (n, k) = (d.d_out, d.d_in);
        MatmulParams { n, k, batch_dim: 1, flags, trans_b: 1, b_off: d.w_offset, bias_off: d.b_offset, ..Default::default() }
    }

    /// The error at a dense layer's input `δ · W`, times the derivative `flags` name.
    pub fn backward(d: &DenseLayer, flags: u32) -> MatmulParams {
        MatmulParams { n: d.d_in, k: d.d_out, batch_dim: 1, flags, b_off: d.w_offset, ..Default::default() }
    }

    /// A dense layer's weight gradient `δᵀ · a / m`, added to the earlier chunks'.
    pub fn weight_grad(d: &DenseLayer) -> MatmulParams {
        let flags = SCALE_INV_M | ACCUMULATE;
        MatmulParams { m: d.d_out, n: d.d_in, batch_dim: 2, flags, trans_a: 1, out_off: d.w_offset, ..Default::default() }
    }

    /// The inner products' `Ḡ · a + ḡ_b`: the forward product with the gradient as weights.
    pub fn inner(d: &DenseLayer) -> MatmulParams {
        MatmulParams::forward(d, ADD_BIAS)
    }
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
            wgsl!("matmul.wgsl"),
            wgsl!("block8x8.wgsl")
        )
    }
}

/// Reductions up to this deep are one 16-deep slice.
const SLICE_ROWS: u32 = 16;

/// The pipelines and grids of one product: the main one, and for chunks of at most `small.0`
/// rows another with the same bindings.
pub struct MatmulTiles {
    pub pipeline: wgpu::ComputePipeline,
    pub grid: Grid,
    pub small: Option<(u32, wgpu::ComputePipeline, Grid)>,
}

/// Every pipeline of the matmul family.
pub struct MatmulKernels {
    /// `main` in 256×16 tiles ([`MatmulShape::NARROW`], see [`MatmulKernels::narrow`]); every
    /// other matmul pipeline shares its bindings.
    pub kernel: Kernel,
    pub tiny: wgpu::ComputePipeline,
    /// The square tile without workgroup memory (`direct` in `shaders/matmul.wgsl`): for fixed
    /// reductions of at most 16 on software adapters.
    pub direct: wgpu::ComputePipeline,
    /// The pipelines below are compiled on first use: a browser compiles every pipeline it is
    /// given, SwiftShader about 1.3 s for each staged one (headless Chromium), and a plan uses
    /// only some. `main` in 16×256 tiles: hardware GPUs' small chunks ([`MatmulKernels::strip`]).
    wide: OnceCell<wgpu::ComputePipeline>,
    /// The square tile in 8×8 blocks per thread (`blocked` in `shaders/matmul.wgsl`), one
    /// pipeline per transposition: see [`MatmulKernels::square`].
    blocked: [OnceCell<wgpu::ComputePipeline>; 4],
    /// The 16×64 tile in 8×8 blocks per thread (`blocked16`), likewise; software adapters only
    /// (see [`MatmulKernels::strip`]).
    blocked16: [OnceCell<wgpu::ComputePipeline>; 4],
    /// A software adapter (lavapipe, SwiftShader): barriers cost more there than re-reading
    /// storage, which picks `direct` for fixed reductions of at most 16, and `blocked16` strips.
    software: bool,
    device: wgpu::Device,
}

impl MatmulKernels {
    /// `software`: a software adapter, which also gets the 16-row `blocked16` pipelines.
    pub fn new(device: &wgpu::Device, step_layout: &wgpu::BindGroupLayout, software: bool) -> MatmulKernels {
        let kernel = Kernel::new(device, step_layout, MATMUL, &MatmulShape::NARROW.source());
        MatmulKernels {
            tiny: kernel.variant(device, &MatmulShape::TINY.source()),
            direct: kernel.entry(device, &MatmulShape::SQUARE.source(), "direct"),
            kernel,
            wide: OnceCell::new(),
            blocked: Default::default(),
            blocked16: Default::default(),
            software,
            device: device.clone(),
        }
    }

    /// The 64×64 pipeline for a product with these transpositions: `blocked`, whose loads know
    /// their layout at compile time.
    pub fn square(&self, p: &MatmulParams) -> &wgpu::ComputePipeline {
        self.blocked_entry(&self.blocked, "blocked", transposition(p))
    }

    /// The pipeline of 256×16 tiles, for outputs at most 16 wide.
    pub fn narrow(&self) -> &wgpu::ComputePipeline {
        &self.kernel.pipeline
    }

    /// Pipeline `i` (of [`TRANSPOSITIONS`]) of an 8×8-block entry, compiled on first use.
    fn blocked_entry<'a>(&'a self, set: &'a [OnceCell<wgpu::ComputePipeline>; 4], entry: &str, i: usize) -> &'a wgpu::ComputePipeline {
        set[i].get_or_init(|| {
            let flag = |t: bool| if t { 1.0 } else { 0.0 };
            let (a, b) = TRANSPOSITIONS[i];
            self.kernel.specialised(&self.device, &MatmulShape::SQUARE.source(), entry, &[("TRANS_A", flag(a)), ("TRANS_B", flag(b))])
        })
    }

    /// Compile every lazily built pipeline now, of both kinds of adapter (see
    /// [`super::kernels::Kernels::compile_all`]).
    pub fn compile_all(&self) {
        for i in 0..TRANSPOSITIONS.len() {
            self.blocked_entry(&self.blocked, "blocked", i);
            self.blocked_entry(&self.blocked16, "blocked16", i);
        }
        self.wide.get_or_init(|| self.kernel.variant(&self.device, &MatmulShape::WIDE.source()));
    }

    /// The pipeline and tile for a chunk of at most 16 rows: on a software adapter `blocked16`
    /// (16×64 tiles of 8×8 blocks, which software adapters run faster than the wide tile's 4×4
    /// blocks); on a hardware GPU the wide 16×256 tile, whose 256 threads fill its SIMD lanes
    /// (16-thread workgroups would leave half a 32-wide warp idle, and no hardware GPU was at
    /// hand to measure either).
    pub fn strip(&self, p: &MatmulParams) -> (&wgpu::ComputePipeline, MatmulShape) {
        if self.software {
            (self.blocked_entry(&self.blocked16, "blocked16", transposition(p)), MatmulShape::STRIP)
        } else {
            (self.wide.get_or_init(|| self.kernel.variant(&self.device, &MatmulShape::WIDE.source())), MatmulShape::WIDE)
        }
    }

    /// The tile shape that fits a product, and its grid: 256×16 tiles when the output is at most
    /// 16 wide, 16-row strips when its rows are a fixed count of at most 16 (see
    /// [`MatmulKernels::strip`]), 64×64 otherwise (in 8×8 blocks per thread, `blocked` in
    /// `shaders/matmul.wgsl`); when the rows are the batch (`fixed_rows` None), chunks of at most
    /// 16 rows take 16-row strips, or 16×16 tiles if the output is at most 16 wide.
    /// On a software adapter, a 64×64 product with a fixed reduction of at most 16 runs without
    /// workgroup memory (`direct` in `shaders/matmul.wgsl`); a hardware GPU keeps the staged
    /// tile, whose 16 FLOP per byte loaded is what it rewards (`direct` has not been measured on
    /// one). Weight gradients of chunks of at most 16 rows run in `blocked` too.
    pub fn choose(&self, p: &MatmulParams, fixed_rows: Option<u32>) -> MatmulTiles {
        let grid = |s: MatmulShape| match fixed_rows {
            Some(r) => Grid::Fixed { x: p.n, wx: s.cols(), y: r, wy: s.rows() },
            None => Grid::Rows { x: p.n, wx: s.cols(), wy: s.rows() },
        };
        let narrow = p.n <= MatmulShape::NARROW.cols();
        let few_rows = fixed_rows.is_some_and(|r| r <= MatmulShape::WIDE.rows());
        let (pipeline, shape) = match (narrow, few_rows) {
            (true, _) => (self.narrow(), MatmulShape::NARROW),
            (false, true) => self.strip(p),
            _ => (self.square(p), MatmulShape::SQUARE),
        };
        let small = fixed_rows.is_none().then(|| {
            if narrow {
                (MatmulShape::TINY.rows(), self.tiny.clone(), grid(MatmulShape::TINY))
            } else {
                let (strip, shape) = self.strip(p);
                (shape.rows(), strip.clone(), grid(shape))
            }
        });
        // A fixed reduction of at most 16 (the output layer's δ back through 10 classes): one
        // staged slice at every batch size, so no tile pays for its barriers there.
        let direct = self.software && shape == MatmulShape::SQUARE && p.batch_dim != 2 && p.k <= SLICE_ROWS;
        let pipeline = if direct { self.direct.clone() } else { pipeline.clone() };
        MatmulTiles { pipeline, grid: grid(shape), small }
    }
}

impl MatmulKernels {
    /// The product `op` runs (its parameters, tile and grid): a dense layer's forward product,
    /// its backward δ, its weight gradient (whose rows are a fixed count, the layer's width), or
    /// the inner products' Ḡ·a + ḡ_b (`Op::DenseInner`'s first launch).
    pub fn call(&self, op: Op, shape: &StepShape) -> Call<'_> {
        let (plan, lay) = (shape.plan, &shape.plan.layout);
        let (p, fixed_rows) = match op {
            Op::DenseForward { layer } => (MatmulParams::forward(&lay.layers[layer], plan.forward_flags(layer)), None),
            Op::DenseBackward { layer } => (MatmulParams::backward(&lay.layers[layer], plan.backward_target(layer).1), None),
            Op::WeightGrad { layer } => (MatmulParams::weight_grad(&lay.layers[layer]), Some(lay.layers[layer].d_out)),
            Op::DenseInner { layer, .. } => (MatmulParams::inner(&lay.layers[layer]), None),
            other => unreachable!("{other:?} launches no matmul (Plan::bindings)"),
        };
        let tiles = self.choose(&p, fixed_rows);
        Call { pipeline: Some(tiles.pipeline), small: tiles.small, ..Call::new(&self.kernel, &p, tiles.grid) }
    }
}
