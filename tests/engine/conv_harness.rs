//! A small harness that runs the convolution and max-pool GPU kernels on single layers with
//! given inputs, for `gpu_conv`'s comparisons with their CPU twins: its own device and step
//! uniform, buffers from slices, each kernel dispatched on the grid the engine's builder uses
//! (`cabs::gpu::conv::*_grid`), so these tests cover the engine's grids too.
#![cfg(not(target_arch = "wasm32"))]

use bytemuck::Pod;
use cabs::error::Result;
use cabs::gpu::conv::{self as conv, ConvKernels, ConvParams, PoolParams};
use cabs::gpu::engine::Grid;
use cabs::gpu::kernels::{step_layout, Kernel, StepUniform};
use cabs::gpu::{GpuContext, Requirements};
use cabs::model::epilogue::{APPROX, MUL_RELU_DERIV, RELU};
use cabs::model::shapes::{Conv2dSpec, PoolSpec};
use wgpu::util::DeviceExt;

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
    /// Examples in the batch (the grids' rows).
    m: u32,
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
        Ok(Harness { ctx, m: m as u32, step_layout, step_group })
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

    /// One dispatch of `k` on `grid` sized for this harness's batch.
    fn dispatch(&self, enc: &mut wgpu::CommandEncoder, k: &Kernel, buffers: &[&wgpu::Buffer], grid: Grid) {
        let (x, y) = grid.size(self.m);
        let group = k.bind(&self.ctx.device, buffers);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
        pass.set_pipeline(&k.pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.set_bind_group(1, &self.step_group, &[0]);
        pass.dispatch_workgroups(x, y, 1);
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
    let grad_scratch = h.buffer::<f32>("filter gradient splits", &[], conv::filter_grad_scratch(s, mm) as usize);
    let norm_scratch = h.buffer::<f32>("norm tiles", &[], conv::norms_scratch(s, mm) as usize);
    let mut enc = h.ctx.device.create_command_encoder(&Default::default());
    h.dispatch(&mut enc, k.forward.pick(s.out_c), &[&p(if relu { RELU } else { 0 }, 0), &xb, &weights, &out], conv::forward_grid(s));
    h.dispatch(
        &mut enc,
        k.backward_input.pick(s.in_c),
        &[&p(if aux.is_some() { MUL_RELU_DERIV } else { 0 }, 0), &dyb, &weights, &auxb, &dx],
        conv::backward_input_grid(s),
    );
    let (partial, sum) = conv::filter_grad_grids(s);
    h.dispatch(&mut enc, k.filter_grad.pick(s.out_c), &[&p(0, 0), &xb, &dyb, &grad_scratch], partial);
    h.dispatch(&mut enc, &k.grad_reduce, &[&p(0, 0), &grad_scratch, &grads], sum);
    let (tiles, sum) = conv::norms_grids(s);
    h.dispatch(&mut enc, k.norms.pick(s.out_c), &[&p(0, 0), &xb, &dyb, &norm_scratch], tiles);
    h.dispatch(&mut enc, &k.norms_reduce, &[&p(0, 0), &norm_scratch, &norms], sum);
    h.dispatch(&mut enc, &k.norms_approx, &[&p(APPROX, 2), &xb, &dyb, &norms], conv::norms_approx_grid());
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
    h.dispatch(&mut enc, &k.pool_forward, &[&p, &xb, &out, &arg], conv::pool_forward_grid(s));
    h.dispatch(&mut enc, &k.pool_backward, &[&p, &dyb, &arg, &xb, &dx], conv::pool_backward_grid(s));
    let r = h.read(enc, &[(&out, m * s.out_len()), (&arg, m * s.out_len()), (&dx, m * s.in_len())]).await?;
    h.ctx.check()?;
    Ok((r[0].clone(), r[1].iter().map(|v| v.to_bits()).collect(), r[2].clone()))
}
