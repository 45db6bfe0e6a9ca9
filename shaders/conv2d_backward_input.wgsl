// conv2d_backward_input.wgsl — dx[i] = convᵀ(dy[i], W), optionally ⊙ relu'(aux[i]) (the
// derivative of the activation that produced this layer's input).
// CPU twin: reference::conv2d::backward_input (it scatters; this gathers: one thread per input
// value visits every (o, u, v) whose filter tap lands on it).
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 dy (m × C_out·P), 2 weights, 3 aux (m × C_in·H·W), 4 dx.
// Dispatch: (ceil(C_in·H·W / 64), m, 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.y;
    let in_len = p.in_c * p.in_h * p.in_w;
    if (i >= step.m || gid.x >= in_len) { return; }
    let c = gid.x / (p.in_h * p.in_w);
    let iy = (gid.x / p.in_w) % p.in_h;
    let ix = gid.x % p.in_w;
    let positions = p.out_h * p.out_w;
    var acc = 0.0;
    for (var o = 0u; o < p.out_c; o++) {
        for (var u = 0u; u < p.k_h; u++) {
            let ty = i32(iy + p.pad_top) - i32(u); // = oy · stride
            if (ty < 0 || ty % i32(p.stride) != 0) { continue; }
            let oy = u32(ty) / p.stride;
            if (oy >= p.out_h) { continue; }
            for (var v = 0u; v < p.k_w; v++) {
                let tx = i32(ix + p.pad_left) - i32(v);
                if (tx < 0 || tx % i32(p.stride) != 0) { continue; }
                let ox = u32(tx) / p.stride;
                if (ox >= p.out_w) { continue; }
                let w = weights[p.w_off + ((o * p.in_c + c) * p.k_h + u) * p.k_w + v];
                acc += w * dy[i * p.out_c * positions + o * positions + oy * p.out_w + ox];
            }
        }
    }
    if ((p.flags & MUL_RELU_DERIV) != 0u && aux[i * in_len + gid.x] <= 0.0) { acc = 0.0; }
    dx[i * in_len + gid.x] = acc;
}
