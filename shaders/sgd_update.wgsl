// sgd_update.wgsl — w ← w − α·ḡ, and each thread's Σ ḡ² (for ‖ḡ‖²).
// CPU twin: reference::sgd_update::sgd_update.
// Host side: SgdUpdateParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// Reading ḡ here, where it is read anyway, makes ‖ḡ‖² cost one store per thread. A fixed,
// small number of threads (`lanes`, at most 64·256) walks the parameters with a grid stride:
// thread t handles t, t + lanes, …, adding its ḡ² in that order, and writes its own partial.
// No workgroup memory and no barriers: reduce_stats adds the partials in its fixed order (lane
// u of its one workgroup adds partials u, u + 256, …, then a tree), so runs stay bit-identical.
// Bindings (group 0): 0 params, 1 grads, 2 weights, 3 partials (one per thread).
// Dispatch: (lanes / 256, 1, 1) with lanes = 256·min(ceil(count / 256), 64).
struct Params { count: u32, lanes: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    var sq = 0.0;
    for (var i = gid.x; i < p.count; i += p.lanes) {
        let g = grads[i];
        weights[i] = weights[i] - step.lr * g;
        sq += g * g;
    }
    partials[gid.x] = sq;
}
