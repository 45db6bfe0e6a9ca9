//! A cache-blocked, register-blocked single-precision GEMM (the Goto/BLIS loop nest) and the
//! fast twin of [`reference::matmul`] built on it.
//!
//! [`gemm`] computes `C (+)= A·B` for operands with any row and column strides (so transposes
//! cost nothing but a different packing order). The loops: column blocks of B (`NC`), depth
//! blocks (`KC`) packed into `NR`-wide panels, row blocks of A (`MC`) packed into `MR`-tall
//! panels, and a micro-kernel that keeps an `MR × NR` tile of C in registers for a whole depth
//! block. Panels are zero-padded at the edges, so the micro-kernel never branches on shape.
//!
//! Micro-kernels, picked once per call:
//! - wasm32 with `simd128` (enabled in `.cargo/config.toml`): 4 × 8 tile, `f32x4` mul + add
//!   (wasm has no fused multiply-add without relaxed SIMD). 8 accumulators + 3 temporaries fit
//!   the 16 vector registers that V8 has on x86-64 and ARM hosts.
//! - x86-64 with AVX2 and FMA (detected at run time): 6 × 16 tile, 12 `ymm` accumulators.
//! - anything else: a portable 4 × 8 tile over fixed-size arrays, which LLVM turns into SSE or
//!   NEON code.
//!
//! Summation order differs from the reference (blocks of `KC`, fused multiply-adds natively),
//! so results agree with it to rounding, not bit for bit.
//!
//! [`reference::matmul`]: crate::reference::matmul

use crate::reference::matmul::{epilogue, MatmulSpec, ACCUMULATE, ADD_BIAS, MUL_RELU_DERIV, MUL_TANH_DERIV, RELU, SCALE_INV_M, TANH};

/// Depth of one packed block: an `MR × KC` panel of A and a `KC × NR` panel of B stay in L1.
const KC: usize = 256;
/// Rows of A packed at a time (times KC: ~100 KB, in L2).
const MC_PANELS: usize = 16;
/// Columns of B packed at a time (times KC: 512 KB, in L2/L3).
const NC: usize = 512;

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
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return blocked::<4, 8>(m, n, k, a, b, c, ldc, add, wasm::kernel_4x8);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return blocked::<6, 16>(m, n, k, a, b, c, ldc, add, avx2::kernel_6x16);
    }
    #[allow(unreachable_code)]
    blocked::<4, 8>(m, n, k, a, b, c, ldc, add, portable_kernel::<4, 8>)
}

/// [`gemm`] on the portable micro-kernel whatever the CPU, so that tests cover it on machines
/// whose SIMD kernel is picked otherwise.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn gemm_portable(m: usize, n: usize, k: usize, a: Mat, b: Mat, c: &mut [f32], ldc: usize, add: bool) {
    if m > 0 && n > 0 {
        blocked::<4, 8>(m, n, k, a, b, c, ldc, add, portable_kernel::<4, 8>)
    }
}

/// `kernel(kc, a_panel, b_panel, tile)`: `tile = Σ_k a_panel[k·MR + i] · b_panel[k·NR + j]`,
/// row-major `MR × NR`. Unsafe because the SIMD kernels need their target feature and read the
/// panels through raw pointers; callers pass panels of at least `kc·MR` and `kc·NR` values.
type Kernel = unsafe fn(usize, &[f32], &[f32], &mut [f32]);

#[allow(clippy::too_many_arguments)]
fn blocked<const MR: usize, const NR: usize>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c: &mut [f32],
    ldc: usize,
    add: bool,
    kernel: Kernel,
) {
    if k == 0 {
        if !add {
            (0..m).for_each(|r| c[r * ldc..r * ldc + n].fill(0.0));
        }
        return;
    }
    let mc = MR * MC_PANELS;
    let mut pa = vec![0.0f32; mc.min(m.next_multiple_of(MR)) * KC.min(k)];
    let mut pb = vec![0.0f32; NC.min(n.next_multiple_of(NR)) * KC.min(k)];
    let mut tile = vec![0.0f32; MR * NR];
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pack::<NR>(&b.data[pc * b.rs + jc * b.cs..], b.rs, b.cs, kc, nc, &mut pb);
            for ic in (0..m).step_by(mc) {
                let mcc = mc.min(m - ic);
                pack::<MR>(&a.data[ic * a.rs + pc * a.cs..], a.cs, a.rs, kc, mcc, &mut pa);
                for jr in (0..nc).step_by(NR) {
                    let bp = &pb[jr * kc..(jr + NR) * kc];
                    let cols = NR.min(nc - jr);
                    for ir in (0..mcc).step_by(MR) {
                        let ap = &pa[ir * kc..(ir + MR) * kc];
                        // SAFETY: `gemm` only passes a kernel whose target features it checked
                        // (or that the build enables); the panels hold kc·MR and kc·NR values.
                        unsafe { kernel(kc, ap, bp, &mut tile) };
                        let rows = MR.min(mcc - ir);
                        let first = !add && pc == 0;
                        for (i, t) in tile.chunks_exact(NR).take(rows).enumerate() {
                            let at = (ic + ir + i) * ldc + jc + jr;
                            let dst = &mut c[at..at + cols];
                            if first {
                                dst.iter_mut().zip(t).for_each(|(d, v)| *d = *v);
                            } else {
                                dst.iter_mut().zip(t).for_each(|(d, v)| *d += v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Pack `kc × cols` values (value (kk, j) at `src[kk·ks + j·js]`) into panels of `W` columns:
/// panel `p` holds, for each kk, the `W` values of columns `p·W ..`, zero past `cols`. The loops
/// run along whichever index is contiguous in `src`.
fn pack<const W: usize>(src: &[f32], ks: usize, js: usize, kc: usize, cols: usize, out: &mut [f32]) {
    for (p, j0) in (0..cols).step_by(W).enumerate() {
        let panel = &mut out[p * W * kc..(p + 1) * W * kc];
        let w = W.min(cols - j0);
        if w < W {
            panel.fill(0.0);
        }
        if js == 1 {
            for (kk, row) in panel.chunks_exact_mut(W).enumerate() {
                let from = &src[kk * ks + j0..];
                // Element by element: a copy_from_slice of a few values becomes a memcpy call.
                row[..w].iter_mut().zip(from).for_each(|(d, v)| *d = *v);
            }
        } else {
            for j in 0..w {
                let col = &src[(j0 + j) * js..];
                for kk in 0..kc {
                    panel[kk * W + j] = col[kk * ks];
                }
            }
        }
    }
}

/// Fixed-size arrays that LLVM vectorises for whatever SIMD the target has by default.
///
/// # Safety
/// None needed beyond the slice bounds it checks; `unsafe` only to match [`Kernel`].
unsafe fn portable_kernel<const MR: usize, const NR: usize>(kc: usize, a: &[f32], b: &[f32], tile: &mut [f32]) {
    let mut acc = [[0.0f32; NR]; MR];
    for (ak, bk) in a[..kc * MR].chunks_exact(MR).zip(b[..kc * NR].chunks_exact(NR)) {
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] += ak[i] * bk[j];
            }
        }
    }
    for (t, r) in tile.chunks_exact_mut(NR).zip(&acc) {
        t.copy_from_slice(r);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// 6 × 16 tile: per depth step two B vectors, six broadcasts of A, twelve FMAs.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `a`, `b` must hold `kc·6` and `kc·16` values.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel_6x16(kc: usize, a: &[f32], b: &[f32], tile: &mut [f32]) {
        assert!(a.len() >= kc * 6 && b.len() >= kc * 16 && tile.len() >= 96);
        let (mut pa, mut pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 12];
        for _ in 0..kc {
            let (b0, b1) = (_mm256_loadu_ps(pb), _mm256_loadu_ps(pb.add(8)));
            for i in 0..6 {
                let ai = _mm256_broadcast_ss(&*pa.add(i));
                acc[2 * i] = _mm256_fmadd_ps(ai, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(ai, b1, acc[2 * i + 1]);
            }
            pa = pa.add(6);
            pb = pb.add(16);
        }
        for (j, v) in acc.iter().enumerate() {
            _mm256_storeu_ps(tile.as_mut_ptr().add(8 * j), *v);
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use core::arch::wasm32::*;

    /// 4 × 8 tile: per depth step two B vectors, four splats of A, eight mul + add.
    ///
    /// # Safety
    /// `a`, `b` must hold `kc·4` and `kc·8` values (checked).
    pub unsafe fn kernel_4x8(kc: usize, a: &[f32], b: &[f32], tile: &mut [f32]) {
        assert!(a.len() >= kc * 4 && b.len() >= kc * 8 && tile.len() >= 32);
        let (mut pa, mut pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [f32x4_splat(0.0); 8];
        for _ in 0..kc {
            let b0 = v128_load(pb as *const v128);
            let b1 = v128_load(pb.add(4) as *const v128);
            for i in 0..4 {
                let ai = f32x4_splat(*pa.add(i));
                acc[2 * i] = f32x4_add(acc[2 * i], f32x4_mul(ai, b0));
                acc[2 * i + 1] = f32x4_add(acc[2 * i + 1], f32x4_mul(ai, b1));
            }
            pa = pa.add(4);
            pb = pb.add(8);
        }
        for (j, v) in acc.iter().enumerate() {
            v128_store(tile.as_mut_ptr().add(4 * j) as *mut v128, *v);
        }
    }
}

/// The fast twin of [`crate::reference::matmul::matmul`]: same spec, flags and layouts.
pub fn matmul(s: MatmulSpec, a: &[f32], b: &[f32], bias: &[f32], aux: &[f32], inv_m: f32, out: &mut [f32]) {
    let am = if s.trans_a { Mat::cols(a, s.m) } else { Mat::rows(a, s.k) };
    let bm = if s.trans_b { Mat::cols(b, s.k) } else { Mat::rows(b, s.n) };
    let (n, len) = (s.n, s.m * s.n);
    if s.flags & ACCUMULATE == 0 {
        gemm(s.m, n, s.k, am, bm, &mut out[..len], n, false);
        if n > 0 {
            out[..len].chunks_exact_mut(n).enumerate().for_each(|(r, row)| epilogue_row(s.flags, row, bias, aux_row(aux, r, n), inv_m));
        }
        return;
    }
    let mut acc = vec![0.0f32; len];
    gemm(s.m, n, s.k, am, bm, &mut acc, n, false);
    if n > 0 {
        for (r, (o, row)) in out[..len].chunks_exact_mut(n).zip(acc.chunks_exact_mut(n)).enumerate() {
            epilogue_row(s.flags, row, bias, aux_row(aux, r, n), inv_m);
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
