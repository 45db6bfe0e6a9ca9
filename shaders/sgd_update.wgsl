// sgd_update.wgsl — w ← w − α·ḡ, and each workgroup's Σ ḡ² (for ‖ḡ‖²).
// CPU twin: reference::sgd_update::sgd_update.
// Reading ḡ here, where it is read anyway, makes ‖ḡ‖² cost one store per workgroup. A fixed,
// small number of workgroups walks the parameters with a grid stride: thread t of G·256 handles
// t, t + G·256, …, adding its ḡ² in that order, then one tree reduction per workgroup. Few
// workgroups means few barriers, which software GPUs pay dearly for (SwiftShader: 796
// workgroups of one parameter per thread took ~290 ms for 203,530 parameters).
// Bindings (group 0): 0 params, 1 grads, 2 weights, 3 partials (one per workgroup).
// Dispatch: (groups, 1, 1) with groups = min(ceil(count / 256), 64).
struct Params { count: u32, groups: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

var<workgroup> sums: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3u) {
    var sq = 0.0;
    for (var i = gid.x; i < p.count; i += p.groups * 256u) {
        let g = grads[i];
        weights[i] = weights[i] - step.lr * g;
        sq += g * g;
    }
    sums[lid] = sq;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) { sums[lid] += sums[lid + s]; }
        workgroupBarrier();
    }
    if (lid == 0u) { partials[wid.x] = sums[0]; }
}
