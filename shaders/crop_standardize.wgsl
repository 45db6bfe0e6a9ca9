// crop_standardize.wgsl — the input transform of image models: centre crop and, optionally,
// per-image standardisation (x − mean) / max(std, floor) over all values of the cropped image
// (TensorFlow's per_image_standardization; the host passes floor = byte scale / √N).
// CPU twin: reference::crop_standardize (same strided-lane and tree order for the sums).
// Host side: PrepParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Bindings (group 0): 0 params, 1 x (m × C·H·W), 2 out (m × C·out_h·out_w).
// Dispatch: (m, 1, 1) — one workgroup per image.
struct Prep {
    in_c: u32, in_h: u32, in_w: u32, out_h: u32,
    out_w: u32, top: u32, left: u32, standardize: u32,
    floor: f32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> p: Prep;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> sums: array<vec2f, 256>;

fn value(i: u32, j: u32) -> f32 {
    let plane = p.out_h * p.out_w;
    let c = j / plane;
    let y = (j % plane) / p.out_w;
    let xx = j % p.out_w;
    return x[i * p.in_c * p.in_h * p.in_w + (c * p.in_h + y + p.top) * p.in_w + xx + p.left];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
    let i = wid.x;
    if (i >= step.m) { return; }
    let n = p.in_c * p.out_h * p.out_w;
    var mean = 0.0;
    var scale = 1.0;
    if (p.standardize != 0u) {
        var acc = vec2f(0.0);
        for (var j = t; j < n; j += 256u) {
            let v = value(i, j);
            acc += vec2f(v, v * v);
        }
        sums[t] = acc;
        workgroupBarrier();
        for (var s = 128u; s > 0u; s >>= 1u) {
            if (t < s) { sums[t] += sums[t + s]; }
            workgroupBarrier();
        }
        let inv_n = 1.0 / f32(n);
        mean = sums[0].x * inv_n;
        let sd = sqrt(max(sums[0].y * inv_n - mean * mean, 0.0));
        scale = 1.0 / max(sd, p.floor);
    }
    for (var j = t; j < n; j += 256u) {
        out[i * n + j] = (value(i, j) - mean) * scale;
    }
}
