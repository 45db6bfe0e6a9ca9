//! Fast twins of the convolutions in [`reference::conv2d`]: each one an im2col (or col2im) per
//! example around one [`gemm`], with the same layouts (`[m, C, H, W]` activations,
//! `[C_out, C_in, K_h, K_w]` filters) and padding rule.
//!
//! With `cols` an example's patches as a `[C_in·K_h·K_w, P]` matrix (one column per output
//! position, the transpose of [`Conv2dSpec::unfold`]):
//! - forward: `y_i = W · cols_i + b`;
//! - input gradient: `dx_i = col2im(Wᵀ · δ_i)`;
//! - filter gradient: `G_i = δ_i · cols_iᵀ`, summed over examples (and its squared norm per
//!   example: the exact per-example route of the reference, with the product done by the GEMM).
//!
//! [`reference::conv2d`]: crate::reference::conv2d

use super::gemm::{gemm, Mat};
use crate::reference::conv2d::Conv2dSpec;

/// Input rows `iy` (or columns) read by filter tap `u` for the outputs `0..out`: the range of
/// outputs whose tap falls inside `0..len`, and the input index of output 0 (may be negative).
fn valid_range(out: usize, stride: usize, u: usize, pad: usize, len: usize) -> (usize, usize, isize) {
    let first = (u as isize) - (pad as isize); // input index at output 0
    let lo = if first >= 0 { 0 } else { ((-first) as usize).div_ceil(stride) };
    let hi = if first >= len as isize { 0 } else { ((len as isize - 1 - first) as usize / stride + 1).min(out) };
    (lo, hi.max(lo), first)
}

/// One example's patches as `[patch_len, P]` (zeros in the padding).
pub fn im2col(s: &Conv2dSpec, x: &[f32], cols: &mut [f32]) {
    let (oh, ow, pt, pl) = s.output();
    let p = oh * ow;
    let mut j = 0;
    for c in 0..s.in_c {
        let plane = &x[c * s.in_h * s.in_w..(c + 1) * s.in_h * s.in_w];
        for u in 0..s.k_h {
            let (ylo, yhi, y0) = valid_range(oh, s.stride, u, pt, s.in_h);
            for v in 0..s.k_w {
                let (xlo, xhi, x0) = valid_range(ow, s.stride, v, pl, s.in_w);
                let row = &mut cols[j * p..(j + 1) * p];
                row.fill(0.0);
                for y in ylo..yhi {
                    let iy = (y0 + (y * s.stride) as isize) as usize;
                    let src = &plane[iy * s.in_w..(iy + 1) * s.in_w];
                    let dst = &mut row[y * ow..(y + 1) * ow];
                    for xx in xlo..xhi {
                        dst[xx] = src[(x0 + (xx * s.stride) as isize) as usize];
                    }
                }
                j += 1;
            }
        }
    }
}

/// The inverse of [`im2col`]: add each patch value back onto the input it was read from.
pub fn col2im_add(s: &Conv2dSpec, cols: &[f32], dx: &mut [f32]) {
    let (oh, ow, pt, pl) = s.output();
    let p = oh * ow;
    let mut j = 0;
    for c in 0..s.in_c {
        let plane = &mut dx[c * s.in_h * s.in_w..(c + 1) * s.in_h * s.in_w];
        for u in 0..s.k_h {
            let (ylo, yhi, y0) = valid_range(oh, s.stride, u, pt, s.in_h);
            for v in 0..s.k_w {
                let (xlo, xhi, x0) = valid_range(ow, s.stride, v, pl, s.in_w);
                let row = &cols[j * p..(j + 1) * p];
                for y in ylo..yhi {
                    let iy = (y0 + (y * s.stride) as isize) as usize;
                    let dst = &mut plane[iy * s.in_w..(iy + 1) * s.in_w];
                    let src = &row[y * ow..(y + 1) * ow];
                    for xx in xlo..xhi {
                        dst[(x0 + (xx * s.stride) as isize) as usize] += src[xx];
                    }
                }
                j += 1;
            }
        }
    }
}

/// `out[i] = conv(x[i], w) + b` for `m` examples (no activation).
pub fn forward(s: &Conv2dSpec, x: &[f32], w: &[f32], b: &[f32], m: usize, out: &mut [f32]) {
    let (p, k) = (s.positions(), s.patch_len());
    let mut cols = vec![0.0; k * p];
    for i in 0..m {
        im2col(s, &x[i * s.in_len()..(i + 1) * s.in_len()], &mut cols);
        let y = &mut out[i * s.out_len()..(i + 1) * s.out_len()];
        gemm(s.out_c, p, k, Mat::rows(w, k), Mat::rows(&cols, p), y, p, false);
        for (row, &bo) in y.chunks_exact_mut(p).zip(b) {
            row.iter_mut().for_each(|v| *v += bo);
        }
    }
}

/// Gradient with respect to the input: `dx[i] = col2im(Wᵀ · dy[i])`.
pub fn backward_input(s: &Conv2dSpec, dy: &[f32], w: &[f32], m: usize, dx: &mut [f32]) {
    let (p, k) = (s.positions(), s.patch_len());
    let mut cols = vec![0.0; k * p];
    dx[..m * s.in_len()].fill(0.0);
    for i in 0..m {
        gemm(k, p, s.out_c, Mat::cols(w, k), Mat::rows(&dy[i * s.out_len()..(i + 1) * s.out_len()], p), &mut cols, p, false);
        col2im_add(s, &cols, &mut dx[i * s.in_len()..(i + 1) * s.in_len()]);
    }
}

/// Add example `i`'s bias gradient `Σ_p δ_p` to `gb`.
fn add_bias_grad(dy: &[f32], p: usize, gb: &mut [f32]) {
    for (g, row) in gb.iter_mut().zip(dy.chunks_exact(p)) {
        *g += row.iter().sum::<f32>();
    }
}

/// Mean filter and bias gradient over `m` examples, scaled by `inv_m`; with `accumulate` added to
/// `gw`, `gb` (the later chunks of a chunked step).
#[allow(clippy::too_many_arguments)]
pub fn filter_grad(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize, inv_m: f32, accumulate: bool, gw: &mut [f32], gb: &mut [f32]) {
    let (p, k) = (s.positions(), s.patch_len());
    let mut cols = vec![0.0; k * p];
    let mut sw = vec![0.0; s.filter_len()];
    let mut sb = vec![0.0; s.out_c];
    for i in 0..m {
        let dyi = &dy[i * s.out_len()..(i + 1) * s.out_len()];
        im2col(s, &x[i * s.in_len()..(i + 1) * s.in_len()], &mut cols);
        gemm(s.out_c, k, p, Mat::rows(dyi, p), Mat::cols(&cols, p), &mut sw, k, i > 0);
        add_bias_grad(dyi, p, &mut sb);
    }
    for (g, v) in gw.iter_mut().chain(gb.iter_mut()).zip(sw.iter().chain(&sb)) {
        *g = if accumulate { *g + v * inv_m } else { v * inv_m };
    }
}

/// Σ v² in f64 (as the reference: a conv layer's norm adds 10⁴–10⁵ squares).
fn sum_sq(v: &[f32]) -> f32 {
    v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() as f32
}

/// Per-example (‖∂ℓ_i/∂W‖², ‖∂ℓ_i/∂b‖²), exact: each `G_i` formed by the GEMM and squared.
pub fn norms_per_example(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize) -> Vec<(f32, f32)> {
    let (p, k) = (s.positions(), s.patch_len());
    let mut cols = vec![0.0; k * p];
    let mut gw = vec![0.0; s.filter_len()];
    let mut gb = vec![0.0; s.out_c];
    (0..m)
        .map(|i| {
            let dyi = &dy[i * s.out_len()..(i + 1) * s.out_len()];
            im2col(s, &x[i * s.in_len()..(i + 1) * s.in_len()], &mut cols);
            gemm(s.out_c, k, p, Mat::rows(dyi, p), Mat::cols(&cols, p), &mut gw, k, false);
            gb.fill(0.0);
            add_bias_grad(dyi, p, &mut gb);
            (sum_sq(&gw), sum_sq(&gb))
        })
        .collect()
}
