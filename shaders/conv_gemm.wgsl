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
// The blocking is matmul.wgsl's `blocked` square tile: an 8×8 workgroup computes a TILE_M×64
// tile of A·B, each thread a BLOCK_M×8 block of neighbouring outputs (rows BLOCK_M·ty + i,
// columns 8·tx + j: `out_row`, `out_col`; the Block of block8x8.wgsl, appended by the host),
// stepping through K in slices of 16 staged in workgroup memory as vec4s of four neighbouring
// rows (A) or columns (B). The host prepends TILE_M and BLOCK_M = TILE_M / 8 (src/gpu/conv.rs): 64 (square) or 32 (narrow, for layers of at
// most 32 rows: cnn-mnist's conv 0 with 32 filters, conv 1's input gradient with 32 input
// channels). Per k a thread reads BLOCK_M / 4 + 2 vec4s from workgroup memory for 8·BLOCK_M
// multiply-adds, where 4×4 blocks read 4 + 4 scalars for 16: software GPUs run each workgroup
// load as one load per lane (see matmul.wgsl).
// Arithmetic intensity, square: per slice the workgroup loads at most 64·16 values of A and
// 16·64 of B (8,192 B) for 2·64·64·16 = 131,072 FLOPs: 16 FLOP per byte loaded from storage, the
// same as the 64×64 matmul (more where taps fall in the padding and are not loaded). Narrow:
// 32·16 + 16·64 values (6,144 B) for 2·32·64·16 = 65,536 FLOPs, 10.7 FLOP/B, which is what the
// square tile reaches on the same ≤ 32-row layers (rows outside A are not loaded there), with
// half its threads' multiply-adds spent on rows that do not exist.
const TILE_N: u32 = 64u;
const SLICE: u32 = 16u;
const QUADS_A: u32 = TILE_M / 4u; // vec4s of rows per k in the A tile: 16 or 8

var<workgroup> tile_a: array<array<vec4f, QUADS_A>, SLICE>; // [k][rows 4q … 4q+3]
var<workgroup> tile_b: array<array<vec4f, 16>, SLICE>; // [k][columns 4q … 4q+3]

/// The tile row of this thread's block row i (0 … BLOCK_M - 1).
fn out_row(lid: vec3u, i: u32) -> u32 {
    return BLOCK_M * lid.y + i;
}

/// The tile column of this thread's block column j (0 … 7).
fn out_col(lid: vec3u, j: u32) -> u32 {
    return 8u * lid.x + j;
}

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

/// Four rows r … r+3 of A at k (zeros outside the operand: no load, which also keeps reads in bounds).
fn a_quad(k: u32, d: vec3u, r: u32, c0: ACtx, c1: ACtx, c2: ACtx, c3: ACtx, k_end: u32, rows: u32) -> vec4f {
    var v = vec4f(0.0);
    if (k < k_end) {
        if (r < rows) { v.x = a_at(k, d, c0); }
        if (r + 1u < rows) { v.y = a_at(k, d, c1); }
        if (r + 2u < rows) { v.z = a_at(k, d, c2); }
        if (r + 3u < rows) { v.w = a_at(k, d, c3); }
    }
    return v;
}

/// Four columns c … c+3 of B at k, likewise.
fn b_quad(k: u32, d: vec3u, c: u32, c0: BCtx, c1: BCtx, c2: BCtx, c3: BCtx, k_end: u32, cols: u32) -> vec4f {
    var v = vec4f(0.0);
    if (k < k_end) {
        if (c < cols) { v.x = b_at(k, d, c0); }
        if (c + 1u < cols) { v.y = b_at(k, d, c1); }
        if (c + 2u < cols) { v.z = b_at(k, d, c2); }
        if (c + 3u < cols) { v.w = b_at(k, d, c3); }
    }
    return v;
}

/// The TILE_M×64 tile of A·B at (row0, col0), summing k over [k_begin, k_end) in ascending order;
/// rows ≥ `rows` and columns ≥ `cols` read as zero. Call in uniform control flow.
fn tile_product(row0: u32, col0: u32, k_begin: u32, k_end: u32, rows: u32, cols: u32,
                lid: vec3u, li: u32, ex: u32) -> Block {
    let rad = radix();
    let stride = digits(SLICE, rad);
    // This thread stages A's rows 4·qa … 4·qa + 3 at k = k0 + ka + KA_STEP·j (j < 16 / KA_STEP)
    // and B's columns 4·qb … 4·qb + 3 at k = k0 + kb + 4j (j < 4): the same rows and columns in
    // every slice, so their index arithmetic is done once, here.
    let ka_step = 64u / QUADS_A; // 4 (square) or 8 (narrow)
    let qa = li % QUADS_A;
    let ka = li / QUADS_A;
    let qb = li % 16u;
    let kb = li / 16u;
    let ra = row0 + 4u * qa;
    let cb = col0 + 4u * qb;
    let a0 = a_ctx(ra, ex);
    let a1 = a_ctx(ra + 1u, ex);
    let a2 = a_ctx(ra + 2u, ex);
    let a3 = a_ctx(ra + 3u, ex);
    let b0 = b_ctx(cb, ex);
    let b1 = b_ctx(cb + 1u, ex);
    let b2 = b_ctx(cb + 2u, ex);
    let b3 = b_ctx(cb + 3u, ex);
    var k_a = k_begin + ka;
    var k_b = k_begin + kb;
    var da0 = digits(k_a, rad);
    var da1 = digits(k_a + ka_step, rad);
    var da2 = digits(k_a + 2u * ka_step, rad);
    var da3 = digits(k_a + 3u * ka_step, rad);
    var db0 = digits(k_b, rad);
    var db1 = digits(k_b + 4u, rad);
    var db2 = digits(k_b + 8u, rad);
    var db3 = digits(k_b + 12u, rad);
    var acc: Block; // block8x8.wgsl; rows 4–7 unused in the 32-row tile
    for (var k0 = k_begin; k0 < k_end; k0 += SLICE) {
        tile_a[ka][qa] = a_quad(k_a, da0, ra, a0, a1, a2, a3, k_end, rows);
        tile_a[ka + ka_step][qa] = a_quad(k_a + ka_step, da1, ra, a0, a1, a2, a3, k_end, rows);
        if (QUADS_A == 16u) {
            tile_a[ka + 2u * ka_step][qa] = a_quad(k_a + 2u * ka_step, da2, ra, a0, a1, a2, a3, k_end, rows);
            tile_a[ka + 3u * ka_step][qa] = a_quad(k_a + 3u * ka_step, da3, ra, a0, a1, a2, a3, k_end, rows);
        }
        tile_b[kb][qb] = b_quad(k_b, db0, cb, b0, b1, b2, b3, k_end, cols);
        tile_b[kb + 4u][qb] = b_quad(k_b + 4u, db1, cb, b0, b1, b2, b3, k_end, cols);
        tile_b[kb + 8u][qb] = b_quad(k_b + 8u, db2, cb, b0, b1, b2, b3, k_end, cols);
        tile_b[kb + 12u][qb] = b_quad(k_b + 12u, db3, cb, b0, b1, b2, b3, k_end, cols);
        workgroupBarrier();
        for (var kk = 0u; kk < SLICE; kk++) {
            let bl = tile_b[kk][2u * lid.x];
            let bh = tile_b[kk][2u * lid.x + 1u];
            let lo = tile_a[kk][(BLOCK_M / 4u) * lid.y];
            var hi = vec4f(0.0);
            if (BLOCK_M > 4u) { hi = tile_a[kk][2u * lid.y + 1u]; }
            block_fma(&acc, lo, hi, bl, bh, BLOCK_M > 4u);
        }
        workgroupBarrier();
        k_a += SLICE;
        k_b += SLICE;
        da0 = advance(da0, stride, rad);
        da1 = advance(da1, stride, rad);
        da2 = advance(da2, stride, rad);
        da3 = advance(da3, stride, rad);
        db0 = advance(db0, stride, rad);
        db1 = advance(db1, stride, rad);
        db2 = advance(db2, stride, rad);
        db3 = advance(db3, stride, rad);
    }
    return acc;
}
