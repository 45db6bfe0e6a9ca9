// max_pool_backward.wgsl — each input value receives the errors of the windows it won. One
// thread per input value gathers from the (possibly overlapping) windows that contain it, so no
// float atomics are needed; optionally ⊙ relu'(aux) of the activation that fed the pool.
// CPU twin: reference::max_pool::backward.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 dy (m × C·out_h·out_w), 2 arg (u32, same shape), 3 aux
// (m × C·H·W), 4 dx (m × C·H·W).
// Dispatch: (ceil(C·H·W / 64), m, 1).
@group(0) @binding(0) var<uniform> p: Pool;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> arg: array<u32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.y;
    let in_len = p.c * p.in_h * p.in_w;
    if (i >= step.m || gid.x >= in_len) { return; }
    let c = gid.x / (p.in_h * p.in_w);
    let iy = (gid.x / p.in_w) % p.in_h;
    let ix = gid.x % p.in_w;
    let out_len = p.c * p.out_h * p.out_w;
    var acc = 0.0;
    for (var oy = 0u; oy < p.out_h; oy++) {
        let y0 = i32(oy * p.stride) - i32(p.pad_top);
        if (i32(iy) < y0 || i32(iy) >= y0 + i32(p.window)) { continue; }
        for (var ox = 0u; ox < p.out_w; ox++) {
            let x0 = i32(ox * p.stride) - i32(p.pad_left);
            if (i32(ix) < x0 || i32(ix) >= x0 + i32(p.window)) { continue; }
            let o = i * out_len + (c * p.out_h + oy) * p.out_w + ox;
            if (arg[o] == gid.x) { acc += dy[o]; }
        }
    }
    if ((p.flags & MUL_RELU_DERIV) != 0u && aux[i * in_len + gid.x] <= 0.0) { acc = 0.0; }
    dx[i * in_len + gid.x] = acc;
}
