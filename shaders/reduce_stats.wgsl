// reduce_stats.wgsl — the step's four sums, in one workgroup, in a fixed order (lane t adds
// elements t, t+256, …; then a shared-memory tree), so a seed gives the same bits every run.
// CPU twin: reference::reduce_stats::reduce_stats.
// Host side: ReduceStatsParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// Output slot s: stats[4s..4s+4] = (Σ ℓ_i, Σ correct_i, Σ_i ‖g_i‖², ‖ḡ‖²).
// Bindings (group 0): 0 params, 1 losses, 2 correct, 3 norms, 4 partials, 5 stats.
// Dispatch: (1, 1, 1).
struct Params { n_tensors: u32, m_max: u32, n_partials: u32, _p0: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> losses: array<f32>;
@group(0) @binding(2) var<storage, read> correct: array<f32>;
@group(0) @binding(3) var<storage, read> norms: array<f32>;
@group(0) @binding(4) var<storage, read> partials: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

var<workgroup> sums: array<vec4f, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
    let m = step.batch;
    var acc = vec4f(0.0);
    for (var i = t; i < m; i += 256u) {
        acc.x += losses[i];
        acc.y += correct[i];
    }
    if (step.with_norms == 1u) {
        let total = p.n_tensors * m;
        for (var e = t; e < total; e += 256u) {
            acc.z += norms[(e / m) * p.m_max + e % m];
        }
        for (var i = t; i < p.n_partials; i += 256u) { acc.w += partials[i]; }
    }
    sums[t] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (t < s) { sums[t] += sums[t + s]; }
        workgroupBarrier();
    }
    if (t == 0u) {
        let o = step.stats_slot * 4u;
        stats[o] = sums[0].x;
        stats[o + 1u] = sums[0].y;
        stats[o + 2u] = sums[0].z;
        stats[o + 3u] = sums[0].w;
    }
}
