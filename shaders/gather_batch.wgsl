// gather_batch.wgsl — copy the batch's features and labels out of the data set on the GPU.
// CPU twin: reference::gather::gather_batch.
// Host side: GatherParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// Bindings (group 0): 0 params, 1 data words, 2 labels, 3 permutation, 4 x (m×dim f32), 5 y (m u32).
// Dispatch: (ceil(dim / 64), m, 1).
// Format 0: four grey-level bytes per word (little-endian), value = byte · scale.
// Format 1: the words are f32 bits.
struct Params { dim: u32, format: u32, scale: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> perm: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.y;
    let j = gid.x;
    if (i >= step.m || j >= p.dim) { return; }
    var e = step.offset + i;
    if (step.use_perm == 1u) { e = perm[step.offset + i]; }
    let at = e * p.dim + j;
    var v: f32;
    if (p.format == 0u) {
        v = f32((data[at / 4u] >> ((at % 4u) * 8u)) & 255u) * p.scale;
    } else {
        v = bitcast<f32>(data[at]);
    }
    x[i * p.dim + j] = v;
    if (j == 0u) { y[i] = labels[e]; }
}
