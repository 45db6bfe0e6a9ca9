// softmax_xent.wgsl — per-example softmax cross-entropy, its logit gradient, and correctness.
// CPU twin: reference::softmax_xent::softmax_xent.
// Host side: SoftmaxXentParams in src/gpu/small.rs; CPU engine: src/engine/cpu/small.rs.
// δ_i = softmax(z_i) − onehot(y_i), not divided by m: these are per-example errors, which the
// per-example norms need; the 1/m of the mean gradient is applied in the gradient matmul.
// Bindings (group 0): 0 params, 1 logits, 2 labels, 3 delta, 4 losses, 5 correct.
// Dispatch: (ceil(m / 64), 1, 1).
struct Params { classes: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;
@group(0) @binding(5) var<storage, read_write> correct: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.x;
    if (i >= step.m) { return; }
    let base = i * p.classes;
    let y = labels[i];
    var mx = logits[base];
    var arg = 0u;
    for (var c = 1u; c < p.classes; c++) {
        let v = logits[base + c];
        if (v > mx) { mx = v; arg = c; }
    }
    var s = 0.0;
    for (var c = 0u; c < p.classes; c++) { s += exp(logits[base + c] - mx); }
    let lse = mx + log(s);
    losses[step.row_base + i] = lse - logits[base + y];
    correct[step.row_base + i] = select(0.0, 1.0, arg == y);
    for (var c = 0u; c < p.classes; c++) {
        let prob = exp(logits[base + c] - mx) / s;
        delta[base + c] = select(prob, prob - 1.0, c == y);
    }
}
