// inner_products.wgsl — one layer's share of the per-example inner products p_i = g_iᵀḡ
// (the inner-product test of Bollapragada, Byrd and Nocedal 2018; ḡ the batch's mean gradient).
// CPU twin: reference::inner_products::inner_products.
// Host side: InnerProductsParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// t holds the layer's forward product with the mean gradient in place of its weights and bias,
// made just before by the layer's own forward kernel (dense: t_i = Ḡ·a_i + ḡ_b by matmul.wgsl;
// convolution: t_i = conv(x_i, Ḡ) + ḡ_b by conv2d_forward.wgsl). The layer's per-example
// gradient is δ_i a_iᵀ (summed over positions for a convolution), so its inner product with ḡ
// is δ_i · t_i: inner[row_base + i] = (first ? 0 : inner[row_base + i]) + Σ_j δ_i[j]·t_i[j].
// 2·m·width FLOP and 8·m·width bytes read; no per-example gradient is formed.
// Bindings (group 0): 0 params, 1 delta (m × width), 2 t (m × width), 3 inner (m_max, rows of
// the whole batch).
// Dispatch: (m, 1, 1) — one workgroup of 64 per example; lane l adds j = l, l + 64, …, then a
// tree halves the stride (a fixed order, so a seed reproduces bit for bit).
struct Params { width: u32, first: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> delta: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> inner: array<f32>;

var<workgroup> lanes: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) l: u32) {
    let i = wid.x; // the grid has exactly step.m workgroups
    let base = i * p.width;
    var acc = 0.0;
    for (var j = l; j < p.width; j += 64u) { acc += delta[base + j] * t[base + j]; }
    lanes[l] = acc;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (l < s) { lanes[l] += lanes[l + s]; }
        workgroupBarrier();
    }
    if (l == 0u) {
        let r = step.row_base + i;
        inner[r] = select(inner[r], 0.0, p.first != 0u) + lanes[0];
    }
}
