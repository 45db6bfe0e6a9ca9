//! The inner products' pass on both engines: the GPU's p_i = g_iᵀḡ and their variance against
//! the CPU engine's (dense, every layer type, the cnn-mnist layout); a step in chunks (each
//! earlier chunk recomputed in a second pass) against the unchunked step; and turning the pass
//! on changes nothing else of a step (weights, loss, ‖ḡ‖², Σ‖g_i‖²), while turning it off
//! leaves no statistic behind.
#![cfg(not(target_arch = "wasm32"))]

use crate::common::*;
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{BackendChoice, ConvNorms, Engine};
use cabs::model::{Layout, ModelSpec};
use cabs::rng::Rng;

fn models() -> Vec<(&'static str, Dataset, Layout)> {
    let dense = random_dataset(700, 1, 12, 3, false, 1);
    let dense_layout = Layout::new(&ModelSpec::parse("mlp:16,8:tanh").unwrap(), 12, 3).unwrap();
    let mut images = random_dataset(700, 1, 2 * 7 * 7, 4, true, 2);
    images.image = Some(ImageShape { c: 2, h: 7, w: 7 });
    let cnn_layout = Layout::for_input(&every_layer_cnn(), images.dim, images.image, images.classes).unwrap();
    let mut mnist = random_dataset(400, 1, 784, 10, true, 3);
    mnist.image = Some(ImageShape { c: 1, h: 28, w: 28 });
    let mnist_layout = Layout::for_input(&ModelSpec::parse("cnn-mnist").unwrap(), 784, mnist.image, 10).unwrap();
    vec![("mlp:16,8:tanh", dense, dense_layout), ("every-layer CNN", images, cnn_layout), ("cnn-mnist", mnist, mnist_layout)]
}

fn engine(choice: BackendChoice, layout: &Layout, data: &Dataset, params: &[f32], m_max: u32, chunk: u32) -> Engine {
    let r = pollster::block_on(Engine::new(choice, layout.clone(), data, m_max, params, ConvNorms::Exact, Some(chunk)));
    let mut e = match choice {
        BackendChoice::Gpu => require_gpu(r).0,
        _ => r.unwrap().0,
    };
    e.set_permutation(&Rng::new(9).permutation(data.train.len()));
    e.set_inner_products(true);
    e
}

/// One step from `params`: (p_i, (mean, variance)).
fn step(e: &mut Engine, params: &[f32], offset: u32, m: u32) -> (Vec<f32>, (f32, f32)) {
    e.set_params(params).unwrap();
    pollster::block_on(e.train_step(offset, m, 0.2, true)).unwrap();
    (pollster::block_on(e.inner_products(m)).unwrap(), e.inner_product_stats().expect("computed when asked"))
}

fn assert_inner_close(what: &str, got: &(Vec<f32>, (f32, f32)), want: &(Vec<f32>, (f32, f32))) {
    let scale = want.0.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    assert_all_close(&format!("{what}: p_i"), &got.0, &want.0, 1e-3, 1e-4 * scale);
    assert_close(&format!("{what}: mean p_i"), got.1 .0 as f64, want.1 .0 as f64, 1e-3, 1e-6 * scale as f64);
    assert_close(&format!("{what}: Var p_i"), got.1 .1 as f64, want.1 .1 as f64, 2e-3, 1e-6 * (scale * scale) as f64);
}

#[test]
fn gpu_inner_products_should_match_the_cpu_engine() {
    for (name, data, layout) in models() {
        let params: Vec<f32> = layout.init_params(4).iter().map(|w| w + 0.01).collect();
        let m = if name == "cnn-mnist" { 48 } else { 130 };
        let mut cpu = engine(BackendChoice::Cpu, &layout, &data, &params, m, m);
        let mut gpu = engine(BackendChoice::Gpu, &layout, &data, &params, m, m);
        for (offset, m) in [(5u32, 1u32), (0, 17), (7, m)] {
            let want = step(&mut cpu, &params, offset, m);
            assert_inner_close(&format!("{name}, m = {m}, GPU against CPU"), &step(&mut gpu, &params, offset, m), &want);
        }
    }
}

#[test]
fn chunked_inner_products_equal_the_unchunked_step() {
    for (name, data, layout) in models() {
        let params: Vec<f32> = layout.init_params(6).iter().map(|w| w + 0.01).collect();
        let m_max = if name == "cnn-mnist" { 96 } else { 300 };
        for choice in [BackendChoice::Cpu, BackendChoice::Gpu] {
            let mut whole = engine(choice, &layout, &data, &params, m_max, m_max);
            for chunk in [1u32, 16, 40] {
                if chunk == 1 && (choice == BackendChoice::Gpu || name == "cnn-mnist") {
                    continue; // hundreds of one-example chunks of a CNN: slow on a software GPU
                }
                let mut chunked = engine(choice, &layout, &data, &params, m_max, chunk);
                assert_eq!(chunked.chunking().chunk, chunk);
                for (offset, m) in [(3u32, 7u32), (11, 64), (0, m_max)] {
                    let what = format!("{name}, {choice:?}, m = {m} in chunks of {chunk}");
                    assert_inner_close(&what, &step(&mut chunked, &params, offset, m), &step(&mut whole, &params, offset, m));
                }
            }
        }
    }
}

#[test]
fn the_inner_products_change_nothing_else_of_a_step() {
    for (name, data, layout) in models() {
        let params: Vec<f32> = layout.init_params(2).iter().map(|w| w + 0.01).collect();
        for choice in [BackendChoice::Cpu, BackendChoice::Gpu] {
            // Chunks of 16 for a batch of 40: the recomputation of earlier chunks runs too.
            let (mut with, mut without) =
                (engine(choice, &layout, &data, &params, 40, 16), engine(choice, &layout, &data, &params, 40, 16));
            without.set_inner_products(false);
            for e in [&mut with, &mut without] {
                e.set_params(&params).unwrap();
            }
            let a = pollster::block_on(with.train_step(2, 40, 0.3, true)).unwrap();
            let b = pollster::block_on(without.train_step(2, 40, 0.3, true)).unwrap();
            let what = format!("{name}, {choice:?}");
            assert_eq!(a, b, "{what}: the step's sums");
            let (pa, pb) = (pollster::block_on(with.params()).unwrap(), pollster::block_on(without.params()).unwrap());
            assert!(pa == pb, "{what}: the weights after the step differ with the inner products");
            assert!(with.inner_product_stats().is_some() && without.inner_product_stats().is_none(), "{what}: stats only when asked");
        }
    }
}

#[test]
fn a_trainer_logs_the_variance_only_when_asked() {
    let s = cabs::settings::Settings { data: "blobs".into(), model: "mlp:16".into(), backend: "cpu".into(), ..Default::default() };
    let mut t = pollster::block_on(cabs::trainer::Trainer::new(s.trainer_config().unwrap(), s.dataset(None).unwrap())).unwrap();
    let plain = pollster::block_on(t.step()).unwrap();
    assert_eq!(plain.inner_product_var, None, "CABS does not ask for the inner products");
    assert!(cabs::record::row(&plain, None, 1.0).ends_with(",cpu,"), "empty column without them");
    t.set_inner_products(true);
    let s = pollster::block_on(t.step()).unwrap();
    let v = s.inner_product_var.expect("asked for");
    assert!(v.is_finite() && v > 0.0, "Var p_i = {v}");
    assert!(cabs::record::row(&s, None, 1.0).ends_with(&format!(",{v}")), "the last CSV column");
}
