// matmul.wgsl — out = epilogue(A·B), register-blocked: a workgroup of RX×RY threads (256; 16 for tiny)
// computes a TM×TN tile of out (TM = 4·RY rows, TN = 4·RX columns), each thread a 4×4 block
// (rows ty + RY·i, columns tx + RX·j), stepping through K in slices of 16 staged in workgroup
// memory. 16 outputs per thread means 16× fewer barriers per multiply-add than one output per
// thread, which is what software GPUs (lavapipe, SwiftShader) pay most for, and it reuses each
// loaded value four times on real GPUs.
// The host prepends `const RX`, `const RY` and `const SLICE` (k per staging round; 8 for the
// wide and narrow shapes, so that their tiles stay within WebGPU's guaranteed 16 KiB of
// workgroup storage) (src/gpu/kernels.rs), one pipeline per shape:
//   square  RX = RY = 16: 64×64 tiles, the default.
//   wide    RX = 64, RY = 4: 16×256 tiles, for batches of ≤ 16 rows (a 64-row tile would leave
//           three quarters of its threads idle).
//   narrow  RX = 4, RY = 64: 256×16 tiles, for outputs ≤ 16 wide (the 10-class output layer).
//   tiny    RX = RY = 4: 16×16 tiles of 16 threads, for outputs ≤ 16 wide in chunks of ≤ 16 rows
//           (the class scores of a small step, where a 256×16 tile would idle 15/16 threads).
// Arithmetic intensity (FLOPs per byte loaded from storage, per K slice of 16):
//   square  2·64·64·16 / ((64 + 64)·16·4 B) = 131,072 / 8,192 = 16 FLOP/B;
//   wide / narrow  2·16·256·16 / ((16 + 256)·16·4 B) = 131,072 / 17,408 ≈ 7.5 FLOP/B;
//   tiny  2·16·16·16 / ((16 + 16)·16·4 B) = 8,192 / 2,048 = 4 FLOP/B (used only where the
//         product is at most 16 × 16, so no larger tile loads less).
// CPU twin: reference::matmul::matmul (same flag bits; each output sums k in ascending order).
// A is M×K (stored K×M when trans_a), B is K×N (stored N×K when trans_b), out is M×N row-major.
// batch_dim says which of M (1) or K (2) is the batch size, read from the step uniform, so
// one pipeline and one bind group serve every batch size.
// Uses: forward   Z = A_prev·Wᵀ (+b, activation)        trans_b, batch_dim M
//       backward  δ_prev = δ·W ⊙ act'(A_prev)           batch_dim M
//       gradient  G = (1/m)·δᵀ·A_prev                     trans_a, batch_dim K
// Bindings (group 0): 0 params, 1 a, 2 b (also holds the bias), 3 aux (activations for act'), 4 out.
// Dispatch: (ceil(N / TN), ceil(M / TM), 1).
// Second entry point `direct` (software adapters only; hardware GPUs keep `main`): the same tile
// per workgroup and the same 4×4 block per thread,
// read straight from storage, with no workgroup memory and no barriers. For products whose
// reduction is at most 16 deep (the weight gradient of a chunk of ≤ 16 examples: K = m), where
// one staged slice would be the whole loop and its two barriers all the cost: software GPUs run
// a barrier as a switch between every group of lanes (the square-tile weight gradient of
// 784→256 took 204 of a 279 ms m = 16 step on SwiftShader). Each thread loads 4 + 4 values per
// k for 16 multiply-adds: 32 FLOP per 32 B, 1 FLOP per byte loaded from storage by each thread
// (a hardware GPU's L1 serves the 16× reuse across a workgroup that the tiled entry stages by
// hand; at K ≤ 16 the tiled entry loads each value once too, so it does no better than 16·K·2 /
// ((64 + 64)·K·4 B) = 16 FLOP/B per slice, which here is one slice). Same summation order.
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
const ACCUMULATE: u32 = 64u; // add to out on chunks whose step says accumulate (gradients)

const TM: u32 = 4u * RY;  // output rows per workgroup
const TN: u32 = 4u * RX;  // output columns per workgroup

var<workgroup> tile_a: array<array<f32, SLICE>, TM>; // [row][k]
var<workgroup> tile_b: array<array<f32, TN>, SLICE>; // [k][col]

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

fn epilogue(acc: f32, r: u32, c: u32, cols: u32) -> f32 {
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
    return v;
}

@compute @workgroup_size(RX, RY)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
    var rows = p.m;
    var depth = p.k;
    if (p.batch_dim == 1u) { rows = step.m; }
    if (p.batch_dim == 2u) { depth = step.m; }
    let cols = p.n;
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    // Four named accumulators rather than an array: dynamically indexed private arrays spill to
    // memory on software GPUs (SwiftShader, lavapipe).
    var acc0 = vec4f(0.0);
    var acc1 = vec4f(0.0);
    var acc2 = vec4f(0.0);
    var acc3 = vec4f(0.0);
    for (var k0 = 0u; k0 < depth; k0 += SLICE) {
        // TM·SLICE and SLICE·TN values, RX·RY (the workgroup's threads) at a time. The index order follows the storage order of
        // the operand, so neighbouring threads read neighbouring addresses.
        for (var e = li; e < TM * SLICE; e += RX * RY) {
            if (p.trans_a == 1u) {
                tile_a[e % TM][e / TM] = load_a(row0 + e % TM, k0 + e / TM, rows, depth);
            } else {
                tile_a[e / SLICE][e % SLICE] = load_a(row0 + e / SLICE, k0 + e % SLICE, rows, depth);
            }
        }
        for (var e = li; e < TN * SLICE; e += RX * RY) {
            if (p.trans_b == 1u) {
                tile_b[e % SLICE][e / SLICE] = load_b(k0 + e % SLICE, col0 + e / SLICE, depth, cols);
            } else {
                tile_b[e / TN][e % TN] = load_b(k0 + e / TN, col0 + e % TN, depth, cols);
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < SLICE; kk++) {
            let bv = vec4f(tile_b[kk][lid.x], tile_b[kk][lid.x + RX], tile_b[kk][lid.x + 2u * RX], tile_b[kk][lid.x + 3u * RX]);
            acc0 += tile_a[lid.y][kk] * bv;
            acc1 += tile_a[lid.y + RY][kk] * bv;
            acc2 += tile_a[lid.y + 2u * RY][kk] * bv;
            acc3 += tile_a[lid.y + 3u * RY][kk] * bv;
        }
        workgroupBarrier();
    }
    store_row(row0 + lid.y, col0 + lid.x, acc0, rows, cols);
    store_row(row0 + lid.y + RY, col0 + lid.x, acc1, rows, cols);
    store_row(row0 + lid.y + 2u * RY, col0 + lid.x, acc2, rows, cols);
    store_row(row0 + lid.y + 3u * RY, col0 + lid.x, acc3, rows, cols);
}

/// Write one thread's four outputs of row r (columns c + RX·j) through the epilogue.
fn store_row(r: u32, c: u32, acc: vec4f, rows: u32, cols: u32) {
    if (r >= rows) { return; }
    for (var j = 0u; j < 4u; j++) {
        let cj = c + RX * j;
        if (cj < cols) {
            let at = p.out_off + r * cols + cj;
            var v = epilogue(acc[j], r, cj, cols);
            if ((p.flags & ACCUMULATE) != 0u && step.accumulate == 1u) { v += out[at]; }
            out[at] = v;
        }
    }
}

@compute @workgroup_size(RX, RY)
fn direct(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
    var rows = p.m;
    var depth = p.k;
    if (p.batch_dim == 1u) { rows = step.m; }
    if (p.batch_dim == 2u) { depth = step.m; }
    let cols = p.n;
    let r = wid.y * TM + lid.y;
    let c = wid.x * TN + lid.x;
    var acc0 = vec4f(0.0);
    var acc1 = vec4f(0.0);
    var acc2 = vec4f(0.0);
    var acc3 = vec4f(0.0);
    for (var k = 0u; k < depth; k++) {
        let bv = vec4f(load_b(k, c, depth, cols), load_b(k, c + RX, depth, cols), load_b(k, c + 2u * RX, depth, cols),
                       load_b(k, c + 3u * RX, depth, cols));
        acc0 += load_a(r, k, rows, depth) * bv;
        acc1 += load_a(r + RY, k, rows, depth) * bv;
        acc2 += load_a(r + 2u * RY, k, rows, depth) * bv;
        acc3 += load_a(r + 3u * RY, k, rows, depth) * bv;
    }
    store_row(r, c, acc0, rows, cols);
    store_row(r + RY, c, acc1, rows, cols);
    store_row(r + 2u * RY, c, acc2, rows, cols);
    store_row(r + 3u * RY, c, acc3, rows, cols);
}
