// conv2d_forward.wgsl — out[i] = act(conv(x[i], W) + b); NCHW; TensorFlow-style SAME/VALID
// padding (the host passes out_h, out_w and the top/left padding).
// CPU twin: reference::conv2d::forward (ReLU as in reference::matmul::epilogue).
// One thread per output value; sums the C_in·K_h·K_w products in (c, u, v) order as the twin.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 x (m × C_in·H·W), 2 weights (flat parameters: W at w_off as
// [C_out, C_in, K_h, K_w], b at b_off), 3 out (m × C_out·out_h·out_w).
// Dispatch: (ceil(C_out·out_h·out_w / 64), m, 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.y;
    let positions = p.out_h * p.out_w;
    let out_len = p.out_c * positions;
    if (i >= step.m || gid.x >= out_len) { return; }
    let o = gid.x / positions;
    let oy = (gid.x % positions) / p.out_w;
    let ox = (gid.x % positions) % p.out_w;
    let in_len = p.in_c * p.in_h * p.in_w;
    var acc = 0.0;
    for (var c = 0u; c < p.in_c; c++) {
        for (var u = 0u; u < p.k_h; u++) {
            let yy = i32(oy * p.stride + u) - i32(p.pad_top);
            for (var v = 0u; v < p.k_w; v++) {
                let xx = i32(ox * p.stride + v) - i32(p.pad_left);
                if (yy >= 0 && yy < i32(p.in_h) && xx >= 0 && xx < i32(p.in_w)) {
                    let w = weights[p.w_off + ((o * p.in_c + c) * p.k_h + u) * p.k_w + v];
                    acc += w * x[i * in_len + (c * p.in_h + u32(yy)) * p.in_w + u32(xx)];
                }
            }
        }
    }
    var val = acc + weights[p.b_off + o];
    if ((p.flags & RELU) != 0u) { val = max(val, 0.0); }
    out[i * out_len + gid.x] = val;
}
