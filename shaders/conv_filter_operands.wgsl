// conv_filter_operands.wgsl — the operands of the two implicit GEMMs over a convolution's filter,
// G = Δ · X̂ (conv2d_filter_grad.wgsl: all of a chunk's examples; conv2d_norms.wgsl: each
// example's own G_i), prepended to both. A row k = (i, y, x) is an example's output position: the
// filter gradient walks i over the chunk (ex = 0); the norms keep i = 0 and pass the example as
// ex, which offsets both operands.
// Bindings (group 0): 0 params, 1 x (m × C_in·H·W), 2 dy (m × C_out·P), 3 partial (each kernel's own layout).
@group(0) @binding(0) var<uniform> p: Conv;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

// k = (i, y, x) over examples × output positions: digits of radices (out_h, out_w).
fn radix() -> vec2u { return vec2u(p.out_h, p.out_w); }

struct ACtx { o: u32 }

fn a_ctx(o: u32, ex: u32) -> ACtx { return ACtx(ex * p.out_c + o); }

fn a_at(k: u32, d: vec3u, ctx: ACtx) -> f32 {
    return dy[((d.x * p.out_c + ctx.o) * p.out_h + d.y) * p.out_w + d.z];
}

/// Column e = (c, u, v) of the filter, or the last column (ones: the bias gradient).
struct BCtx { ones: bool, base: u32, u: i32, v: i32 }

fn b_ctx(e: u32, ex: u32) -> BCtx {
    let kk = p.k_h * p.k_w;
    let c = e / kk;
    let u = i32((e % kk) / p.k_w) - i32(p.pad_top);
    let v = i32(e % p.k_w) - i32(p.pad_left);
    return BCtx(e == p.in_c * kk, ex * p.in_c * p.in_h * p.in_w + c * p.in_h * p.in_w, u, v);
}

/// The input under this column's tap at row d = (i, y, x) (0 in the padding), or 1.
fn b_at(k: u32, d: vec3u, ctx: BCtx) -> f32 {
    if (ctx.ones) { return 1.0; }
    let yy = i32(d.y * p.stride) + ctx.u;
    let xx = i32(d.z * p.stride) + ctx.v;
    if (yy < 0 || yy >= i32(p.in_h) || xx < 0 || xx >= i32(p.in_w)) { return 0.0; }
    return x[d.x * p.in_c * p.in_h * p.in_w + ctx.base + u32(yy) * p.in_w + u32(xx)];
}

