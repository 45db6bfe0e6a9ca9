// sgd_update.wgsl — w ← w − α·ḡ, and each workgroup's tree-reduced Σ ḡ² (for ‖ḡ‖²).
// CPU twin: reference::sgd_update::sgd_update.
// Reading ḡ here, where it is read anyway, makes ‖ḡ‖² cost one store per workgroup.
// Bindings (group 0): 0 params, 1 grads, 2 weights, 3 partials (one per workgroup).
// Dispatch: (ceil(count / 256), 1, 1).
struct Params { count: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

var<workgroup> sums: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3u) {
    let i = gid.x;
    var g = 0.0;
    if (i < p.count) {
        g = grads[i];
        weights[i] = weights[i] - step.lr * g;
    }
    sums[lid] = g * g;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) { sums[lid] += sums[lid + s]; }
        workgroupBarrier();
    }
    if (lid == 0u) { partials[wid.x] = sums[0]; }
}
