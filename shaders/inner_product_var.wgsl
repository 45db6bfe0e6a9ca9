// inner_product_var.wgsl — mean and sample variance of the batch's per-example inner products
// p_i = g_iᵀḡ (what the `inner:THETA` rule reads; the mean is ‖ḡ‖² up to rounding).
// CPU twin: reference::inner_products::inner_product_var.
// Host side: InnerProductVarParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// Two passes over the m = step.batch values, so the variance never subtracts two large sums:
// mean = Σ p_i / m, then var = Σ (p_i − mean)² / (m − 1) (0 when m < 2). Each pass: lane t adds
// i = t, t + 256, …, then a tree halves the stride (the order of reduce_stats.wgsl).
// Bindings (group 0): 0 params (unused), 1 inner (m_max), 2 out (mean, variance).
// Dispatch: (1, 1, 1).
struct Params { _p0: u32, _p1: u32, _p2: u32, _p3: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> inner: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> lanes: array<f32, 256>;

fn tree(l: u32) {
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (l < s) { lanes[l] += lanes[l + s]; }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) l: u32) {
    let m = step.batch;
    var acc = 0.0;
    for (var i = l; i < m; i += 256u) { acc += inner[i]; }
    lanes[l] = acc;
    workgroupBarrier();
    tree(l);
    let mean = lanes[0] / f32(m);
    workgroupBarrier();
    var dev = 0.0;
    for (var i = l; i < m; i += 256u) { let d = inner[i] - mean; dev += d * d; }
    lanes[l] = dev;
    workgroupBarrier();
    tree(l);
    if (l == 0u) {
        out[0] = mean;
        out[1] = select(0.0, lanes[0] / f32(m - 1u), m > 1u);
    }
}
