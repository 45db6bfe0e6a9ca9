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
// Host side: MatmulParams in src/gpu/matmul.rs; CPU engine: src/engine/cpu/dense.rs.
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
// fixed reduction is at most 16 deep (the output layer's δ back through 10 classes), where
// one staged slice would be the whole loop and its two barriers all the cost: software GPUs run
// a barrier as a switch between every group of lanes, which outweighs the reloads from storage
// at so shallow a reduction. Each thread loads 4 + 4 values per
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

fn load_a(r: u32, k: u32, rows: u32, depth: u32, trans: bool) -> f32 {
    if (r >= rows || k >= depth) { return 0.0; }
    if (trans) { return a[p.a_off + k * rows + r]; }
    return a[p.a_off + r * depth + k];
}

fn load_b(k: u32, c: u32, depth: u32, cols: u32, trans: bool) -> f32 {
    if (k >= depth || c >= cols) { return 0.0; }
    if (trans) { return b[p.b_off + c * depth + k]; }
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
                tile_a[e % TM][e / TM] = load_a(row0 + e % TM, k0 + e / TM, rows, depth, true);
            } else {
                tile_a[e / SLICE][e % SLICE] = load_a(row0 + e / SLICE, k0 + e % SLICE, rows, depth, false);
            }
        }
        for (var e = li; e < TN * SLICE; e += RX * RY) {
            if (p.trans_b == 1u) {
                tile_b[e % SLICE][e / SLICE] = load_b(k0 + e % SLICE, col0 + e / SLICE, depth, cols, true);
            } else {
                tile_b[e / TN][e % TN] = load_b(k0 + e / TN, col0 + e % TN, depth, cols, false);
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
    store_row(row0 + lid.y, col0 + lid.x, RX, acc0, rows, cols);
    store_row(row0 + lid.y + RY, col0 + lid.x, RX, acc1, rows, cols);
    store_row(row0 + lid.y + 2u * RY, col0 + lid.x, RX, acc2, rows, cols);
    store_row(row0 + lid.y + 3u * RY, col0 + lid.x, RX, acc3, rows, cols);
}

/// Write one thread's four outputs of row r (columns c + stride·j) through the epilogue.
fn store_row(r: u32, c: u32, stride: u32, acc: vec4f, rows: u32, cols: u32) {
    if (r >= rows) { return; }
    for (var j = 0u; j < 4u; j++) {
        let cj = c + stride * j;
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
    let ta = p.trans_a == 1u;
    let tb = p.trans_b == 1u;
    for (var k = 0u; k < depth; k++) {
        let bv = vec4f(load_b(k, c, depth, cols, tb), load_b(k, c + RX, depth, cols, tb), load_b(k, c + 2u * RX, depth, cols, tb),
                       load_b(k, c + 3u * RX, depth, cols, tb));
        acc0 += load_a(r, k, rows, depth, ta) * bv;
        acc1 += load_a(r + RY, k, rows, depth, ta) * bv;
        acc2 += load_a(r + 2u * RY, k, rows, depth, ta) * bv;
        acc3 += load_a(r + 3u * RY, k, rows, depth, ta) * bv;
    }
    store_row(r, c, RX, acc0, rows, cols);
    store_row(r + RY, c, RX, acc1, rows, cols);
    store_row(r + 2u * RY, c, RX, acc2, rows, cols);
    store_row(r + 3u * RY, c, RX, acc3, rows, cols);
}

// Entry points `blocked` and `blocked16`: the square 64×64 tile with 8×8 threads, and a 16×64
// tile with 8×2 threads (for chunks of at most 16 rows on software adapters, where the 16×256
// wide tile's 4×4 blocks ran 2–3× slower), each thread an 8×8 block of neighbouring outputs
// (rows 8·ty …, columns 8·tx …: the Block of block8x8.wgsl, which the host appends), the
// operands staged as vec4s of four neighbouring rows (A) or columns (B), one pipeline per
// transposition (the overrides below).
// Per k a thread reads 2 + 2 vec4s from workgroup memory for 64 multiply-adds, where `main`
// reads 4 + 4 scalars for 16: software GPUs run each workgroup load as one load per lane, so
// loads, not arithmetic, bound `main` there. Interleaved in headless Chromium (SwiftShader), the
// 256×784 · 784×256 forward and 256×256 · 256×784 weight gradient of the MLP at m = 256 ran
// 2.4–2.6× faster than in `main`, and 10–20 % faster with the transposition fixed per pipeline
// than read from the uniform (the branch in every load is gone); cnn-mnist's 16×3136 · 3136×1024
// forward and its δ 2.9× faster in `blocked16` than in the wide tile. Intensity: the square tile
// loads what `main`'s does, 16 FLOP per byte loaded from storage; 64 accumulators per thread is
// the register blocking of the classic SGEMM kernels on hardware GPUs. The 16×64 tile does
// 2·16·64·16 / ((16 + 64)·16·4 B) = 6.4 FLOP/B, near the wide tile's 7.5. Same summation order
// as `main` (k ascending).
override TRANS_A: bool = false;
override TRANS_B: bool = false;

var<workgroup> block_a: array<array<vec4f, 16>, SLICE>; // [k][rows 4q … 4q+3 of the tile]
var<workgroup> block_b: array<array<vec4f, 16>, SLICE>; // [k][columns 4q … 4q+3 of the tile]

@compute @workgroup_size(8, 8)
fn blocked(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
           @builtin(local_invocation_index) li: u32) {
    blocked_tile(wid, lid, li, 8u);
}

@compute @workgroup_size(8, 2)
fn blocked16(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(local_invocation_index) li: u32) {
    blocked_tile(wid, lid, li, 2u);
}

/// The (8·threads_y)×64 tile of workgroup `wid`, 8 × threads_y threads of 8×8 blocks.
fn blocked_tile(wid: vec3u, lid: vec3u, li: u32, threads_y: u32) {
    var rows = p.m;
    var depth = p.k;
    if (p.batch_dim == 1u) { rows = step.m; }
    if (p.batch_dim == 2u) { depth = step.m; }
    let cols = p.n;
    let threads = 8u * threads_y;
    let quads_a = 2u * threads_y; // vec4s of rows per k in the A tile
    let row0 = wid.y * 8u * threads_y;
    let col0 = wid.x * 64u;
    var acc: Block; // block8x8.wgsl
    for (var k0 = 0u; k0 < depth; k0 += SLICE) {
        // quads_a·SLICE and 16·SLICE vec4s, `threads` at a time; the index order follows the
        // operand's storage order, so neighbouring threads read neighbouring addresses.
        for (var e = li; e < quads_a * SLICE; e += threads) {
            var kk = e % SLICE;
            var q = e / SLICE;
            if (TRANS_A) { kk = e / quads_a; q = e % quads_a; }
            let r = row0 + 4u * q;
            let k = k0 + kk;
            block_a[kk][q] = vec4f(load_a(r, k, rows, depth, TRANS_A), load_a(r + 1u, k, rows, depth, TRANS_A),
                                   load_a(r + 2u, k, rows, depth, TRANS_A), load_a(r + 3u, k, rows, depth, TRANS_A));
        }
        for (var e = li; e < 16u * SLICE; e += threads) {
            var kk = e / 16u;
            var q = e % 16u;
            if (TRANS_B) { kk = e % SLICE; q = e / SLICE; }
            let c = col0 + 4u * q;
            let k = k0 + kk;
            block_b[kk][q] = vec4f(load_b(k, c, depth, cols, TRANS_B), load_b(k, c + 1u, depth, cols, TRANS_B),
                                   load_b(k, c + 2u, depth, cols, TRANS_B), load_b(k, c + 3u, depth, cols, TRANS_B));
        }
        workgroupBarrier();
        for (var kk = 0u; kk < SLICE; kk++) {
            let bl = block_b[kk][2u * lid.x];
            let bh = block_b[kk][2u * lid.x + 1u];
            let a0 = block_a[kk][2u * lid.y];
            let a1 = block_a[kk][2u * lid.y + 1u];
            block_fma(&acc, a0, a1, bl, bh, true);
        }
        workgroupBarrier();
    }
    let r = row0 + 8u * lid.y;
    let c = col0 + 8u * lid.x;
    for (var i = 0u; i < 8u; i++) {
        store_row(r + i, c, 1u, block_row(acc, i, 0u), rows, cols);
        store_row(r + i, c + 4u, 1u, block_row(acc, i, 1u), rows, cols);
    }
}
