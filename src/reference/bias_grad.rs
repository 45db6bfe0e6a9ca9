//! Twin of `shaders/bias_grad.wgsl`: the mean bias gradient `(1/m) Σ_i δ_i`, summed over
//! examples in ascending order.

/// `inv_m` is 1/(examples in the whole batch); with `accumulate` the result is added to `out`
/// (the later chunks of a chunked step).
pub fn bias_grad(delta: &[f32], m: usize, d_out: usize, inv_m: f32, accumulate: bool, out: &mut [f32]) {
    for j in 0..d_out {
        let mut s = 0.0f32;
        for i in 0..m {
            s += delta[i * d_out + j];
        }
        out[j] = if accumulate { out[j] + s * inv_m } else { s * inv_m };
    }
}
