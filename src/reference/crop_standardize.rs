//! Centre crop and per-image standardisation on the CPU: the twin of
//! `shaders/crop_standardize.wgsl`, summing in the shader's order (256 strided lanes, then a tree).
//!
//! Standardisation is TensorFlow's `per_image_standardization`: `(x − mean) / max(std, floor)`
//! over all values of the (cropped) image. TensorFlow applies it to grey levels 0…255 with
//! floor `1/√N`; our features are grey levels times the data set's byte scale, so the floor is
//! `scale/√N`, which gives the same result.

use super::strided_tree_sum;
use crate::model::Prep;

/// `out[i]` = the crop (and standardisation, if `p.standardize`) of `x[i]`, for `m` images.
pub fn crop_standardize(p: &Prep, x: &[f32], m: usize, floor: f32, out: &mut [f32]) {
    let (top, left) = p.offset();
    let (inp, o) = (p.input, p.output);
    let (in_len, out_len) = (inp.len() as usize, o.len() as usize);
    let plane = (o.h * o.w) as usize;
    for i in 0..m {
        let xi = &x[i * in_len..(i + 1) * in_len];
        let at = |j: usize| {
            let (c, y, xx) = (j / plane, (j % plane) / o.w as usize, j % o.w as usize);
            xi[(c * inp.h as usize + y + top as usize) * inp.w as usize + xx + left as usize]
        };
        let (mean, scale) = if p.standardize { moments(out_len, at, floor) } else { (0.0, 1.0) };
        for (j, v) in out[i * out_len..(i + 1) * out_len].iter_mut().enumerate() {
            *v = (at(j) - mean) * scale;
        }
    }
}

/// (mean, 1 / max(std, floor)) of `n` values.
pub fn moments(n: usize, value: impl Fn(usize) -> f32, floor: f32) -> (f32, f32) {
    let inv_n = 1.0 / n as f32;
    let mean = strided_tree_sum(n, &value) * inv_n;
    let mean_sq = strided_tree_sum(n, |j| value(j) * value(j)) * inv_n;
    let std = (mean_sq - mean * mean).max(0.0).sqrt();
    (mean, 1.0 / std.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;

    #[test]
    fn crops_the_centre_and_standardises() {
        let p = Prep { input: ImageShape { c: 2, h: 4, w: 5 }, output: ImageShape { c: 2, h: 2, w: 2 }, standardize: false };
        let x: Vec<f32> = (0..40).map(|v| v as f32).collect();
        let mut out = vec![0.0; 8];
        crop_standardize(&p, &x, 1, 0.0, &mut out);
        // offset (1, 1): rows 1–2, columns 1–2 of each 4×5 channel
        assert_eq!(out, [6.0, 7.0, 11.0, 12.0, 26.0, 27.0, 31.0, 32.0]);
        let p = Prep { standardize: true, ..p };
        crop_standardize(&p, &x, 1, 0.0, &mut out);
        let mean: f32 = out.iter().sum::<f32>() / 8.0;
        let var: f32 = out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 8.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{mean} {var}");
        // A constant image: std 0, so the floor divides (TensorFlow's rule), giving zeros.
        let flat = vec![3.0; 40];
        crop_standardize(&p, &flat, 1, 0.1, &mut out);
        assert!(out.iter().all(|&v| v == 0.0));
    }
}
