//! Twins of `shaders/inner_products.wgsl` and `shaders/inner_product_var.wgsl`: the exact
//! per-example inner products p_i = g_iᵀḡ of the inner-product test (Bollapragada, Byrd and
//! Nocedal 2018) and their mean and sample variance, without forming any per-example gradient.
//!
//! A dense layer's per-example weight gradient is the outer product δ_i a_iᵀ, so its inner
//! product with the mean gradient Ḡ is δ_iᵀ (Ḡ a_i), and the bias adds δ_iᵀ ḡ_b: the layer's
//! forward product with Ḡ in place of the weights and ḡ_b in place of the bias, t_i = Ḡ a_i + ḡ_b,
//! dotted with δ_i. A convolution's is Σ_p δ_i(p)ᵀ (Ḡ patch_i(p) + ḡ_b): the forward convolution
//! of example i's input with Ḡ as filters and ḡ_b as bias, dotted with δ_i. The engines make t
//! with their forward kernels; this file holds the dot and the variance. p_i is the sum of the
//! layers' terms; its mean over the batch is ‖ḡ‖².

use super::strided_tree_sum;

/// Lanes of one example's dot product in `inner_products.wgsl` (its workgroup size).
pub const DOT_LANES: usize = 64;

/// `out[i]` (+)= Σ_j δ[i, j]·t[i, j] for the `m` rows of width `width`; `first`: write, not add.
/// Lane l of example i adds j = l, l + 64, …, then the 64 lanes are summed by halving the
/// stride, as the shader's workgroup does.
pub fn inner_products(delta: &[f32], t: &[f32], m: usize, width: usize, first: bool, out: &mut [f32]) {
    for (i, o) in out[..m].iter_mut().enumerate() {
        let (d, t) = (&delta[i * width..(i + 1) * width], &t[i * width..(i + 1) * width]);
        let mut lanes = [0.0f32; DOT_LANES];
        for (l, lane) in lanes.iter_mut().enumerate() {
            let mut j = l;
            while j < width {
                *lane += d[j] * t[j];
                j += DOT_LANES;
            }
        }
        let mut s = DOT_LANES / 2;
        while s > 0 {
            for l in 0..s {
                lanes[l] += lanes[l + s];
            }
            s /= 2;
        }
        *o = if first { lanes[0] } else { *o + lanes[0] };
    }
}

/// (mean, sample variance) of `p` (divided by m − 1; 0 for fewer than two examples), in two
/// passes of 256 strided lanes and a tree, as `inner_product_var.wgsl`: the mean first, then
/// the squared deviations from it (no cancellation between Σp² and (Σp)²).
pub fn inner_product_var(p: &[f32]) -> (f32, f32) {
    let m = p.len();
    if m == 0 {
        return (0.0, 0.0);
    }
    let mean = strided_tree_sum(m, |i| p[i]) / m as f32;
    let var = if m < 2 { 0.0 } else { strided_tree_sum(m, |i| (p[i] - mean) * (p[i] - mean)) / (m - 1) as f32 };
    (mean, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dot_adds_every_layer_and_the_variance_is_the_sample_variance() {
        let (delta, t) = ([1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 1.0, -1.0]);
        let mut out = [9.0f32; 2];
        inner_products(&delta, &t, 2, 2, true, &mut out);
        assert_eq!(out, [1.5, -1.0]);
        inner_products(&delta, &t, 2, 2, false, &mut out);
        assert_eq!(out, [3.0, -2.0]);
        let (mean, var) = inner_product_var(&[1.0, 2.0, 3.0, 6.0]);
        assert_eq!((mean, var), (3.0, 14.0 / 3.0));
        assert_eq!(inner_product_var(&[5.0]), (5.0, 0.0));
    }
}
