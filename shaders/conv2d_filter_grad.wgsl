// conv2d_filter_grad.wgsl — partial filter and bias gradients Σ_{(i,p) in split s} δ_{i,p} x_{i,p}ᵀ
// and Σ δ_{i,p}; conv2d_grad_reduce.wgsl then sums the splits and scales by 1/m.
// CPU twin: reference::conv2d::filter_grad (which sums examples and positions in one run; the
// split changes the rounding only, tests compare with tolerances).
// Host side: ConvParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Implicit GEMM (conv_gemm.wgsl): G = Δ · X̂ with Δ the [C_out, m·P] errors and X̂ the im2col
// matrix (rows (i, q) over the chunk's examples × positions, columns (c, u, v)), plus one column
// of ones whose product is the bias gradient. The long reduction over m·P is cut into splits of
// SPLIT_K (one row of workgroups each), so no thread loops more than SPLIT_K / 16 = 256 slices
// whatever the chunk: lavapipe returned wrong sums from threads that looped past ~40,000 times.
// Arithmetic intensity: 16 FLOP per byte loaded from storage in the tiles (conv_gemm.wgsl), =
// the 64×64 matmul's; the reduction reloads 4 B per output and split (2·SPLIT_K FLOPs), so the
// pair does 2·4096 / (512 + 4) = 15.9 FLOP/B where the tiles are full. A layer that fills an
// M×N part of a tile does M·N / (2·(M + N)): cnn-mnist conv 0 (32 filters × 26 columns) 7.2.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Operands and bindings: conv_filter_operands.wgsl, with ex = 0; binding 3 partial (split s, filter o, column j at (s·C_out + o)·(C_in·K_h·K_w + 1) + j).
// Dispatch: (ceil((C_in·K_h·K_w + 1) / 64), ceil(C_out / 64) · ceil(m·P / SPLIT_K), 1).
@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
    let cols = p.in_c * p.k_h * p.k_w + 1u;
    let row_tiles = (p.out_c + TILE_M - 1u) / TILE_M;
    let split = wid.y / row_tiles;
    let row0 = (wid.y % row_tiles) * TILE_M;
    let col0 = wid.x * TILE_N;
    let depth = step.m * p.out_h * p.out_w;
    let k_begin = split * SPLIT_K;
    let blk = tile_product(row0, col0, k_begin, min(k_begin + SPLIT_K, depth), p.out_c, cols, lid, li, 0u);
    for (var r = 0u; r < BLOCK_M; r++) {
        let o = row0 + out_row(lid, r);
        for (var j = 0u; j < 8u; j++) {
            let col = col0 + out_col(lid, j);
            if (o < p.out_c && col < cols) { partial[(split * p.out_c + o) * cols + col] = block_at(blk, r, j); }
        }
    }
}
