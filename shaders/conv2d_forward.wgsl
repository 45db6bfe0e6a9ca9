// conv2d_forward.wgsl — out[i] = act(conv(x[i], W) + b); NCHW; TensorFlow-style SAME/VALID
// padding (the host passes out_h, out_w and the top/left padding).
// CPU twin: reference::conv2d::forward (ReLU as in reference::matmul::epilogue).
// Host side: ConvParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Implicit GEMM (conv_gemm.wgsl): out = W · X̂ with W the [C_out, C_in·K_h·K_w] filter matrix
// and X̂ the im2col matrix whose column (i, q) holds the patch of example i under output
// position q. Columns run over the chunk's examples × positions, so small batches still fill
// 64-wide tiles. Each output sums the C_in·K_h·K_w products in (c, u, v) order as the twin.
// Arithmetic intensity: 16 FLOP per byte loaded from storage in full tiles (conv_gemm.wgsl), =
// the 64×64 matmul's. Elements outside the matrices are not loaded, so an M×N tile that a layer
// fills only in part does M·N / (2·(M + N)): cnn-mnist conv 0 (32 filters) 10.7, conv 1 16.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 x (m × C_in·H·W), 2 weights (flat parameters: W at w_off as
// [C_out, C_in, K_h, K_w], b at b_off), 3 out (m × C_out·out_h·out_w).
// Dispatch: (ceil(m·out_h·out_w / 64), ceil(C_out / 64), 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// k = (c, u, v): digits of radices (K_h, K_w).
fn radix() -> vec2u { return vec2u(p.k_h, p.k_w); }

struct ACtx { row: u32 }

fn a_ctx(o: u32, ex: u32) -> ACtx { return ACtx(p.w_off + o * p.in_c * p.k_h * p.k_w); }

fn a_at(e: u32, d: vec3u, ctx: ACtx) -> f32 { return weights[ctx.row + e]; }

/// Column (example i, output position q): where the filter's top-left tap lands.
struct BCtx { base: u32, y0: i32, x0: i32 }

fn b_ctx(col: u32, ex: u32) -> BCtx {
    let positions = p.out_h * p.out_w;
    let q = col % positions;
    let y0 = i32((q / p.out_w) * p.stride) - i32(p.pad_top);
    let x0 = i32((q % p.out_w) * p.stride) - i32(p.pad_left);
    return BCtx((col / positions) * p.in_c * p.in_h * p.in_w, y0, x0);
}

/// Input value under filter tap d = (c, u, v) (0 in the padding).
fn b_at(e: u32, d: vec3u, ctx: BCtx) -> f32 {
    let yy = ctx.y0 + i32(d.y);
    let xx = ctx.x0 + i32(d.z);
    if (yy < 0 || yy >= i32(p.in_h) || xx < 0 || xx >= i32(p.in_w)) { return 0.0; }
    return x[ctx.base + (d.x * p.in_h + u32(yy)) * p.in_w + u32(xx)];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
    let positions = p.out_h * p.out_w;
    let cols = step.m * positions;
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;
    let blk = tile_product(row0, col0, 0u, p.in_c * p.k_h * p.k_w, p.out_c, cols, lid, li, 0u);
    for (var r = 0u; r < BLOCK_M; r++) {
        let o = row0 + out_row(lid, r);
        for (var j = 0u; j < 8u; j++) {
            let col = col0 + out_col(lid, j);
            if (o < p.out_c && col < cols) {
                var val = block_at(blk, r, j) + weights[p.b_off + o];
                if ((p.flags & RELU) != 0u) { val = max(val, 0.0); }
                out[(col / positions) * p.out_c * positions + o * positions + col % positions] = val;
            }
        }
    }
}
