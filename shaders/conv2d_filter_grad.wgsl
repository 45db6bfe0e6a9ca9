// conv2d_filter_grad.wgsl — mean filter and bias gradients (1/m)·Σ_i Σ_p δ_{i,p} x_{i,p}ᵀ and
// (1/m)·Σ_i Σ_p δ_{i,p}; one thread per filter weight (then one per bias), summing examples
// and positions in ascending order.
// CPU twin: reference::conv2d::filter_grad.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 x (m × C_in·H·W), 2 dy (m × C_out·P), 3 grads (flat layout).
// Dispatch: (ceil((C_out·C_in·K_h·K_w + C_out) / 64), 1, 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let patch_len = p.in_c * p.k_h * p.k_w;
    let filter_len = p.out_c * patch_len;
    let j = gid.x;
    if (j >= filter_len + p.out_c) { return; }
    let positions = p.out_h * p.out_w;
    let in_len = p.in_c * p.in_h * p.in_w;
    let out_len = p.out_c * positions;
    var acc = 0.0;
    if (j >= filter_len) {
        let o = j - filter_len;
        for (var i = 0u; i < step.m; i++) {
            for (var q = 0u; q < positions; q++) { acc += dy[i * out_len + o * positions + q]; }
        }
        grads[p.b_off + o] = select(0.0, grads[p.b_off + o], step.accumulate == 1u) + acc * step.inv_m;
        return;
    }
    let o = j / patch_len;
    let c = (j % patch_len) / (p.k_h * p.k_w);
    let u = (j / p.k_w) % p.k_h;
    let v = j % p.k_w;
    for (var i = 0u; i < step.m; i++) {
        for (var q = 0u; q < positions; q++) {
            let yy = i32((q / p.out_w) * p.stride + u) - i32(p.pad_top);
            let xx = i32((q % p.out_w) * p.stride + v) - i32(p.pad_left);
            if (yy >= 0 && yy < i32(p.in_h) && xx >= 0 && xx < i32(p.in_w)) {
                acc += dy[i * out_len + o * positions + q] * x[i * in_len + (c * p.in_h + u32(yy)) * p.in_w + u32(xx)];
            }
        }
    }
    grads[p.w_off + j] = select(0.0, grads[p.w_off + j], step.accumulate == 1u) + acc * step.inv_m;
}
