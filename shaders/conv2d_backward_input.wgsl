// conv2d_backward_input.wgsl — dx[i] = convᵀ(dy[i], W), optionally ⊙ relu'(aux[i]) (the
// derivative of the activation that produced this layer's input).
// CPU twin: reference::conv2d::backward_input (it scatters; this gathers).
// Host side: ConvParams in src/gpu/conv.rs; CPU engine: src/engine/cpu/conv.rs.
// Implicit GEMM (conv_gemm.wgsl): dx = Wᵀ · D̂, rows the C_in input channels, k = (o, u, v)
// over C_out·K_h·K_w, columns (i, y, x) over the chunk's examples × input pixels; D̂'s entry is
// dy[i, o, oy, ox] where filter tap (u, v) at output (oy, ox) lands on (y, x), else 0.
// Arithmetic intensity: 16 FLOP per byte loaded from storage in full tiles (conv_gemm.wgsl), =
// the 64×64 matmul's (above it where taps miss the output grid and are not loaded). Fewer than
// 64 input channels fill part of the tile: M·N / (2·(M + N)), cnn-mnist conv 1 (32) 10.7.
// Parameters: struct Conv / Pool and the flag bits from conv_params.wgsl.
// Bindings (group 0): 0 params, 1 dy (m × C_out·P), 2 weights, 3 aux (m × C_in·H·W), 4 dx.
// Dispatch: (ceil(m·H·W / 64), ceil(C_in / 64), 1).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// k = (o, u, v): digits of radices (K_h, K_w).
fn radix() -> vec2u { return vec2u(p.k_h, p.k_w); }

struct ACtx { c: u32 }

fn a_ctx(c: u32, ex: u32) -> ACtx { return ACtx(c); }

fn a_at(e: u32, d: vec3u, ctx: ACtx) -> f32 {
    return weights[p.w_off + ((d.x * p.in_c + ctx.c) * p.k_h + d.y) * p.k_w + d.z];
}

/// Column (example i, input pixel (y, x)): dy's offset for example i, y + pad_top, x + pad_left.
struct BCtx { base: u32, ty: i32, tx: i32 }

fn b_ctx(col: u32, ex: u32) -> BCtx {
    let pixels = p.in_h * p.in_w;
    let i = col / pixels;
    let iy = (col % pixels) / p.in_w;
    let ix = col % p.in_w;
    return BCtx(i * p.out_c * p.out_h * p.out_w, i32(iy + p.pad_top), i32(ix + p.pad_left));
}

/// dy at the output whose tap d = (o, u, v) lands on this column's pixel, or 0.
fn b_at(e: u32, d: vec3u, ctx: BCtx) -> f32 {
    let ty = ctx.ty - i32(d.y); // = oy · stride
    let tx = ctx.tx - i32(d.z);
    if (ty < 0 || tx < 0) { return 0.0; }
    var oy = u32(ty);
    var ox = u32(tx);
    if (p.stride != 1u) {
        if (oy % p.stride != 0u || ox % p.stride != 0u) { return 0.0; }
        oy /= p.stride;
        ox /= p.stride;
    }
    if (oy >= p.out_h || ox >= p.out_w) { return 0.0; }
    return dy[ctx.base + (d.x * p.out_h + oy) * p.out_w + ox];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
    let pixels = p.in_h * p.in_w;
    let cols = step.m * pixels;
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;
    let blk = tile_product(row0, col0, 0u, p.out_c * p.k_h * p.k_w, p.in_c, cols, lid, li, 0u);
    for (var r = 0u; r < BLOCK_M; r++) {
        let c = row0 + out_row(lid, r);
        for (var j = 0u; j < 8u; j++) {
            let col = col0 + out_col(lid, j);
            if (c < p.in_c && col < cols) {
                let at = ((col / pixels) * p.in_c + c) * pixels + col % pixels;
                var val = block_at(blk, r, j);
                if ((p.flags & MUL_RELU_DERIV) != 0u && aux[at] <= 0.0) { val = 0.0; }
                dx[at] = val;
            }
        }
    }
}
