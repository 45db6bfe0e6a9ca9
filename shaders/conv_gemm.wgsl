// conv_gemm.wgsl — the tiled product behind every convolution kernel (implicit GEMM), appended
// after a kernel's body by src/gpu/conv.rs. The kernel supplies its two operands without ever
// writing an im2col matrix:
//   radix() -> vec2u                 the reduction index k as digits (hi, mid, lo) of radices
//                                    (∞, radix.x, radix.y): (c, u, v) or (o, u, v) over the filter
//                                    taps, (i, y, x) over examples × output positions;
//   a_ctx(r, ex), a_at(k, d, ctx)    element (r, k) of A, d the digits of k, ctx what depends on
//                                    the row only (computed once per thread, outside the loop);
//   b_ctx(c, ex), b_at(k, d, ctx)    element (k, c) of B, likewise;
// `ex` is the example for kernels that run one product per example. Each thread loads the same
// rows of A and columns of B in every slice, so the index arithmetic that depends on them is
// hoisted out of the loop, and the digits of k advance by 16 per slice with two carries: no
// integer division inside the loop (software GPUs run divisions one lane at a time).
// The blocking is matmul.wgsl's square shape: a 16×16 workgroup computes a TILE_M×64 tile of
// A·B, each thread a BLOCK_M×4 block (rows ty + 16i, columns tx + 16j), stepping through K in
// slices of 16 staged in workgroup memory. The host prepends TILE_M and BLOCK_M = TILE_M / 16
// (src/gpu/conv.rs): 64 (square) or 32 (narrow, for layers of at most 32 rows: cnn-mnist's
// conv 0 with 32 filters, conv 1's input gradient with 32 input channels).
// Arithmetic intensity, square: per slice the workgroup loads at most 64·16 values of A and
// 16·64 of B (8,192 B) for 2·64·64·16 = 131,072 FLOPs: 16 FLOP per byte loaded from storage, the
// same as the 64×64 matmul (more where taps fall in the padding and are not loaded). Narrow:
// 32·16 + 16·64 values (6,144 B) for 2·32·64·16 = 65,536 FLOPs, 10.7 FLOP/B, which is what the
// square tile reaches on the same ≤ 32-row layers (rows outside A are not loaded there), with
// half its threads' multiply-adds spent on rows that do not exist.
const TILE_N: u32 = 64u;
const SLICE: u32 = 16u;

var<workgroup> tile_a: array<array<f32, 16>, TILE_M>; // [row][k]
var<workgroup> tile_b: array<array<f32, 64>, 16>; // [k][col]

/// One thread's 4×4 block: r_i holds row ty + 16i, columns tx + 16j in its lanes j.
struct Block { r0: vec4f, r1: vec4f, r2: vec4f, r3: vec4f }

/// k as digits (hi, mid, lo) of radices (∞, r.x, r.y).
fn digits(k: u32, r: vec2u) -> vec3u {
    return vec3u(k / (r.x * r.y), (k / r.y) % r.x, k % r.y);
}

/// d + s for digits d and a step s = digits(16) (each digit of s below its radix).
fn advance(d: vec3u, s: vec3u, r: vec2u) -> vec3u {
    var lo = d.z + s.z;
    var mid = d.y + s.y;
    if (lo >= r.y) { lo -= r.y; mid += 1u; }
    var hi = d.x + s.x;
    if (mid >= r.x) { mid -= r.x; hi += 1u; }
    return vec3u(hi, mid, lo);
}

/// The TILE_M×64 tile of A·B at (row0, col0), summing k over [k_begin, k_end) in ascending order;
/// rows ≥ `rows` and columns ≥ `cols` read as zero. Call in uniform control flow.
fn tile_product(row0: u32, col0: u32, k_begin: u32, k_end: u32, rows: u32, cols: u32,
                lid: vec3u, li: u32, ex: u32) -> Block {
    let rad = radix();
    let stride = digits(SLICE, rad);
    // This thread loads A at rows ra + 16q, k = k0 + li % 16, and B at column cb,
    // k = k0 + li / 64 + 4q (q = 0…3).
    let ra = row0 + li / SLICE;
    let cb = col0 + li % TILE_N;
    let a0 = a_ctx(ra, ex);
    let a1 = a_ctx(ra + 16u, ex);
    let a2 = a_ctx(ra + 32u, ex);
    let a3 = a_ctx(ra + 48u, ex);
    let bc = b_ctx(cb, ex);
    var ka = k_begin + li % SLICE;
    var kb = k_begin + li / TILE_N;
    var da = digits(ka, rad);
    var db0 = digits(kb, rad);
    var db1 = digits(kb + 4u, rad);
    var db2 = digits(kb + 8u, rad);
    var db3 = digits(kb + 12u, rad);
    // Named accumulators, not an array: dynamically indexed private arrays spill to memory on
    // software GPUs (SwiftShader, lavapipe).
    var acc0 = vec4f(0.0);
    var acc1 = vec4f(0.0);
    var acc2 = vec4f(0.0);
    var acc3 = vec4f(0.0);
    let ar = li / SLICE;
    let ak = li % SLICE;
    let bk = li / TILE_N;
    let bcol = li % TILE_N;
    for (var k0 = k_begin; k0 < k_end; k0 += SLICE) {
        // Zeros outside the operands (no load: that is also what keeps reads in bounds).
        var v0 = 0.0;
        var v1 = 0.0;
        var v2 = 0.0;
        var v3 = 0.0;
        if (ka < k_end) {
            if (ra < rows) { v0 = a_at(ka, da, a0); }
            if (ra + 16u < rows) { v1 = a_at(ka, da, a1); }
            if (BLOCK_M > 2u) {
                if (ra + 32u < rows) { v2 = a_at(ka, da, a2); }
                if (ra + 48u < rows) { v3 = a_at(ka, da, a3); }
            }
        }
        tile_a[ar][ak] = v0;
        tile_a[ar + 16u][ak] = v1;
        if (BLOCK_M > 2u) {
            tile_a[ar + 32u][ak] = v2;
            tile_a[ar + 48u][ak] = v3;
        }
        v0 = 0.0;
        v1 = 0.0;
        v2 = 0.0;
        v3 = 0.0;
        if (cb < cols) {
            if (kb < k_end) { v0 = b_at(kb, db0, bc); }
            if (kb + 4u < k_end) { v1 = b_at(kb + 4u, db1, bc); }
            if (kb + 8u < k_end) { v2 = b_at(kb + 8u, db2, bc); }
            if (kb + 12u < k_end) { v3 = b_at(kb + 12u, db3, bc); }
        }
        tile_b[bk][bcol] = v0;
        tile_b[bk + 4u][bcol] = v1;
        tile_b[bk + 8u][bcol] = v2;
        tile_b[bk + 12u][bcol] = v3;
        workgroupBarrier();
        for (var kk = 0u; kk < SLICE; kk++) {
            let bv = vec4f(tile_b[kk][lid.x], tile_b[kk][lid.x + 16u], tile_b[kk][lid.x + 32u], tile_b[kk][lid.x + 48u]);
            acc0 += tile_a[lid.y][kk] * bv;
            acc1 += tile_a[lid.y + 16u][kk] * bv;
            if (BLOCK_M > 2u) {
                acc2 += tile_a[lid.y + 32u][kk] * bv;
                acc3 += tile_a[lid.y + 48u][kk] * bv;
            }
        }
        workgroupBarrier();
        ka += SLICE;
        kb += SLICE;
        da = advance(da, stride, rad);
        db0 = advance(db0, stride, rad);
        db1 = advance(db1, stride, rad);
        db2 = advance(db2, stride, rad);
        db3 = advance(db3, stride, rad);
    }
    return Block(acc0, acc1, acc2, acc3);
}

/// Row i (0 … BLOCK_M - 1) of a block.
fn block_row(b: Block, i: u32) -> vec4f {
    switch i {
        case 0u: { return b.r0; }
        case 1u: { return b.r1; }
        case 2u: { return b.r2; }
        default: { return b.r3; }
    }
}
