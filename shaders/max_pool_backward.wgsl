// max_pool_backward.wgsl — each input value receives the errors of the windows it won. One
// thread per input value gathers from the (possibly overlapping) windows that contain it, so no
// float atomics are needed; optionally ⊙ relu'(aux) of the activation that fed the pool.
// CPU twin: reference::max_pool::backward.
// Host side: PoolParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
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
    // Only the windows oy·stride ≤ iy + pad < oy·stride + window (likewise x) can contain this
    // value: a handful, not every window of the map (a scan of every window costs a thread work
    // in proportion to the whole map). Ascending oy, then ox, as the CPU twin sums them.
    let ty = iy + p.pad_top;
    let tx = ix + p.pad_left;
    var oy0 = 0u;
    if (ty + 1u > p.window) { oy0 = (ty + 1u - p.window + p.stride - 1u) / p.stride; }
    var ox0 = 0u;
    if (tx + 1u > p.window) { ox0 = (tx + 1u - p.window + p.stride - 1u) / p.stride; }
    let oy1 = min(p.out_h, ty / p.stride + 1u);
    let ox1 = min(p.out_w, tx / p.stride + 1u);
    var acc = 0.0;
    for (var oy = oy0; oy < oy1; oy++) {
        for (var ox = ox0; ox < ox1; ox++) {
            let o = i * out_len + (c * p.out_h + oy) * p.out_w + ox;
            if (arg[o] == gid.x) { acc += dy[o]; }
        }
    }
    if ((p.flags & MUL_RELU_DERIV) != 0u && aux[i * in_len + gid.x] <= 0.0) { acc = 0.0; }
    dx[i * in_len + gid.x] = acc;
}
