// conv2d_norms_approx.wgsl — per-example squared norms of a convolution's filter and bias
// gradients by the reference TensorFlow code's approximation: Σ_p ‖x_p‖²‖δ_p‖² and Σ_p ‖δ_p‖²,
// cross terms between positions dropped. One workgroup per example, one thread per output
// position (strided), then a shared-memory tree. Not a product: O(P·(C_in·K_h·K_w + C_out)) per
// example, each value loaded once per position it touches, so no tiling to gain.
// CPU twin: reference::conv2d::norms_reference_approx.
// Host side: ConvParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 x, 2 dy, 3 norms (rows w_row, w_row + 1 of m_max each).
// Dispatch: (m, 1, 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;

var<workgroup> sums: array<vec2f, 256>;

/// Input value under filter tap (c, u, v) at output position q of example i (0 in the padding).
fn tap(i: u32, q: u32, c: u32, u: u32, v: u32) -> f32 {
    let yy = i32((q / p.out_w) * p.stride + u) - i32(p.pad_top);
    let xx = i32((q % p.out_w) * p.stride + v) - i32(p.pad_left);
    if (yy < 0 || yy >= i32(p.in_h) || xx < 0 || xx >= i32(p.in_w)) { return 0.0; }
    return x[i * p.in_c * p.in_h * p.in_w + (c * p.in_h + u32(yy)) * p.in_w + u32(xx)];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
    let i = wid.x;
    let positions = p.out_h * p.out_w;
    let base = i * p.out_c * positions;
    let kk = p.k_h * p.k_w;
    let patch_len = p.in_c * kk;
    var acc = vec2f(0.0);
    for (var q = t; q < positions; q += 256u) {
        var xx = 0.0;
        for (var e = 0u; e < patch_len; e++) {
            let a = tap(i, q, e / kk, (e % kk) / p.k_w, e % p.k_w);
            xx += a * a;
        }
        var dd = 0.0;
        for (var o = 0u; o < p.out_c; o++) { let d = dy[base + o * positions + q]; dd += d * d; }
        acc += vec2f(xx * dd, dd);
    }
    sums[t] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (t < s) { sums[t] += sums[t + s]; }
        workgroupBarrier();
    }
    if (t == 0u) {
        norms[p.w_row * p.m_max + step.row_base + i] = sums[0].x;
        norms[(p.w_row + 1u) * p.m_max + step.row_base + i] = sums[0].y;
    }
}
