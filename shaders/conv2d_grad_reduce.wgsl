// conv2d_grad_reduce.wgsl — the mean filter and bias gradients from conv2d_filter_grad's splits:
// grads = (1/m)·Σ_s partial[s] (splits in ascending order), added to the earlier chunks' on
// chunks whose step says accumulate. One thread per filter weight or bias.
// CPU twin: reference::conv2d::filter_grad (tests compare with tolerances).
// Host side: ConvParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 partial (see conv2d_filter_grad.wgsl), 2 grads (flat layout).
// Dispatch: (ceil(C_out·(C_in·K_h·K_w + 1) / 64), 1, 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let cols = p.in_c * p.k_h * p.k_w + 1u;
    let j = gid.x;
    if (j >= p.out_c * cols) { return; }
    let splits = (step.m * p.out_h * p.out_w + SPLIT_K - 1u) / SPLIT_K;
    var acc = 0.0;
    for (var s = 0u; s < splits; s++) { acc += partial[s * p.out_c * cols + j]; }
    let o = j / cols;
    let e = j % cols;
    var at = p.w_off + o * (cols - 1u) + e;
    if (e == cols - 1u) { at = p.b_off + o; }
    grads[at] = select(0.0, grads[at], step.accumulate == 1u) + acc * step.inv_m;
}
