//! The convolution and max-pool GPU kernels against their CPU twins (several strides, paddings,
//! channel counts and batch sizes), including the exact and approximate per-example norms, and
//! the shapes that exercise the tiling: several row and column tiles, partial tiles, and a filter
//! gradient whose reduction over examples × positions spans several splits.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use crate::conv_harness::{run_conv, run_pool};
use cabs::reference::conv2d::{self, Conv2dSpec, Padding};
use cabs::reference::max_pool::{self, PoolSpec};
use cabs::rng::Rng;
use common::{assert_all_close, require_gpu};

fn random(r: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| r.normal() as f32).collect()
}

#[test]
fn conv_kernels_should_match_reference() {
    let s = spec;
    let specs = [
        s(1, 28, 28, 4, 5, 1, Padding::Same), // the paper's first MNIST layer, fewer filters
        s(3, 9, 7, 5, 3, 2, Padding::Same),
        s(2, 8, 8, 3, 3, 1, Padding::Valid),
        s(4, 6, 6, 2, 2, 2, Padding::Valid),
        s(2, 5, 5, 3, 5, 1, Padding::Valid), // one output position
        s(1, 7, 5, 2, 4, 3, Padding::Same),
    ];
    check_conv(&specs, &[1, 3, 5], 10, 1e-5);
}

#[test]
fn tiled_conv_kernels_should_match_reference_across_tiles_and_splits() {
    let s = spec;
    // 70 filters and 66 input channels: two row tiles with a partial second one; 66·9 + 1 = 595
    // filter columns: ten column tiles; odd image sizes and stride 2: partial column tiles.
    check_conv(&[s(66, 5, 7, 70, 3, 1, Padding::Same), s(65, 7, 5, 17, 3, 2, Padding::Valid)], &[1, 3], 20, 1e-4);
    // 28×28 outputs: m = 6 gives 4,704 rows of the filter gradient's reduction, two splits of
    // 4,096 (the second partial); m = 11 three.
    check_conv(&[s(2, 28, 28, 3, 5, 1, Padding::Same)], &[6, 11], 21, 1e-5);
}

fn spec(in_c: usize, in_h: usize, in_w: usize, out_c: usize, k: usize, stride: usize, padding: Padding) -> Conv2dSpec {
    Conv2dSpec { in_c, in_h, in_w, out_c, k_h: k, k_w: k, stride, padding }
}

/// Every conv kernel on `spec` against the twins, for each batch size in `ms`. `abs`: the
/// absolute tolerance of the outputs and gradients, which sum O(1) terms in another order than
/// the twins (f32 rounding grows with the √ of the terms: 630 of them in the widest case).
fn check_conv(specs: &[Conv2dSpec], ms: &[usize], seed: u64, abs: f32) {
    let mut rng = Rng::new(seed);
    for &spec in specs {
        for &m in ms {
            let ctx = format!("{spec:?}, m = {m}");
            let (x, w, b) = (random(&mut rng, m * spec.in_len()), random(&mut rng, spec.filter_len()), random(&mut rng, spec.out_c));
            let (dy, aux) = (random(&mut rng, m * spec.out_len()), random(&mut rng, m * spec.in_len()));
            let g = require_gpu(pollster::block_on(run_conv(&spec, &x, &w, &b, &dy, Some(&aux), true, m)));

            let mut out = vec![0.0; m * spec.out_len()];
            conv2d::forward(&spec, &x, &w, &b, m, &mut out);
            out.iter_mut().for_each(|v| *v = v.max(0.0));
            assert_all_close(&format!("{ctx}: conv2d_forward"), &g.out, &out, 1e-4, abs);

            let mut dx = vec![0.0; m * spec.in_len()];
            conv2d::backward_input(&spec, &dy, &w, m, &mut dx);
            dx.iter_mut().zip(&aux).for_each(|(d, a)| {
                if *a <= 0.0 {
                    *d = 0.0
                }
            });
            assert_all_close(&format!("{ctx}: conv2d_backward_input"), &g.dx, &dx, 1e-4, abs);

            let (mut gw, mut gb) = (vec![0.0; spec.filter_len()], vec![0.0; spec.out_c]);
            conv2d::filter_grad(&spec, &x, &dy, m, 1.0 / m as f32, false, &mut gw, &mut gb);
            gw.extend(gb);
            assert_all_close(&format!("{ctx}: conv2d_filter_grad"), &g.grads, &gw, 1e-4, abs);

            let flat = |v: &[(f32, f32)]| v.iter().flat_map(|&(a, b)| [a, b]).collect::<Vec<_>>();
            let exact = conv2d::norms_exact(&spec, &x, &dy, m);
            assert_all_close(&format!("{ctx}: conv2d_norms exact"), &flat(&g.norms_exact), &flat(&exact), 1e-3, 1e-4);
            let approx = conv2d::norms_reference_approx(&spec, &x, &dy, m);
            assert_all_close(&format!("{ctx}: conv2d_norms approx"), &flat(&g.norms_approx), &flat(&approx), 1e-3, 1e-4);
        }
    }
}

#[test]
fn max_pool_kernels_should_match_reference() {
    let mut rng = Rng::new(11);
    for spec in [
        PoolSpec { c: 3, in_h: 28, in_w: 28, window: 2, stride: 2, padding: Padding::Valid },
        PoolSpec { c: 2, in_h: 24, in_w: 24, window: 3, stride: 2, padding: Padding::Same }, // CIFAR net, overlapping
        PoolSpec { c: 1, in_h: 7, in_w: 5, window: 3, stride: 2, padding: Padding::Same },
    ] {
        for m in [1usize, 4] {
            let (x, dy) = (random(&mut rng, m * spec.in_len()), random(&mut rng, m * spec.out_len()));
            let (out, arg, dx) = require_gpu(pollster::block_on(run_pool(&spec, &x, &dy, m)));
            let mut want = vec![0.0; m * spec.out_len()];
            let want_arg = max_pool::forward(&spec, &x, m, &mut want);
            assert_eq!(out, want, "{spec:?}: max_pool_forward");
            assert_eq!(arg, want_arg, "{spec:?}: arg-max");
            let mut want_dx = vec![0.0; m * spec.in_len()];
            max_pool::backward(&spec, &dy, &want_arg, m, &mut want_dx);
            assert_all_close(&format!("{spec:?}: max_pool_backward"), &dx, &want_dx, 1e-6, 1e-7);
        }
    }
}
