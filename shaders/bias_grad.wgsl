// bias_grad.wgsl — mean bias gradient (1/m)·Σ_i δ_i, examples summed in ascending order.
// CPU twin: reference::bias_grad::bias_grad.
// Host side: BiasGradParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// Bindings (group 0): 0 params, 1 delta (m×d_out), 2 grads (flat parameter layout).
// Dispatch: (ceil(d_out / 64), 1, 1).
struct Params { d_out: u32, b_off: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> delta: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let j = gid.x;
    if (j >= p.d_out) { return; }
    var s = 0.0;
    for (var i = 0u; i < step.m; i++) { s += delta[i * p.d_out + j]; }
    grads[p.b_off + j] = select(0.0, grads[p.b_off + j], step.accumulate == 1u) + s * step.inv_m;
}
