//! Convolution and max-pooling CPU twins against finite differences, and the exact per-example
//! filter-gradient norms (both routes) against per-example gradients materialised by finite
//! differences; the reference code's approximation against its own recipe (filter gradient of
//! squared inputs and squared errors) and the bound exact ≤ P·approx.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::reference::conv2d::{self, Conv2dSpec, Padding};
use cabs::reference::max_pool::{self, PoolSpec};
use cabs::rng::Rng;
use common::assert_close;

fn random(r: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| r.normal() as f32).collect()
}

fn specs() -> Vec<Conv2dSpec> {
    let s = |in_c, in_h, in_w, out_c, k, stride, padding| Conv2dSpec { in_c, in_h, in_w, out_c, k_h: k, k_w: k, stride, padding };
    vec![
        s(1, 5, 5, 2, 3, 1, Padding::Same),
        s(2, 6, 5, 3, 3, 2, Padding::Same),
        s(3, 7, 7, 2, 5, 1, Padding::Valid),
        s(2, 8, 8, 4, 2, 2, Padding::Valid),
        s(1, 4, 4, 3, 4, 1, Padding::Valid), // one output position: exact = approx
        s(2, 5, 4, 1, 5, 3, Padding::Same),
    ]
}

/// ℓ_i = Σ r_i ⊙ conv(x_i, w, b), in f64.
fn weighted(s: &Conv2dSpec, x: &[f32], w: &[f32], b: &[f32], r: &[f32], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * s.out_len()];
    conv2d::forward(s, x, w, b, m, &mut out);
    (0..m).map(|i| (0..s.out_len()).map(|j| out[i * s.out_len() + j] as f64 * r[i * s.out_len() + j] as f64).sum()).collect()
}

#[test]
fn convolution_backward_should_match_finite_differences() {
    let mut rng = Rng::new(1);
    for s in specs() {
        let m = 2;
        let (x, w, b, r) = (
            random(&mut rng, m * s.in_len()),
            random(&mut rng, s.filter_len()),
            random(&mut rng, s.out_c),
            random(&mut rng, m * s.out_len()),
        );
        let total = |x: &[f32], w: &[f32], b: &[f32]| weighted(&s, x, w, b, &r, m).iter().sum::<f64>();
        // The loss is linear in each argument, so a large step has no truncation error.
        let h = 0.5f32;
        let mut dx = vec![0.0; m * s.in_len()];
        conv2d::backward_input(&s, &r, &w, m, &mut dx);
        for j in 0..x.len() {
            let (mut up, mut dn) = (x.clone(), x.clone());
            up[j] += h;
            dn[j] -= h;
            assert_close(
                &format!("{s:?} ∂/∂x[{j}]"),
                dx[j] as f64,
                (total(&up, &w, &b) - total(&dn, &w, &b)) / (2.0 * h as f64),
                1e-4,
                1e-4,
            );
        }
        let (mut gw, mut gb) = (vec![0.0; s.filter_len()], vec![0.0; s.out_c]);
        conv2d::filter_grad(&s, &x, &r, m, 1.0 / m as f32, false, &mut gw, &mut gb);
        for j in 0..w.len() {
            let (mut up, mut dn) = (w.clone(), w.clone());
            up[j] += h;
            dn[j] -= h;
            let fd = (total(&x, &up, &b) - total(&x, &dn, &b)) / (2.0 * h as f64) / m as f64;
            assert_close(&format!("{s:?} ∂/∂w[{j}]"), gw[j] as f64, fd, 1e-4, 1e-4);
        }
        for o in 0..s.out_c {
            let (mut up, mut dn) = (b.clone(), b.clone());
            up[o] += h;
            dn[o] -= h;
            let fd = (total(&x, &w, &up) - total(&x, &w, &dn)) / (2.0 * h as f64) / m as f64;
            assert_close(&format!("{s:?} ∂/∂b[{o}]"), gb[o] as f64, fd, 1e-4, 1e-4);
        }
    }
}

#[test]
fn exact_per_example_norms_should_match_materialised_gradients() {
    let mut rng = Rng::new(2);
    for s in specs() {
        for m in [1usize, 3] {
            let (x, w, b, r) = (
                random(&mut rng, m * s.in_len()),
                random(&mut rng, s.filter_len()),
                random(&mut rng, s.out_c),
                random(&mut rng, m * s.out_len()),
            );
            // Materialise each example's filter gradient by finite differences of ℓ_i.
            let h = 0.5f32;
            let mut want = vec![(0.0f64, 0.0f64); m];
            for j in 0..w.len() + b.len() {
                let (mut wu, mut wd, mut bu, mut bd) = (w.clone(), w.clone(), b.clone(), b.clone());
                if j < w.len() {
                    wu[j] += h;
                    wd[j] -= h;
                } else {
                    bu[j - w.len()] += h;
                    bd[j - w.len()] -= h;
                }
                let (lu, ld) = (weighted(&s, &x, &wu, &bu, &r, m), weighted(&s, &x, &wd, &bd, &r, m));
                for i in 0..m {
                    let g = (lu[i] - ld[i]) / (2.0 * h as f64);
                    if j < w.len() {
                        want[i].0 += g * g;
                    } else {
                        want[i].1 += g * g;
                    }
                }
            }
            for (route, got) in [
                ("per-example", conv2d::norms_per_example(&s, &x, &r, m)),
                ("Gram", conv2d::norms_gram(&s, &x, &r, m)),
                ("cheapest", conv2d::norms_exact(&s, &x, &r, m)),
            ] {
                for i in 0..m {
                    assert_close(&format!("{s:?} {route} ‖∂ℓ_{i}/∂W‖²"), got[i].0 as f64, want[i].0, 1e-3, 1e-3);
                    assert_close(&format!("{s:?} {route} ‖∂ℓ_{i}/∂b‖²"), got[i].1 as f64, want[i].1, 1e-3, 1e-3);
                }
            }
        }
    }
}

#[test]
fn the_reference_approximation_follows_its_recipe_and_bounds_the_exact_norm() {
    let mut rng = Rng::new(3);
    for s in specs() {
        let m = 4;
        let (x, r) = (random(&mut rng, m * s.in_len()), random(&mut rng, m * s.out_len()));
        let approx = conv2d::norms_reference_approx(&s, &x, &r, m);
        let exact = conv2d::norms_exact(&s, &x, &r, m);
        let p = s.positions() as f64;
        for i in 0..m {
            // The reference code's recipe: the filter gradient of squared inputs and squared errors.
            let x2: Vec<f32> = x[i * s.in_len()..(i + 1) * s.in_len()].iter().map(|v| v * v).collect();
            let r2: Vec<f32> = r[i * s.out_len()..(i + 1) * s.out_len()].iter().map(|v| v * v).collect();
            let (mut gw, mut gb) = (vec![0.0; s.filter_len()], vec![0.0; s.out_c]);
            conv2d::add_example_grad(&s, &x2, &r2, 1.0, &mut gw, &mut gb);
            assert_close(&format!("{s:?} approx W"), approx[i].0 as f64, gw.iter().map(|&v| v as f64).sum(), 1e-4, 1e-5);
            assert_close(&format!("{s:?} approx b"), approx[i].1 as f64, gb.iter().map(|&v| v as f64).sum(), 1e-4, 1e-5);
            assert!(
                exact[i].0 as f64 <= p * approx[i].0 as f64 * (1.0 + 1e-4),
                "{s:?}: exact {} > P·approx {}",
                exact[i].0,
                p * approx[i].0 as f64
            );
            if s.positions() == 1 {
                assert_close(&format!("{s:?} one position: exact = approx"), exact[i].0 as f64, approx[i].0 as f64, 1e-4, 1e-6);
            }
        }
    }
}

#[test]
fn max_pool_backward_should_match_finite_differences() {
    let mut rng = Rng::new(4);
    for s in [
        PoolSpec { c: 2, in_h: 6, in_w: 6, window: 2, stride: 2, padding: Padding::Valid },
        PoolSpec { c: 3, in_h: 7, in_w: 5, window: 3, stride: 2, padding: Padding::Same },
        PoolSpec { c: 1, in_h: 5, in_w: 5, window: 2, stride: 2, padding: Padding::Same },
    ] {
        let m = 2;
        let (x, r) = (random(&mut rng, m * s.in_len()), random(&mut rng, m * s.out_len()));
        let total = |x: &[f32]| {
            let mut out = vec![0.0; m * s.out_len()];
            max_pool::forward(&s, x, m, &mut out);
            out.iter().zip(&r).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>()
        };
        let mut out = vec![0.0; m * s.out_len()];
        let arg = max_pool::forward(&s, &x, m, &mut out);
        let mut dx = vec![0.0; m * s.in_len()];
        max_pool::backward(&s, &r, &arg, m, &mut dx);
        let h = 1e-3f32; // small enough that no window changes its winner
        for j in 0..x.len() {
            let (mut up, mut dn) = (x.clone(), x.clone());
            up[j] += h;
            dn[j] -= h;
            let fd = (total(&up) - total(&dn)) / (up[j] as f64 - dn[j] as f64);
            assert_close(&format!("{s:?} ∂/∂x[{j}]"), dx[j] as f64, fd, 1e-2, 1e-3);
        }
    }
}
