// per_example_norms.wgsl — exact per-example squared gradient norms of one dense layer.
// CPU twin: reference::per_example_norms::per_example_norms.
// Host side: PerExampleNormsParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// ‖∂ℓ_i/∂W‖² = ‖a_i‖²·‖δ_i‖² (the gradient is the outer product δ_i a_iᵀ), ‖∂ℓ_i/∂b‖² = ‖δ_i‖².
// O(m·(d_in + d_out)) work, no per-example gradient is ever formed.
// Bindings (group 0): 0 params, 1 a (layer input, m×d_in), 2 delta (m×d_out), 3 norms
// (one m_max-long row per parameter tensor; this layer writes rows w_row and w_row + 1).
// Dispatch: (ceil(m / 64), 1, 1).
struct Params { d_in: u32, d_out: u32, w_row: u32, m_max: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.x;
    if (i >= step.m) { return; }
    var na = 0.0;
    for (var j = 0u; j < p.d_in; j++) { let v = a[i * p.d_in + j]; na += v * v; }
    var nd = 0.0;
    for (var j = 0u; j < p.d_out; j++) { let v = delta[i * p.d_out + j]; nd += v * v; }
    norms[p.w_row * p.m_max + step.row_base + i] = na * nd;
    norms[(p.w_row + 1u) * p.m_max + step.row_base + i] = nd;
}
