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
//! The `_on` variants split the work over a [`Pool`]: examples for the forward pass, the input
//! gradient and the per-example norms; the filter gradient's columns for the summed gradient
//! (never the sum over examples), so results are bit-identical for every thread count.
//!
//! [`reference::conv2d`]: crate::reference::conv2d

use super::gemm::{gemm, Mat};
use super::pool::{ranges, split_rows, Pool};
use crate::reference::conv2d::Conv2dSpec;
use std::ops::Range;

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
    im2col_rows(s, x, 0..s.patch_len(), cols);
}

/// Rows `rows` of [`im2col`]'s matrix (patch entries `j`), into `cols` as `[rows.len(), P]`.
fn im2col_rows(s: &Conv2dSpec, x: &[f32], rows: Range<usize>, cols: &mut [f32]) {
    let (oh, ow, pt, pl) = s.output();
    let p = oh * ow;
    let mut j = 0;
    for c in 0..s.in_c {
        let plane = &x[c * s.in_h * s.in_w..(c + 1) * s.in_h * s.in_w];
        for u in 0..s.k_h {
            let (ylo, yhi, y0) = valid_range(oh, s.stride, u, pt, s.in_h);
            for v in 0..s.k_w {
                if !rows.contains(&j) {
                    j += 1;
                    continue;
                }
                let (xlo, xhi, x0) = valid_range(ow, s.stride, v, pl, s.in_w);
                let at = j - rows.start;
                let row = &mut cols[at * p..(at + 1) * p];
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
    forward_on(&Pool::new(1), s, x, w, b, m, out)
}

/// [`forward`] with the examples split over `pool`'s threads.
#[allow(clippy::too_many_arguments)]
pub fn forward_on(pool: &Pool, s: &Conv2dSpec, x: &[f32], w: &[f32], b: &[f32], m: usize, out: &mut [f32]) {
    let (p, k) = (s.positions(), s.patch_len());
    let rs = ranges(m, pool.threads());
    let outs = split_rows(out, &rs, s.out_len());
    pool.each(rs.into_iter().zip(outs).collect(), |_, (examples, out)| {
        let mut cols = vec![0.0; k * p];
        for (i, y) in examples.zip(out.chunks_exact_mut(s.out_len())) {
            im2col(s, &x[i * s.in_len()..(i + 1) * s.in_len()], &mut cols);
            gemm(s.out_c, p, k, Mat::rows(w, k), Mat::rows(&cols, p), y, p, false);
            for (row, &bo) in y.chunks_exact_mut(p).zip(b) {
                row.iter_mut().for_each(|v| *v += bo);
            }
        }
    });
}

/// Gradient with respect to the input: `dx[i] = col2im(Wᵀ · dy[i])`.
pub fn backward_input(s: &Conv2dSpec, dy: &[f32], w: &[f32], m: usize, dx: &mut [f32]) {
    backward_input_on(&Pool::new(1), s, dy, w, m, dx)
}

/// [`backward_input`] with the examples split over `pool`'s threads.
pub fn backward_input_on(pool: &Pool, s: &Conv2dSpec, dy: &[f32], w: &[f32], m: usize, dx: &mut [f32]) {
    let (p, k) = (s.positions(), s.patch_len());
    let rs = ranges(m, pool.threads());
    let dxs = split_rows(dx, &rs, s.in_len());
    pool.each(rs.into_iter().zip(dxs).collect(), |_, (examples, dx)| {
        let mut cols = vec![0.0; k * p];
        dx.fill(0.0);
        for (i, dxi) in examples.zip(dx.chunks_exact_mut(s.in_len())) {
            gemm(k, p, s.out_c, Mat::cols(w, k), Mat::rows(&dy[i * s.out_len()..(i + 1) * s.out_len()], p), &mut cols, p, false);
            col2im_add(s, &cols, dxi);
        }
    });
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
    filter_grad_on(&Pool::new(1), s, x, dy, m, inv_m, accumulate, gw, gb)
}

/// One thread's share of [`filter_grad_on`]: its columns, their sums, and the bias sums (part 0).
type ColumnBlock<'a> = (Range<usize>, &'a mut Vec<f32>, Option<&'a mut Vec<f32>>);

/// [`filter_grad`] with the filter gradient's columns (patch entries) split over `pool`'s
/// threads: the sum over examples stays whole, in example order, on one thread per column, and
/// each thread unfolds only its own rows of every example's patches.
#[allow(clippy::too_many_arguments)]
pub fn filter_grad_on(
    pool: &Pool,
    s: &Conv2dSpec,
    x: &[f32],
    dy: &[f32],
    m: usize,
    inv_m: f32,
    accumulate: bool,
    gw: &mut [f32],
    gb: &mut [f32],
) {
    let (p, k) = (s.positions(), s.patch_len());
    let rs = ranges(k, pool.threads());
    // Column block `js` of Σ_i δ_i · cols_iᵀ, as `[out_c, js.len()]`; part 0 also sums the bias.
    let mut blocks: Vec<Vec<f32>> = rs.iter().map(|js| vec![0.0; s.out_c * js.len()]).collect();
    let mut sb = vec![0.0; s.out_c];
    let mut items: Vec<ColumnBlock> = rs.iter().cloned().zip(blocks.iter_mut()).map(|(js, b)| (js, b, None)).collect();
    if let Some(first) = items.first_mut() {
        first.2 = Some(&mut sb);
    }
    pool.each(items, |_, (js, sw, sb)| {
        let mut cols = vec![0.0; js.len() * p];
        let mut sb = sb;
        for i in 0..m {
            let dyi = &dy[i * s.out_len()..(i + 1) * s.out_len()];
            im2col_rows(s, &x[i * s.in_len()..(i + 1) * s.in_len()], js.clone(), &mut cols);
            gemm(s.out_c, js.len(), p, Mat::rows(dyi, p), Mat::cols(&cols, p), sw, js.len(), i > 0);
            if let Some(sb) = sb.as_deref_mut() {
                add_bias_grad(dyi, p, sb);
            }
        }
    });
    let scaled = |g: &mut f32, v: f32| *g = if accumulate { *g + v * inv_m } else { v * inv_m };
    for (js, block) in rs.iter().zip(&blocks) {
        for (o, row) in block.chunks_exact(js.len()).enumerate() {
            gw[o * k + js.start..o * k + js.end].iter_mut().zip(row).for_each(|(g, &v)| scaled(g, v));
        }
    }
    gb.iter_mut().zip(&sb).for_each(|(g, &v)| scaled(g, v));
}

/// Σ v² in f64 (as the reference: a conv layer's norm adds 10⁴–10⁵ squares).
fn sum_sq(v: &[f32]) -> f32 {
    v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() as f32
}

/// Per-example (‖∂ℓ_i/∂W‖², ‖∂ℓ_i/∂b‖²), exact: each `G_i` formed by the GEMM and squared.
pub fn norms_per_example(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize) -> Vec<(f32, f32)> {
    norms_per_example_on(&Pool::new(1), s, x, dy, m)
}

/// [`norms_per_example`] with the examples split over `pool`'s threads.
pub fn norms_per_example_on(pool: &Pool, s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize) -> Vec<(f32, f32)> {
    let (p, k) = (s.positions(), s.patch_len());
    let mut out = vec![(0.0, 0.0); m];
    let rs = ranges(m, pool.threads());
    let outs = split_rows(&mut out, &rs, 1);
    pool.each(rs.into_iter().zip(outs).collect(), |_, (examples, out)| {
        let mut cols = vec![0.0; k * p];
        let mut gw = vec![0.0; s.filter_len()];
        let mut gb = vec![0.0; s.out_c];
        for (i, o) in examples.zip(out.iter_mut()) {
            let dyi = &dy[i * s.out_len()..(i + 1) * s.out_len()];
            im2col(s, &x[i * s.in_len()..(i + 1) * s.in_len()], &mut cols);
            gemm(s.out_c, k, p, Mat::rows(dyi, p), Mat::cols(&cols, p), &mut gw, k, false);
            gb.fill(0.0);
            add_bias_grad(dyi, p, &mut gb);
            *o = (sum_sq(&gw), sum_sq(&gb));
        }
    });
    out
}
