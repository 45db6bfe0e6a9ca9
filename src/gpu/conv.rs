//! Convolution, max-pooling and the image input transform on the GPU: one pipeline per kernel
//! (`shaders/conv2d_*.wgsl`, `shaders/max_pool_*.wgsl`, `shaders/crop_standardize.wgsl`), their
//! parameter structs, and [`run_conv`] / [`run_pool`], a small harness that runs single layers
//! on given inputs for the kernel-level tests against `reference::{conv2d, max_pool}`. The
//! training engine (`gpu::engine`) builds these pipelines only for convolutional models.
//!
//! The forward pass, the input gradient, the filter gradient and the exact per-example norms
//! are implicit GEMMs sharing one tiled product (`shaders/conv_gemm.wgsl`, the matmul's 64×64
//! register blocking, or 32×64 for products of at most 32 rows: [`Tiled`]). The filter gradient and the norms write partial sums to a scratch
//! buffer that a second, small kernel reduces in a fixed order ([`filter_grad_scratch`],
//! [`norms_scratch`] size it).

use super::context::{GpuContext, Requirements};
use super::kernels::{step_layout, Kernel, Slot, StepUniform};
use crate::error::Result;
use crate::reference::conv2d::Conv2dSpec;
use crate::reference::max_pool::PoolSpec;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Flag bits shared with the shaders (`shaders/conv_params.wgsl`): the matmul kernels' bits.
pub use crate::reference::matmul::{MUL_RELU_DERIV, RELU};
/// `conv2d_norms`: the reference code's approximation instead of the exact norms.
pub const APPROX: u32 = 1;
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
        use Slot::*;
        let prelude = include_str!("../../shaders/conv_params.wgsl");
        let k = |label, body: &str, slots: &[Slot]| Kernel::new(device, step_layout, label, &format!("{prelude}\n{body}"), slots);
        let gemm = include_str!("../../shaders/conv_gemm.wgsl");
        let block = include_str!("../../shaders/block8x8.wgsl");
        // The filter gradient and the exact norms multiply the same operands (one definition).
        let operands = include_str!("../../shaders/conv_filter_operands.wgsl");
        let shape = |label, rows: u32, body: &str, slots: &[Slot]| {
            let consts = format!("const TILE_M: u32 = {rows}u;\nconst BLOCK_M: u32 = {}u;", rows / 8);
            k(label, &format!("{consts}\n{body}\n{gemm}\n{block}"), slots)
        };
        let tiled = |label, body: &str, slots: &[Slot]| Tiled {
            square: shape(label, TILE, body, slots),
            narrow: shape(label, NARROW_ROWS, body, slots),
        };
        ConvKernels {
            crop_standardize: Kernel::new(
                device,
                step_layout,
                "crop_standardize",
                include_str!("../../shaders/crop_standardize.wgsl"),
                &[Uniform, Read, Write],
            ),
            forward: tiled("conv2d_forward", include_str!("../../shaders/conv2d_forward.wgsl"), &[Uniform, Read, Read, Write]),
            backward_input: tiled(
                "conv2d_backward_input",
                include_str!("../../shaders/conv2d_backward_input.wgsl"),
                &[Uniform, Read, Read, Read, Write],
            ),
            filter_grad: tiled(
                "conv2d_filter_grad",
                &format!("{operands}\n{}", include_str!("../../shaders/conv2d_filter_grad.wgsl")),
                &[Uniform, Read, Read, Write],
            ),
            grad_reduce: k("conv2d_grad_reduce", include_str!("../../shaders/conv2d_grad_reduce.wgsl"), &[Uniform, Read, Write]),
            norms: tiled(
                "conv2d_norms",
                &format!("{operands}\n{}", include_str!("../../shaders/conv2d_norms.wgsl")),
                &[Uniform, Read, Read, Write],
            ),
            norms_reduce: k("conv2d_norms_reduce", include_str!("../../shaders/conv2d_norms_reduce.wgsl"), &[Uniform, Read, Write]),
            norms_approx: k("conv2d_norms_approx", include_str!("../../shaders/conv2d_norms_approx.wgsl"), &[Uniform, Read, Read, Write]),
            pool_forward: k("max_pool_forward", include_str!("../../shaders/max_pool_forward.wgsl"), &[Uniform, Read, Write, Write]),
            pool_backward: k(
                "max_pool_backward",
                include_str!("../../shaders/max_pool_backward.wgsl"),
                &[Uniform, Read, Read, Read, Write],
            ),
        }
    }
}

/// Everything the convolution kernels compute for one batch.
#[derive(Clone, Debug)]
pub struct ConvRun {
    pub out: Vec<f32>,
    pub dx: Vec<f32>,
    /// Mean filter gradient (`[C_out, C_in, K_h, K_w]`) followed by the mean bias gradient.
    pub grads: Vec<f32>,
    /// Per-example (‖∂ℓ_i/∂W‖², ‖∂ℓ_i/∂b‖²), exact.
    pub norms_exact: Vec<(f32, f32)>,
    /// The same by the reference code's approximation.
    pub norms_approx: Vec<(f32, f32)>,
}

/// A small harness: its own device, the step uniform, buffers from slices.
struct Harness {
    ctx: GpuContext,
    step_layout: wgpu::BindGroupLayout,
    step_group: wgpu::BindGroup,
}

impl Harness {
    async fn new(m: usize, largest_bytes: u64) -> Result<Harness> {
        let ctx = GpuContext::new(Requirements { buffers: vec![("the largest test buffer".into(), largest_bytes)] }).await?;
        let step_layout = step_layout(&ctx.device);
        let s = StepUniform { m: m as u32, inv_m: 1.0 / m as f32, batch: m as u32, ..Default::default() };
        let step = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("step uniform"),
            contents: bytemuck::bytes_of(&s),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let step_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("step uniform"),
            layout: &step_layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: step.as_entire_binding() }],
        });
        Ok(Harness { ctx, step_layout, step_group })
    }

    fn buffer<T: Pod>(&self, label: &str, data: &[T], len: usize) -> wgpu::Buffer {
        let mut bytes = bytemuck::cast_slice::<T, u8>(data).to_vec();
        bytes.resize((len * 4).max(bytes.len()).max(16), 0);
        self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        })
    }

    fn uniform<T: Pod>(&self, value: &T) -> wgpu::Buffer {
        self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM,
        })
    }

    fn dispatch(&self, enc: &mut wgpu::CommandEncoder, k: &Kernel, buffers: &[&wgpu::Buffer], grid: (u32, u32)) {
        let group = k.bind(&self.ctx.device, buffers);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
        pass.set_pipeline(&k.pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.set_bind_group(1, &self.step_group, &[0]);
        pass.dispatch_workgroups(grid.0, grid.1, 1);
    }

    async fn read(&self, enc: wgpu::CommandEncoder, what: &[(&wgpu::Buffer, usize)]) -> Result<Vec<Vec<f32>>> {
        let mut enc = enc;
        let total: usize = what.iter().map(|w| w.1).sum();
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: (total as u64 * 4).max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut at = 0;
        for (b, n) in what {
            enc.copy_buffer_to_buffer(b, 0, &staging, at, *n as u64 * 4);
            at += *n as u64 * 4;
        }
        self.ctx.queue.submit([enc.finish()]);
        let all = self.ctx.read_f32(&staging, (total as u64 * 4).max(4)).await?;
        let mut out = Vec::new();
        let mut at = 0;
        for (_, n) in what {
            out.push(all[at..at + n].to_vec());
            at += n;
        }
        Ok(out)
    }
}

/// Run every convolution kernel on one batch: forward (with ReLU if `relu`), the input
/// gradient of `dy` (times relu'(aux) if `aux` is given), the mean filter/bias gradient, and the
/// per-example norms, exact and approximate.
#[allow(clippy::too_many_arguments)] // a test harness: the batch and the layer in one call
pub async fn run_conv(
    s: &Conv2dSpec,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    dy: &[f32],
    aux: Option<&[f32]>,
    relu: bool,
    m: usize,
) -> Result<ConvRun> {
    let largest = (m * s.in_len().max(s.out_len()) * 4 + s.filter_len() * 4) as u64;
    let h = Harness::new(m, largest).await?;
    let k = ConvKernels::new(&h.ctx.device, &h.step_layout);
    let fl = s.filter_len();
    let mut params = w.to_vec();
    params.extend_from_slice(b);
    let weights = h.buffer("weights", &params, params.len());
    let xb = h.buffer("x", x, m * s.in_len());
    let dyb = h.buffer("dy", dy, m * s.out_len());
    let auxb = h.buffer("aux", aux.unwrap_or(x), m * s.in_len());
    let out = h.buffer::<f32>("out", &[], m * s.out_len());
    let dx = h.buffer::<f32>("dx", &[], m * s.in_len());
    let grads = h.buffer::<f32>("grads", &[], fl + s.out_c);
    let norms = h.buffer::<f32>("norms", &[], 4 * m);
    let p = |flags, w_row| h.uniform(&ConvParams::new(s, flags, 0, fl as u32, w_row, m as u32));
    let mm = m as u32;
    let (pixels, positions) = ((s.in_h * s.in_w) as u32, s.positions() as u32);
    let (col_tiles, row_tiles) = filter_grad_tiles(s);
    let grad_scratch = h.buffer::<f32>("filter gradient splits", &[], filter_grad_scratch(s, mm) as usize);
    let norm_scratch = h.buffer::<f32>("norm tiles", &[], norms_scratch(s, mm) as usize);
    let mut enc = h.ctx.device.create_command_encoder(&Default::default());
    let fwd = ((mm * positions).div_ceil(TILE), (s.out_c as u32).div_ceil(TILE));
    h.dispatch(&mut enc, k.forward.pick(s.out_c), &[&p(if relu { RELU } else { 0 }, 0), &xb, &weights, &out], fwd);
    h.dispatch(
        &mut enc,
        k.backward_input.pick(s.in_c),
        &[&p(if aux.is_some() { MUL_RELU_DERIV } else { 0 }, 0), &dyb, &weights, &auxb, &dx],
        ((mm * pixels).div_ceil(TILE), (s.in_c as u32).div_ceil(TILE)),
    );
    let splits = filter_grad_splits(s, mm);
    h.dispatch(&mut enc, k.filter_grad.pick(s.out_c), &[&p(0, 0), &xb, &dyb, &grad_scratch], (col_tiles, row_tiles * splits));
    h.dispatch(&mut enc, &k.grad_reduce, &[&p(0, 0), &grad_scratch, &grads], (((fl + s.out_c) as u32).div_ceil(64), 1));
    h.dispatch(&mut enc, k.norms.pick(s.out_c), &[&p(0, 0), &xb, &dyb, &norm_scratch], (col_tiles, row_tiles * mm));
    h.dispatch(&mut enc, &k.norms_reduce, &[&p(0, 0), &norm_scratch, &norms], (mm.div_ceil(64), 1));
    h.dispatch(&mut enc, &k.norms_approx, &[&p(APPROX, 2), &xb, &dyb, &norms], (mm, 1));
    let r = h.read(enc, &[(&out, m * s.out_len()), (&dx, m * s.in_len()), (&grads, fl + s.out_c), (&norms, 4 * m)]).await?;
    h.ctx.check()?;
    let pairs = |row: usize| (0..m).map(|i| (r[3][row * m + i], r[3][(row + 1) * m + i])).collect();
    Ok(ConvRun { out: r[0].clone(), dx: r[1].clone(), grads: r[2].clone(), norms_exact: pairs(0), norms_approx: pairs(2) })
}

/// Run max-pooling forward and backward on one batch: (out, arg-max, dx).
pub async fn run_pool(s: &PoolSpec, x: &[f32], dy: &[f32], m: usize) -> Result<(Vec<f32>, Vec<u32>, Vec<f32>)> {
    let h = Harness::new(m, (m * s.in_len() * 4) as u64).await?;
    let k = ConvKernels::new(&h.ctx.device, &h.step_layout);
    let p = h.uniform(&PoolParams::new(s, 0));
    let xb = h.buffer("x", x, m * s.in_len());
    let dyb = h.buffer("dy", dy, m * s.out_len());
    let out = h.buffer::<f32>("out", &[], m * s.out_len());
    let arg = h.buffer::<u32>("arg", &[], m * s.out_len());
    let dx = h.buffer::<f32>("dx", &[], m * s.in_len());
    let mut enc = h.ctx.device.create_command_encoder(&Default::default());
    let (mm, in_groups, out_groups) = (m as u32, (s.in_len() as u32).div_ceil(64), (s.out_len() as u32).div_ceil(64));
    h.dispatch(&mut enc, &k.pool_forward, &[&p, &xb, &out, &arg], (out_groups, mm));
    h.dispatch(&mut enc, &k.pool_backward, &[&p, &dyb, &arg, &xb, &dx], (in_groups, mm));
    let r = h.read(enc, &[(&out, m * s.out_len()), (&arg, m * s.out_len()), (&dx, m * s.in_len())]).await?;
    h.ctx.check()?;
    Ok((r[0].clone(), r[1].iter().map(|v| v.to_bits()).collect(), r[2].clone()))
}
