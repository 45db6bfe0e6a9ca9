//! The CPU twin against independent oracles: finite differences of an f64 loss, and explicitly
//! materialised per-example gradients (brute force). This is what makes the CPU twin a trustworthy
//! oracle for the GPU tests.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::cabs::xi_from_sums;
use cabs::data::Dataset;
use cabs::engine::{BackendChoice, ConvNorms, Engine, Snapshot};
use cabs::model::{Layout, ModelSpec};
use common::*;

/// One CPU step (α = 0, so parameters stay put) on the first m examples, in order.
fn cpu_step(data: &Dataset, layout: &Layout, params: &[f32], m: u32) -> (Snapshot, cabs::reference::reduce_stats::StepSums) {
    let (mut e, _) = pollster::block_on(Engine::new(BackendChoice::Cpu, layout.clone(), data, m, params, ConvNorms::Exact, None)).unwrap();
    e.set_permutation(&(0..data.train.len() as u32).collect::<Vec<_>>());
    let sums = pollster::block_on(e.train_step(0, m, 0.0, true)).unwrap();
    (pollster::block_on(e.snapshot(m)).unwrap(), sums)
}

fn mean_loss(data: &Dataset, layout: &Layout, params: &[f32], m: usize) -> f64 {
    (0..m).map(|e| brute_example(layout, params, &example(&data.train, data.dim, e), data.train.labels[e] as usize).0).sum::<f64>()
        / m as f64
}

#[test]
fn brute_force_gradients_should_match_finite_differences() {
    for model in ["mlp:5,4", "mlp:6:tanh", "logreg"] {
        let data = random_dataset(4, 1, 3, 3, false, 9);
        let layout = Layout::new(&ModelSpec::parse(model).unwrap(), 3, 3).unwrap();
        let params = layout.init_params(4);
        for e in 0..4 {
            let x = example(&data.train, 3, e);
            let y = data.train.labels[e] as usize;
            let (_, g) = brute_example(&layout, &params, &x, y);
            for p in 0..params.len() {
                // f64 loss of f32 parameters: perturb in f64 through a scaled copy.
                let h = 1e-3f32;
                let (mut up, mut down) = (params.clone(), params.clone());
                up[p] += h;
                down[p] -= h;
                let fd = (brute_example(&layout, &up, &x, y).0 - brute_example(&layout, &down, &x, y).0) / (up[p] as f64 - down[p] as f64);
                assert_close(&format!("{model}: example {e}, parameter {p}"), g[p], fd, 2e-2, 2e-4);
            }
        }
    }
}

#[test]
fn cpu_twin_gradient_should_match_finite_differences() {
    let data = random_dataset(9, 1, 4, 3, true, 2);
    for model in ["mlp:6,5", "mlp:7:tanh"] {
        let layout = Layout::new(&ModelSpec::parse(model).unwrap(), 4, 3).unwrap();
        let params = layout.init_params(8);
        let m = 9;
        let (snap, sums) = cpu_step(&data, &layout, &params, m as u32);
        assert_close("mean loss", sums.loss_sum as f64 / m as f64, mean_loss(&data, &layout, &params, m), 1e-5, 1e-6);
        for p in 0..params.len() {
            let h = 1e-3f32;
            let (mut up, mut down) = (params.clone(), params.clone());
            up[p] += h;
            down[p] -= h;
            let fd = (mean_loss(&data, &layout, &up, m) - mean_loss(&data, &layout, &down, m)) / (up[p] as f64 - down[p] as f64);
            assert_close(&format!("{model}: ∂L/∂θ[{p}]"), snap.grads[p] as f64, fd, 2e-2, 2e-4);
        }
    }
}

/// Per-tensor per-example squared norms, mean gradient and ξ against materialised gradients.
fn check_statistics(model: &str, dim: u32, classes: u32, m: u32, bytes: bool) {
    let data = random_dataset(m as usize, 1, dim, classes, bytes, m as u64);
    let layout = Layout::new(&ModelSpec::parse(model).unwrap(), dim, classes).unwrap();
    let params = layout.init_params(m as u64 + 1);
    let (snap, sums) = cpu_step(&data, &layout, &params, m);
    let per_example: Vec<Vec<f64>> =
        (0..m as usize).map(|e| brute_example(&layout, &params, &example(&data.train, dim, e), data.train.labels[e] as usize).1).collect();
    let ctx = format!("{model}, m = {m}");
    for (t, tensor) in layout.tensors().iter().enumerate() {
        for (i, g) in per_example.iter().enumerate() {
            let want: f64 = g[tensor.offset as usize..(tensor.offset + tensor.len) as usize].iter().map(|v| v * v).sum();
            assert_close(&format!("{ctx}: ‖∂ℓ_{i}/∂{}‖²", tensor.name), snap.norms[t][i] as f64, want, 1e-4, 1e-9);
        }
    }
    let n = params.len();
    let mean: Vec<f64> = (0..n).map(|p| per_example.iter().map(|g| g[p]).sum::<f64>() / m as f64).collect();
    for (p, (&got, &want)) in snap.grads.iter().zip(&mean).enumerate() {
        assert_close(&format!("{ctx}: ḡ[{p}]"), got as f64, want, 1e-4, 1e-7);
    }
    let mean_sq: f64 = mean.iter().map(|v| v * v).sum();
    assert_close(&format!("{ctx}: ‖ḡ‖²"), sums.mean_grad_sq as f64, mean_sq, 1e-4, 1e-9);
    // ξ by its definition (two passes, no shortcut): (1/m) Σ_i ‖g_i − ḡ‖².
    let spread: f64 = per_example.iter().map(|g| g.iter().zip(&mean).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()).sum();
    let xi_biased = spread / m as f64;
    let xi_unbiased = if m > 1 { spread / (m as f64 - 1.0) } else { 0.0 };
    let got_b = xi_from_sums(sums.sq_norm_sum as f64, sums.mean_grad_sq as f64, m, false);
    let got_u = xi_from_sums(sums.sq_norm_sum as f64, sums.mean_grad_sq as f64, m, true);
    // The shortcut Σ‖g_i‖²/m − ‖ḡ‖² cancels in f32: tolerance relative to the larger term.
    let scale = sums.sq_norm_sum as f64 / m as f64;
    assert_close(&format!("{ctx}: biased ξ"), got_b, xi_biased, 0.0, 1e-5 * scale + 1e-9);
    assert_close(&format!("{ctx}: unbiased ξ"), got_u, xi_unbiased, 0.0, 2e-5 * scale + 1e-9);
}

#[test]
fn per_example_norms_and_xi_should_match_materialised_gradients() {
    for m in [1, 2, 7, 33, 257] {
        check_statistics("mlp:6,5", 4, 3, m, false);
        check_statistics("mlp:9:tanh", 5, 4, m, true);
    }
    check_statistics("logreg", 3, 2, 5, false);
}

#[test]
fn statistics_should_match_materialised_gradients_at_the_largest_batch() {
    check_statistics("mlp:5", 3, 3, 2048, false);
}
