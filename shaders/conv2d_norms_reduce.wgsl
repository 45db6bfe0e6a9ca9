// conv2d_norms_reduce.wgsl — each example's exact filter and bias norms from conv2d_norms's
// per-tile sums, tiles in ascending order, into norm rows w_row and w_row + 1 at the chunk's rows.
// CPU twin: reference::conv2d::norms_per_example (tests compare with tolerances).
// Host side: ConvParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 partial (see conv2d_norms.wgsl), 2 norms (rows of m_max).
// Dispatch: (ceil(m / 64), 1, 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.x;
    if (i >= step.m) { return; }
    let tiles = ((p.out_c + 63u) / 64u) * ((p.in_c * p.k_h * p.k_w + 64u) / 64u);
    var acc = vec2f(0.0);
    for (var t = 0u; t < tiles; t++) {
        acc += vec2f(partial[2u * (i * tiles + t)], partial[2u * (i * tiles + t) + 1u]);
    }
    norms[p.w_row * p.m_max + step.row_base + i] = acc.x;
    norms[(p.w_row + 1u) * p.m_max + step.row_base + i] = acc.y;
}
