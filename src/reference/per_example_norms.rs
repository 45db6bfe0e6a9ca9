//! Twin of `shaders/per_example_norms.wgsl`: exact squared norms of each example's gradient
//! of one dense layer, without forming it. With input `a_i` and back-propagated error `δ_i`
//! (the per-example gradient at the layer's output), the weight gradient is the outer product
//! `δ_i a_iᵀ`, so `‖∂ℓ_i/∂W‖² = ‖a_i‖²·‖δ_i‖²`, and `‖∂ℓ_i/∂b‖² = ‖δ_i‖²` (`docs/METHOD.md`,
//! "Dense layers: norms without per-example gradients").

pub fn per_example_norms(a: &[f32], delta: &[f32], m: usize, d_in: usize, d_out: usize, w_norms: &mut [f32], b_norms: &mut [f32]) {
    for i in 0..m {
        let na: f32 = a[i * d_in..(i + 1) * d_in].iter().map(|v| v * v).sum();
        let nd: f32 = delta[i * d_out..(i + 1) * d_out].iter().map(|v| v * v).sum();
        w_norms[i] = na * nd;
        b_norms[i] = nd;
    }
}
