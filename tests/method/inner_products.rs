//! The exact per-example inner products p_i = g_iᵀḡ of the `inner:THETA` rule (ḡ the batch's
//! own mean gradient) and their sample variance, from the CPU engine, against per-example
//! gradients materialised explicitly and dotted in f64:
//! - dense models: every g_i from the independent f64 brute force of `tests/common`;
//! - convolutional models (every layer type; the cnn-mnist layout): every g_i as the gradient of
//!   a one-example step (those kernels are checked against finite differences in
//!   `conv_reference` and `probe_cnn`); the engine's route to p_i — Ḡ through each layer's
//!   forward kernel, dotted with the layer's error — makes no per-example gradient.
//!
//! The comparison can fail: p_i from the mean gradient of another batch is refused.
#![cfg(not(target_arch = "wasm32"))]

use crate::common::*;
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{BackendChoice, ConvNorms, Engine};
use cabs::model::{Layout, ModelSpec};
use cabs::rng::Rng;

/// p_i = g_iᵀḡ, their mean and sample variance, all in f64.
fn oracle(g: &[Vec<f64>]) -> (Vec<f64>, f64, f64) {
    let m = g.len();
    let n = g[0].len();
    let mean_g: Vec<f64> = (0..n).map(|j| g.iter().map(|gi| gi[j]).sum::<f64>() / m as f64).collect();
    let p: Vec<f64> = g.iter().map(|gi| gi.iter().zip(&mean_g).map(|(a, b)| a * b).sum()).collect();
    let mean = p.iter().sum::<f64>() / m as f64;
    let var = p.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m as f64 - 1.0);
    (p, mean, var)
}

/// The CPU engine's p_i, (mean, variance) and ‖ḡ‖² for the batch `perm[offset .. offset + m]`.
fn engine_inner(layout: &Layout, data: &Dataset, params: &[f32], perm: &[u32], offset: u32, m: u32) -> (Vec<f32>, (f32, f32), f32) {
    let (mut e, _) = pollster::block_on(Engine::new(BackendChoice::Cpu, layout.clone(), data, m, params, ConvNorms::Exact, None)).unwrap();
    e.set_permutation(perm);
    e.set_inner_products(true);
    let sums = pollster::block_on(e.train_step(offset, m, 0.1, true)).unwrap();
    let p = pollster::block_on(e.inner_products(m)).unwrap();
    (p, e.inner_product_stats().expect("computed when asked"), sums.mean_grad_sq)
}

/// Every example's gradient as the gradient of a one-example step at α = 0 (the weights stay).
fn one_example_gradients(layout: &Layout, data: &Dataset, params: &[f32], perm: &[u32], offset: u32, m: u32) -> Vec<Vec<f64>> {
    let n = layout.param_count as usize;
    let (mut e, _) = pollster::block_on(Engine::new(BackendChoice::Cpu, layout.clone(), data, 1, params, ConvNorms::Exact, None)).unwrap();
    e.set_permutation(perm);
    (0..m)
        .map(|i| {
            pollster::block_on(e.train_step(offset + i, 1, 0.0, false)).unwrap();
            pollster::block_on(e.norm_rows_and_grads(1, n)).unwrap().1.iter().map(|&v| v as f64).collect()
        })
        .collect()
}

/// Engine against oracle: each p_i to 1e-3 relative with a floor of 1e-4 of the largest |p_i|
/// (f32 sums of thousands of products), the mean to ‖ḡ‖², the variance to 2e-3 relative.
fn compare(what: &str, p: &[f32], stats: (f32, f32), mean_grad_sq: f32, want: &(Vec<f64>, f64, f64)) -> Result<(), String> {
    let scale = want.0.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let close = |name: String, got: f64, want: f64, rel: f64, abs: f64| {
        let tol = abs + rel * want.abs();
        if (got - want).abs() <= tol {
            Ok(())
        } else {
            Err(format!("{what}: {name}: got {got}, want {want} (tolerance {tol})"))
        }
    };
    for (i, (&got, &w)) in p.iter().zip(&want.0).enumerate() {
        close(format!("p_{i}"), got as f64, w, 1e-3, 1e-4 * scale)?;
    }
    close("mean p_i".into(), stats.0 as f64, want.1, 1e-3, 1e-6 * scale)?;
    close("mean p_i = ‖ḡ‖²".into(), stats.0 as f64, mean_grad_sq as f64, 1e-3, 1e-6 * scale)?;
    close("Var p_i".into(), stats.1 as f64, want.2, 2e-3, 1e-6 * scale * scale)
}

fn check(what: &str, p: &[f32], stats: (f32, f32), mean_grad_sq: f32, want: &(Vec<f64>, f64, f64)) {
    if let Err(e) = compare(what, p, stats, mean_grad_sq, want) {
        panic!("{e}");
    }
}

#[test]
fn dense_inner_products_should_match_materialised_gradients() {
    for (model, dim, classes, m) in [("mlp:16,8:tanh", 12u32, 3u32, 37u32), ("mlp:24", 20, 5, 64), ("logreg", 9, 4, 5)] {
        let layout = Layout::new(&ModelSpec::parse(model).unwrap(), dim, classes).unwrap();
        let data = random_dataset(200, 1, dim, classes, false, 7);
        let params: Vec<f32> = layout.init_params(5).iter().map(|w| w + 0.02).collect();
        let perm: Vec<u32> = Rng::new(3).permutation(data.train.len());
        let offset = 11;
        let brute = |offset: u32| -> Vec<Vec<f64>> {
            (0..m)
                .map(|i| {
                    let e = perm[(offset + i) as usize] as usize;
                    brute_example(&layout, &params, &example(&data.train, dim, e), data.train.labels[e] as usize).1
                })
                .collect()
        };
        let want = oracle(&brute(offset));
        let (p, stats, gsq) = engine_inner(&layout, &data, &params, &perm, offset, m);
        check(model, &p, stats, gsq, &want);
        // The comparison can fail: the same examples dotted with another batch's ḡ.
        let g_other: Vec<f64> = {
            let g = brute(offset + m);
            (0..g[0].len()).map(|j| g.iter().map(|gi| gi[j]).sum::<f64>() / m as f64).collect()
        };
        let wrong: Vec<f64> = brute(offset).iter().map(|gi| gi.iter().zip(&g_other).map(|(a, b)| a * b).sum()).collect();
        assert!(compare(model, &p, stats, gsq, &(wrong, want.1, want.2)).is_err(), "{model}: p_i with another batch's ḡ passed");
    }
}

#[test]
fn convolutional_inner_products_should_match_materialised_gradients() {
    let mut small = random_dataset(120, 1, 2 * 7 * 7, 4, true, 2);
    small.image = Some(ImageShape { c: 2, h: 7, w: 7 });
    let small_layout = Layout::for_input(&every_layer_cnn(), small.dim, small.image, small.classes).unwrap();
    let mut mnist = random_dataset(40, 1, 784, 10, true, 4);
    mnist.image = Some(ImageShape { c: 1, h: 28, w: 28 });
    let mnist_layout = Layout::for_input(&ModelSpec::parse("cnn-mnist").unwrap(), 784, mnist.image, 10).unwrap();
    for (what, data, layout, m) in [("every-layer CNN", small, small_layout, 23u32), ("cnn-mnist", mnist, mnist_layout, 6)] {
        let params: Vec<f32> = layout.init_params(8).iter().map(|w| w * 1.5 + 0.01).collect();
        let perm: Vec<u32> = Rng::new(6).permutation(data.train.len());
        let want = oracle(&one_example_gradients(&layout, &data, &params, &perm, 3, m));
        assert!(want.2 > 0.0, "{what}: the p_i should differ between examples");
        let (p, stats, gsq) = engine_inner(&layout, &data, &params, &perm, 3, m);
        check(what, &p, stats, gsq, &want);
    }
}
