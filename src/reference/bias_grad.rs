//! Twin of `shaders/bias_grad.wgsl`: the mean bias gradient `(1/m) Σ_i δ_i`, summed over
//! examples in ascending order.

pub fn bias_grad(delta: &[f32], m: usize, d_out: usize, inv_m: f32, out: &mut [f32]) {
    for j in 0..d_out {
        let mut s = 0.0f32;
        for i in 0..m {
            s += delta[i * d_out + j];
        }
        out[j] = s * inv_m;
    }
}
