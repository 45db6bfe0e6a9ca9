//! The CPU twin of every WGSL kernel in `shaders/`: plain loops over the same memory layout,
//! summing in the same order where the GPU's order is fixed (so results agree to rounding).
//! Used three ways: as the oracle in GPU tests, as the engine for browsers without WebGPU,
//! and as the thing that brute-force tests check against finite differences.

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
