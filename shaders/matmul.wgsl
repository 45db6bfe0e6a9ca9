// matmul.wgsl — out = epilogue(A·B), tiled 16×16 through workgroup memory.
// CPU twin: reference::matmul::matmul (same flag bits, same k order).
// A is M×K (stored K×M when trans_a), B is K×N (stored N×K when trans_b), out is M×N row-major.
// batch_dim says which of M (1) or K (2) is the batch size, read from the step uniform, so
// one pipeline and one bind group serve every batch size.
// Uses: forward   Z = A_prev·Wᵀ (+b, activation)        trans_b, batch_dim M
//       backward  δ_prev = δ·W ⊙ act'(A_prev)           batch_dim M
//       gradient  G = (1/m)·δᵀ·A_prev                     trans_a, batch_dim K
// Bindings (group 0): 0 params, 1 a, 2 b (also holds the bias), 3 aux (activations for act'), 4 out.
// Dispatch: (ceil(N / 16), ceil(M / 16), 1).
struct Params {
    m: u32, n: u32, k: u32, batch_dim: u32,
    flags: u32, trans_a: u32, trans_b: u32, a_off: u32,
    b_off: u32, bias_off: u32, aux_off: u32, out_off: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const ADD_BIAS: u32 = 1u;
const RELU: u32 = 2u;
const TANH: u32 = 4u;
const MUL_RELU_DERIV: u32 = 8u;
const MUL_TANH_DERIV: u32 = 16u;
const SCALE_INV_M: u32 = 32u;

var<workgroup> tile_a: array<array<f32, 16>, 16>;
var<workgroup> tile_b: array<array<f32, 16>, 16>;

fn load_a(r: u32, k: u32, rows: u32, depth: u32) -> f32 {
    if (r >= rows || k >= depth) { return 0.0; }
    if (p.trans_a == 1u) { return a[p.a_off + k * rows + r]; }
    return a[p.a_off + r * depth + k];
}

fn load_b(k: u32, c: u32, depth: u32, cols: u32) -> f32 {
    if (k >= depth || c >= cols) { return 0.0; }
    if (p.trans_b == 1u) { return b[p.b_off + c * depth + k]; }
    return b[p.b_off + k * cols + c];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
    var rows = p.m;
    var depth = p.k;
    if (p.batch_dim == 1u) { rows = step.m; }
    if (p.batch_dim == 2u) { depth = step.m; }
    let cols = p.n;
    let r = wid.y * 16u + lid.y;
    let c = wid.x * 16u + lid.x;
    var acc = 0.0;
    for (var k0 = 0u; k0 < depth; k0 += 16u) {
        tile_a[lid.y][lid.x] = load_a(wid.y * 16u + lid.y, k0 + lid.x, rows, depth);
        tile_b[lid.y][lid.x] = load_b(k0 + lid.y, wid.x * 16u + lid.x, depth, cols);
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk++) {
            acc += tile_a[lid.y][kk] * tile_b[kk][lid.x];
        }
        workgroupBarrier();
    }
    if (r >= rows || c >= cols) { return; }
    var v = acc;
    if ((p.flags & SCALE_INV_M) != 0u) { v *= step.inv_m; }
    if ((p.flags & ADD_BIAS) != 0u) { v += b[p.bias_off + c]; }
    if ((p.flags & RELU) != 0u) { v = max(v, 0.0); }
    if ((p.flags & TANH) != 0u) { v = tanh(clamp(v, -15.0, 15.0)); }
    if ((p.flags & MUL_RELU_DERIV) != 0u) {
        if (aux[p.aux_off + r * cols + c] <= 0.0) { v = 0.0; }
    }
    if ((p.flags & MUL_TANH_DERIV) != 0u) {
        let t = aux[p.aux_off + r * cols + c];
        v *= 1.0 - t * t;
    }
    out[p.out_off + r * cols + c] = v;
}
