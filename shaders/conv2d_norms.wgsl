// conv2d_norms.wgsl — per-example squared norms of a convolution's filter and bias gradients,
// exact: ‖G_i‖² and ‖Σ_p δ_{i,p}‖², with G_i = Σ_p δ_{i,p} x_{i,p}ᵀ. This kernel forms each
// 64×64 tile of G_i (plus a column of ones: the bias gradient) and writes the tile's sums of
// squares; conv2d_norms_reduce.wgsl adds the tiles of each example. The approximation of the
// reference code is conv2d_norms_approx.wgsl.
// CPU twin: reference::conv2d::norms_per_example (f64 sums; tests compare with tolerances).
// Host side: ConvParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Implicit GEMM (conv_gemm.wgsl) per example: G_i = Δ_i · X̂_i, Δ_i the [C_out, P] errors, X̂_i
// its im2col matrix [P, C_in·K_h·K_w]; one row of workgroups per example, each thread looping
// over P / 16 slices (49 for a 28×28 output).
// Arithmetic intensity: 16 FLOP per byte loaded from storage (conv_gemm.wgsl), = the 64×64
// matmul's; the squares and the two reductions add 3 FLOPs per entry of G_i and no tile loads.
// A layer that fills an M×N part of a tile does M·N / (2·(M + N)): cnn-mnist conv 0 7.2, conv 1 16.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Operands and bindings: conv_filter_operands.wgsl, ex = the example; binding 3 partial (example i, tile t: 2·(i·tiles + t) and + 1).
// Dispatch: (ceil((C_in·K_h·K_w + 1) / 64), ceil(C_out / 64) · m, 1).
var<workgroup> sums: array<vec2f, 64>;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
    let cols = p.in_c * p.k_h * p.k_w + 1u;
    let row_tiles = (p.out_c + TILE_M - 1u) / TILE_M;
    let col_tiles = (cols + TILE_N - 1u) / TILE_N;
    let ex = wid.y / row_tiles;
    let row0 = (wid.y % row_tiles) * TILE_M;
    let col0 = wid.x * TILE_N;
    let blk = tile_product(row0, col0, 0u, p.out_h * p.out_w, p.out_c, cols, lid, li, ex);
    var acc = vec2f(0.0);
    for (var r = 0u; r < BLOCK_M; r++) {
        if (row0 + out_row(lid, r) < p.out_c) {
            for (var j = 0u; j < 8u; j++) {
                let col = col0 + out_col(lid, j);
                let v = block_at(blk, r, j);
                if (col + 1u < cols) { acc.x += v * v; }
                if (col + 1u == cols) { acc.y += v * v; }
            }
        }
    }
    sums[li] = acc;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (li < s) { sums[li] += sums[li + s]; }
        workgroupBarrier();
    }
    if (li == 0u) {
        let at = 2u * (ex * row_tiles * col_tiles + (wid.y % row_tiles) * col_tiles + wid.x);
        partial[at] = sums[0].x;
        partial[at + 1u] = sums[0].y;
    }
}
