// max_pool_forward.wgsl — max over each window (padded cells never win; ties go to the first
// maximum in row-major window order), remembering the arg-max for the backward pass.
// CPU twin: reference::max_pool::forward.
// Host side: PoolParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 x (m × C·H·W), 2 out (m × C·out_h·out_w), 3 arg (same, u32:
// index of the winner within the example).
// Dispatch: (ceil(C·out_h·out_w / 64), m, 1).
@group(0) @binding(0) var<uniform> p: Pool;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.y;
    let out_len = p.c * p.out_h * p.out_w;
    if (i >= step.m || gid.x >= out_len) { return; }
    let c = gid.x / (p.out_h * p.out_w);
    let oy = (gid.x / p.out_w) % p.out_h;
    let ox = gid.x % p.out_w;
    let in_len = p.c * p.in_h * p.in_w;
    var best = 0.0;
    var best_at = 0u;
    var found = false;
    for (var u = 0u; u < p.window; u++) {
        let yy = i32(oy * p.stride + u) - i32(p.pad_top);
        if (yy < 0 || yy >= i32(p.in_h)) { continue; }
        for (var v = 0u; v < p.window; v++) {
            let xx = i32(ox * p.stride + v) - i32(p.pad_left);
            if (xx < 0 || xx >= i32(p.in_w)) { continue; }
            let t = (c * p.in_h + u32(yy)) * p.in_w + u32(xx);
            let val = x[i * in_len + t];
            if (!found || val > best) { best = val; best_at = t; found = true; }
        }
    }
    out[i * out_len + gid.x] = best;
    arg[i * out_len + gid.x] = best_at;
}
