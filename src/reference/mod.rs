//! The CPU twins of the WGSL kernels: for every kernel in `shaders/`, a plain-loop function over
//! the same memory layout that computes what the shader computes, summing in the same order
//! where the GPU's order is fixed (so results agree to rounding). Nothing here is the engine's
//! fast path (that is `fast`, checked against these) and nothing here touches wgpu.
//! Used three ways: as the oracle in GPU tests, as the engine for browsers without WebGPU
//! (through `fast`), and as the thing that brute-force tests check against finite differences.
//!
//! | shader(s) | twin |
//! | --- | --- |
//! | `gather_batch` | [`gather::gather_batch`] |
//! | `crop_standardize` | [`crop_standardize::crop_standardize`] |
//! | `matmul` (forward, backward δ, weight gradient) | [`matmul::matmul`] |
//! | `conv2d_forward`, `conv2d_backward_input` | [`conv2d::forward`], [`conv2d::backward_input`] |
//! | `conv2d_filter_grad` + `conv2d_grad_reduce` | [`conv2d::filter_grad`] |
//! | `conv2d_norms` + `conv2d_norms_reduce`, `conv2d_norms_approx` | [`conv2d::norms_per_example`], [`conv2d::norms_reference_approx`] |
//! | `max_pool_forward`, `max_pool_backward` | [`max_pool::forward`], [`max_pool::backward`] |
//! | `softmax_xent` | [`softmax_xent::softmax_xent`] |
//! | `bias_grad` | [`bias_grad::bias_grad`] |
//! | `per_example_norms` | [`per_example_norms::per_example_norms`] |
//! | `sgd_update` | [`sgd_update::sgd_update`] |
//! | `reduce_stats` | [`reduce_stats::reduce_stats`] |
//! | `inner_products`, `inner_product_var` | [`inner_products::inner_products`], [`inner_products::inner_product_var`] |
//!
//! The flag bits the kernels share live in `model::epilogue`, the layer shapes in `model::shapes`.

pub mod bias_grad;
pub mod conv2d;
pub mod crop_standardize;
pub mod gather;
pub mod inner_products;
pub mod matmul;
pub mod max_pool;
pub mod per_example_norms;
pub mod reduce_stats;
pub mod sgd_update;
pub mod softmax_xent;

/// Threads per workgroup of the 1-D kernels; the tree reductions below mirror it.
pub const WORKGROUP: usize = 256;

/// Sum 256 values the way the shaders' shared-memory tree does: halve the stride each round,
/// `v[t] += v[t + s]`. `values` shorter than 256 are padded with zeros.
pub fn tree_sum(values: &[f32]) -> f32 {
    let mut v = [0.0f32; WORKGROUP];
    v[..values.len()].copy_from_slice(values);
    let mut s = WORKGROUP / 2;
    while s > 0 {
        for t in 0..s {
            v[t] += v[t + s];
        }
        s /= 2;
    }
    v[0]
}

/// Sum with 256 strided lanes (lane t adds elements t, t+256, …) and then [`tree_sum`]:
/// the order of `reduce_stats.wgsl`.
pub fn strided_tree_sum(len: usize, value: impl Fn(usize) -> f32) -> f32 {
    let mut lanes = [0.0f32; WORKGROUP];
    for (t, lane) in lanes.iter_mut().enumerate() {
        let mut i = t;
        while i < len {
            *lane += value(i);
            i += WORKGROUP;
        }
    }
    tree_sum(&lanes)
}
