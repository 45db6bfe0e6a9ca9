// block8x8.wgsl — one thread's 8×8 block of accumulators (or its first 4 rows) and its
// multiply-add, shared by matmul.wgsl's `blocked` entries and conv_gemm.wgsl, appended after
// either by the host (src/gpu/matmul.rs, src/gpu/conv.rs).
// Named fields, not an array: dynamically indexed private arrays spill to memory on software
// GPUs (SwiftShader, lavapipe); constant field accesses stay in registers.

/// rᵢl holds row i, columns 0–3; rᵢh columns 4–7. Zero when declared.
struct Block {
    r0l: vec4f, r0h: vec4f, r1l: vec4f, r1h: vec4f, r2l: vec4f, r2h: vec4f, r3l: vec4f, r3h: vec4f,
    r4l: vec4f, r4h: vec4f, r5l: vec4f, r5h: vec4f, r6l: vec4f, r6h: vec4f, r7l: vec4f, r7h: vec4f,
}

/// One k of the product: rows 0–3 (`lo`, one value per row) and, when `eight_rows`, rows 4–7
/// (`hi`) times columns 0–3 (`bl`) and 4–7 (`bh`).
fn block_fma(acc: ptr<function, Block>, lo: vec4f, hi: vec4f, bl: vec4f, bh: vec4f, eight_rows: bool) {
    (*acc).r0l += lo.x * bl; (*acc).r0h += lo.x * bh;
    (*acc).r1l += lo.y * bl; (*acc).r1h += lo.y * bh;
    (*acc).r2l += lo.z * bl; (*acc).r2h += lo.z * bh;
    (*acc).r3l += lo.w * bl; (*acc).r3h += lo.w * bh;
    if (eight_rows) {
        (*acc).r4l += hi.x * bl; (*acc).r4h += hi.x * bh;
        (*acc).r5l += hi.y * bl; (*acc).r5h += hi.y * bh;
        (*acc).r6l += hi.z * bl; (*acc).r6h += hi.z * bh;
        (*acc).r7l += hi.w * bl; (*acc).r7h += hi.w * bh;
    }
}

/// Columns 4h … 4h+3 (h = 0, 1) of row i (0 … 7) of a block.
fn block_row(b: Block, i: u32, h: u32) -> vec4f {
    var l: vec4f;
    var r: vec4f;
    switch i {
        case 0u: { l = b.r0l; r = b.r0h; }
        case 1u: { l = b.r1l; r = b.r1h; }
        case 2u: { l = b.r2l; r = b.r2h; }
        case 3u: { l = b.r3l; r = b.r3h; }
        case 4u: { l = b.r4l; r = b.r4h; }
        case 5u: { l = b.r5l; r = b.r5h; }
        case 6u: { l = b.r6l; r = b.r6h; }
        default: { l = b.r7l; r = b.r7h; }
    }
    return select(l, r, h == 1u);
}

/// Entry (i, j) of a block: row i (0 … 7), column j (0 … 7).
fn block_at(b: Block, i: u32, j: u32) -> f32 {
    return block_row(b, i, j / 4u)[j % 4u];
}
