//! The one-pass kernels' host side: the kernels that make one pass over rows or values, with no
//! tiles and no variants. For each: its parameter struct (the mirror of `struct Params` in its
//! shader, field for field), its pipeline ([`SmallKernels`]) and, per op, its parameters and
//! grid ([`SmallKernels::call`]). Their bindings are the signatures of the same names in
//! `plan::bindings`; their CPU twins are in `reference` (named in each shader's header), called
//! by the CPU engine's ops of the same names (`engine::cpu`).
//!
//! | kernel | op | grid | CPU twin |
//! | --- | --- | --- | --- |
//! | `gather_batch` | `Gather` | (⌈dim / 64⌉, m) | `reference::gather::gather_batch` |
//! | `softmax_xent` | `SoftmaxXent` | one thread per example | `reference::softmax_xent::softmax_xent` |
//! | `bias_grad` | `BiasGrad` | one thread per bias | `reference::bias_grad::bias_grad` |
//! | `per_example_norms` | `DenseNorms` | one thread per example | `reference::per_example_norms::per_example_norms` |
//! | `sgd_update` | `SgdUpdate` | one thread per lane of partial sums | `reference::sgd_update::sgd_update` |
//! | `reduce_stats` | `ReduceStats` | one workgroup | `reference::reduce_stats::reduce_stats` |
//! | `inner_products` | `DenseInner`, `ConvInner` (their second launch) | one workgroup per example | `reference::inner_products::inner_products` |
//! | `inner_product_var` | `InnerVar` | one workgroup | `reference::inner_products::inner_product_var` |

use super::engine::Grid;
use super::kernels::{Call, Kernel, StepShape};
use crate::plan::bindings::{self as sig, Signature};
use crate::plan::Op;
use crate::reference::WORKGROUP;
use bytemuck::{Pod, Zeroable};

/// Mirror of `Params` in `shaders/gather_batch.wgsl`: features per example, how they are stored
/// (0: packed bytes, 1: f32) and the bytes' scale. One per data split (`Split::gpu_format`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GatherParams {
    pub dim: u32,
    pub format: u32,
    pub scale: f32,
    pub _pad: u32,
}

/// Mirror of `Params` in `shaders/softmax_xent.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SoftmaxXentParams {
    pub classes: u32,
    pub _pad: [u32; 3],
}

/// Mirror of `Params` in `shaders/bias_grad.wgsl`: the layer's width and its bias's offset in
/// the flat parameter layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct BiasGradParams {
    pub d_out: u32,
    pub b_off: u32,
    pub _pad: [u32; 2],
}

/// Mirror of `Params` in `shaders/per_example_norms.wgsl`: `w_row` is the first of the two norm
/// rows the layer writes, `m_max` the rows' stride.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PerExampleNormsParams {
    pub d_in: u32,
    pub d_out: u32,
    pub w_row: u32,
    pub m_max: u32,
}

/// Mirror of `Params` in `shaders/sgd_update.wgsl`: parameters, and threads (lanes) that each
/// write one partial sum of ḡ².
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SgdUpdateParams {
    pub count: u32,
    pub lanes: u32,
    pub _pad: [u32; 2],
}

/// Mirror of `Params` in `shaders/reduce_stats.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ReduceStatsParams {
    pub n_tensors: u32,
    pub m_max: u32,
    pub n_partials: u32,
    pub _pad: u32,
}

/// Mirror of `Params` in `shaders/inner_products.wgsl`: values per example of the layer's error,
/// and whether this layer writes the row (1) or adds to it (0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct InnerProductsParams {
    pub width: u32,
    pub first: u32,
    pub _pad: [u32; 2],
}

/// Mirror of `Params` in `shaders/inner_product_var.wgsl` (none used; a uniform binding cannot
/// be empty).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct InnerProductVarParams {
    pub _pad: [u32; 4],
}

/// The one-pass kernels' pipelines, compiled once for every model.
pub struct SmallKernels {
    pub gather_batch: Kernel,
    pub softmax_xent: Kernel,
    pub bias_grad: Kernel,
    pub per_example_norms: Kernel,
    pub sgd_update: Kernel,
    pub reduce_stats: Kernel,
    pub inner_products: Kernel,
    pub inner_product_var: Kernel,
}

/// The grid of a kernel that runs once: one workgroup.
const ONCE: Grid = Grid::Fixed { x: 1, wx: 1, y: 1, wy: 1 };

impl SmallKernels {
    pub fn new(device: &wgpu::Device, step_layout: &wgpu::BindGroupLayout) -> SmallKernels {
        let k = |signature: Signature, body: &str| Kernel::new(device, step_layout, signature, body);
        SmallKernels {
            gather_batch: k(sig::GATHER_BATCH, wgsl!("gather_batch.wgsl")),
            softmax_xent: k(sig::SOFTMAX_XENT, wgsl!("softmax_xent.wgsl")),
            bias_grad: k(sig::BIAS_GRAD, wgsl!("bias_grad.wgsl")),
            per_example_norms: k(sig::PER_EXAMPLE_NORMS, wgsl!("per_example_norms.wgsl")),
            sgd_update: k(sig::SGD_UPDATE, wgsl!("sgd_update.wgsl")),
            reduce_stats: k(sig::REDUCE_STATS, wgsl!("reduce_stats.wgsl")),
            inner_products: k(sig::INNER_PRODUCTS, wgsl!("inner_products.wgsl")),
            inner_product_var: k(sig::INNER_PRODUCT_VAR, wgsl!("inner_product_var.wgsl")),
        }
    }

    /// The pipeline, parameters and grid of `op`'s launch of the kernel `signature` names (one of
    /// this family's: the op's [`crate::plan::Plan::bindings`] say which).
    pub fn call(&self, op: Op, signature: Signature, shape: &StepShape) -> Call<'_> {
        let lay = &shape.plan.layout;
        match (signature.kernel, op) {
            ("gather_batch", _) => Call::new(&self.gather_batch, &shape.gather, Grid::Rows { x: lay.input_dim, wx: 64, wy: 1 }),
            ("softmax_xent", _) => {
                Call::new(&self.softmax_xent, &SoftmaxXentParams { classes: lay.classes(), ..Default::default() }, Grid::Examples { w: 64 })
            }
            ("bias_grad", Op::BiasGrad { layer }) => {
                let d = lay.layers[layer];
                let p = BiasGradParams { d_out: d.d_out, b_off: d.b_offset, ..Default::default() };
                Call::new(&self.bias_grad, &p, Grid::Fixed { x: d.d_out, wx: 64, y: 1, wy: 1 })
            }
            ("per_example_norms", Op::DenseNorms { layer, row }) => {
                let d = lay.layers[layer];
                let p = PerExampleNormsParams { d_in: d.d_in, d_out: d.d_out, w_row: row as u32, m_max: shape.m_max };
                Call::new(&self.per_example_norms, &p, Grid::Examples { w: 64 })
            }
            ("sgd_update", _) => {
                let p = SgdUpdateParams { count: lay.param_count, lanes: shape.n_partials, ..Default::default() };
                Call::new(&self.sgd_update, &p, Grid::Fixed { x: shape.n_partials, wx: WORKGROUP as u32, y: 1, wy: 1 })
            }
            ("reduce_stats", _) => {
                let p = ReduceStatsParams { n_tensors: lay.n_tensors() as u32, m_max: shape.m_max, n_partials: shape.n_partials, _pad: 0 };
                Call::new(&self.reduce_stats, &p, ONCE)
            }
            // δ_i · t_i per example, after the op's first launch wrote t (see `Op::DenseInner`).
            ("inner_products", Op::DenseInner { layer, first }) => {
                let p = InnerProductsParams { width: lay.layers[layer].d_out, first: first as u32, ..Default::default() };
                Call::new(&self.inner_products, &p, Grid::Examples { w: 1 })
            }
            ("inner_products", Op::ConvInner { stage, first }) => {
                let p = InnerProductsParams { width: lay.convs[stage].conv.out_len() as u32, first: first as u32, ..Default::default() };
                Call::new(&self.inner_products, &p, Grid::Examples { w: 1 })
            }
            ("inner_product_var", _) => Call::new(&self.inner_product_var, &InnerProductVarParams::default(), ONCE),
            (kernel, op) => unreachable!("{op:?} launches no {kernel} of the one-pass family (Plan::bindings)"),
        }
    }
}
