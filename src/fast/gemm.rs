//! The matrix product behind the CPU engine, and the fast twin of [`reference::matmul`] built on
//! it.
//!
//! [`gemm`] computes `C (+)= A·B` for operands with any row and column strides (so transposes
//! cost nothing) with the `matrixmultiply` crate: a cache-blocked, register-blocked GEMM (the
//! BLIS loop nest) that picks AVX-512, AVX2 + FMA or NEON micro-kernels at run time natively, and
//! whose portable kernel LLVM vectorises with wasm `simd128` (enabled in `.cargo/config.toml`).
//! One thread per call; [`matmul_on`] splits a product's output rows over the engine's threads
//! ([`super::pool`]). It was measured against a hand-written kernel of the same design (6 × 16 AVX2,
//! 4 × 8 wasm `f32x4`) and the `gemm` crate: README, "CPU engine speed".
//!
//! The epilogue runs as one vectorisable pass per flag over each output row. Summation order
//! differs from the reference (blocked, fused multiply-adds natively), so results agree with it
//! to rounding, not bit for bit.
//!
//! [`reference::matmul`]: crate::reference::matmul

use super::pool::{ranges, split_rows, Pool};
use crate::model::epilogue::{ACCUMULATE, ADD_BIAS, MUL_RELU_DERIV, MUL_TANH_DERIV, RELU, SCALE_INV_M, TANH};
use crate::reference::matmul::{epilogue, MatmulSpec};
use std::ops::Range;

/// A read-only matrix view: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major `rows × cols`.
    pub fn rows(data: &'a [f32], cols: usize) -> Mat<'a> {
        Mat { data, rs: cols, cs: 1 }
    }

    /// The transpose of a row-major `cols × rows` matrix, seen as `rows × cols`.
    pub fn cols(data: &'a [f32], rows: usize) -> Mat<'a> {
        Mat { data, rs: 1, cs: rows }
    }
}

/// `C = A·B` (or `C += A·B` with `add`), A `m × k`, B `k × n`, C `m × n` with row stride `ldc`.
#[allow(clippy::too_many_arguments)]
pub fn gemm(m: usize, n: usize, k: usize, a: Mat, b: Mat, c: &mut [f32], ldc: usize, add: bool) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(c.len() >= (m - 1) * ldc + n, "gemm: C too short");
    if k > 0 {
        assert!(a.data.len() > (m - 1) * a.rs + (k - 1) * a.cs, "gemm: A too short");
        assert!(b.data.len() > (k - 1) * b.rs + (n - 1) * b.cs, "gemm: B too short");
    }
    let beta = if add { 1.0 } else { 0.0 };
    // SAFETY: the asserts above keep every index the product reads or writes inside the slices
    // (A: (m−1)·rs + (k−1)·cs, B likewise, C: (m−1)·ldc + n − 1); with k = 0 matrixmultiply
    // reads neither A nor B and scales C by beta.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        )
    }
}

/// The fast twin of [`crate::reference::matmul::matmul`]: same spec, flags and layouts. One
/// thread; [`matmul_on`] splits the same work over a pool with the same result.
pub fn matmul(s: MatmulSpec, a: &[f32], b: &[f32], bias: &[f32], aux: &[f32], inv_m: f32, out: &mut [f32]) {
    matmul_rows(s, a, b, bias, aux, inv_m, 0..s.m, &mut out[..s.m * s.n]);
}

/// Multiply-adds below which a product stays on one thread: waking a worker costs a few
/// microseconds, about what this many multiply-adds take.
const MIN_WORK_PER_THREAD: usize = 1 << 17;

/// [`matmul`] with the output rows split over `pool`'s threads. Each output element is the same
/// GEMM arithmetic over the whole of `k` whichever thread computes it, so the result is
/// bit-identical for every thread count.
#[allow(clippy::too_many_arguments)]
pub fn matmul_on(pool: &Pool, s: MatmulSpec, a: &[f32], b: &[f32], bias: &[f32], aux: &[f32], inv_m: f32, out: &mut [f32]) {
    let work = s.m * s.n * s.k.max(1);
    let parts = pool.threads().min(work / MIN_WORK_PER_THREAD).max(1);
    if parts == 1 || s.n == 0 {
        return matmul(s, a, b, bias, aux, inv_m, out);
    }
    let rs = ranges(s.m, parts);
    let outs = split_rows(&mut out[..s.m * s.n], &rs, s.n);
    pool.each(rs.into_iter().zip(outs).collect(), |_, (r, o)| matmul_rows(s, a, b, bias, aux, inv_m, r, o));
}

/// Rows `rows` of [`matmul`]'s output into `out` (those rows only).
#[allow(clippy::too_many_arguments)]
fn matmul_rows(s: MatmulSpec, a: &[f32], b: &[f32], bias: &[f32], aux: &[f32], inv_m: f32, rows: Range<usize>, out: &mut [f32]) {
    let am = if s.trans_a { Mat::cols(a, s.m) } else { Mat::rows(a, s.k) };
    let am = Mat { data: am.data.get(rows.start * am.rs..).unwrap_or(&[]), ..am };
    let bm = if s.trans_b { Mat::cols(b, s.k) } else { Mat::rows(b, s.n) };
    let (n, m, r0) = (s.n, rows.len(), rows.start);
    let len = m * n;
    if s.flags & ACCUMULATE == 0 {
        gemm(m, n, s.k, am, bm, &mut out[..len], n, false);
        if n > 0 {
            out[..len]
                .chunks_exact_mut(n)
                .enumerate()
                .for_each(|(r, row)| epilogue_row(s.flags, row, bias, aux_row(aux, r0 + r, n), inv_m));
        }
        return;
    }
    let mut acc = vec![0.0f32; len];
    gemm(m, n, s.k, am, bm, &mut acc, n, false);
    if n > 0 {
        for (r, (o, row)) in out[..len].chunks_exact_mut(n).zip(acc.chunks_exact_mut(n)).enumerate() {
            epilogue_row(s.flags, row, bias, aux_row(aux, r0 + r, n), inv_m);
            o.iter_mut().zip(&*row).for_each(|(o, v)| *o += v);
        }
    }
}

fn aux_row(aux: &[f32], r: usize, n: usize) -> &[f32] {
    aux.get(r * n..(r + 1) * n).unwrap_or(&[])
}

/// [`epilogue`] on one output row, one flag at a time (each a loop that vectorises), in its order.
fn epilogue_row(flags: u32, row: &mut [f32], bias: &[f32], aux: &[f32], inv_m: f32) {
    if flags & SCALE_INV_M != 0 {
        row.iter_mut().for_each(|v| *v *= inv_m);
    }
    if flags & ADD_BIAS != 0 {
        row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
    }
    if flags & RELU != 0 {
        row.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    if flags & (TANH | MUL_RELU_DERIV | MUL_TANH_DERIV) != 0 {
        // Rare or cheap next to the product: the reference's scalar epilogue, element by element.
        let rest = flags & (TANH | MUL_RELU_DERIV | MUL_TANH_DERIV);
        for (c, v) in row.iter_mut().enumerate() {
            *v = epilogue(rest, *v, 0.0, aux.get(c).copied().unwrap_or(0.0), inv_m);
        }
    }
}
