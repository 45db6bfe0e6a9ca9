//! Twin of `shaders/matmul.wgsl`: `out = epilogue(A·B)` with optional transposes.
//!
//! `A` is logically `M×K` (stored `M×K`, or `K×M` when `trans_a`), `B` is `K×N` (stored `K×N`,
//! or `N×K` when `trans_b`), `out` is `M×N` row-major. The epilogue flags are
//! `model::epilogue`'s, the shader's bit values.

use crate::model::epilogue::{ACCUMULATE, ADD_BIAS, MUL_RELU_DERIV, MUL_TANH_DERIV, RELU, SCALE_INV_M, TANH};

/// Shapes, transposes and epilogue of one matrix product.
#[derive(Clone, Copy, Debug)]
pub struct MatmulSpec {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub flags: u32,
}

/// tanh with its argument clamped to ±15, as the shader does: some GPU `tanh`s return NaN for
/// large arguments (exp overflow), and tanh(±15) is already ±1 in f32.
pub fn safe_tanh(x: f32) -> f32 {
    x.clamp(-15.0, 15.0).tanh()
}

/// `bias` is indexed by output column, `aux` (the activations whose derivative multiplies the
/// result) like `out`; `inv_m` is used by `SCALE_INV_M`.
pub fn matmul(s: MatmulSpec, a: &[f32], b: &[f32], bias: &[f32], aux: &[f32], inv_m: f32, out: &mut [f32]) {
    // Each output sums its k products in ascending k, as the shader's threads do; the loops run
    // k outside and columns inside (B as [k, n] rows), so the inner loop is contiguous and
    // vectorises without changing any output's order of additions.
    let b_rows: std::borrow::Cow<[f32]> = if s.trans_b {
        let mut t = vec![0.0; s.k * s.n];
        for c in 0..s.n {
            for k in 0..s.k {
                t[k * s.n + c] = b[c * s.k + k];
            }
        }
        t.into()
    } else {
        (&b[..s.k * s.n]).into()
    };
    let mut acc = vec![0.0f32; s.n];
    for r in 0..s.m {
        acc.fill(0.0);
        for k in 0..s.k {
            let av = if s.trans_a { a[k * s.m + r] } else { a[r * s.k + k] };
            for (o, &bv) in acc.iter_mut().zip(&b_rows[k * s.n..(k + 1) * s.n]) {
                *o += av * bv;
            }
        }
        for (c, &v) in acc.iter().enumerate() {
            let v = epilogue(s.flags, v, bias.get(c).copied().unwrap_or(0.0), aux.get(r * s.n + c).copied().unwrap_or(0.0), inv_m);
            if s.flags & ACCUMULATE != 0 {
                out[r * s.n + c] += v;
            } else {
                out[r * s.n + c] = v;
            }
        }
    }
}

/// The epilogue in the shader's order: scale, bias, activation, derivative.
pub fn epilogue(flags: u32, acc: f32, bias: f32, aux: f32, inv_m: f32) -> f32 {
    let mut v = acc;
    if flags & SCALE_INV_M != 0 {
        v *= inv_m;
    }
    if flags & ADD_BIAS != 0 {
        v += bias;
    }
    if flags & RELU != 0 {
        v = v.max(0.0);
    }
    if flags & TANH != 0 {
        v = safe_tanh(v);
    }
    if flags & MUL_RELU_DERIV != 0 && aux <= 0.0 {
        v = 0.0;
    }
    if flags & MUL_TANH_DERIV != 0 {
        v *= 1.0 - aux * aux;
    }
    v
}
