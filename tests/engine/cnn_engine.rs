//! Convolutional models end to end through both engines: the CPU engine's gradient against
//! finite differences of its own loss, its per-example squared norms against explicitly
//! materialised per-example gradients (exact, and the reference code's approximation), and the
//! GPU engine against the CPU engine on every intermediate buffer of whole steps.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{BackendChoice, ConvNorms, Engine, Snapshot};
use cabs::model::{Layout, ModelSpec};
use cabs::rng::Rng;
use common::*;

fn image_data(n: usize, image: ImageShape, classes: u32, seed: u64) -> Dataset {
    let mut d = random_dataset(n, 8, image.len(), classes, true, seed);
    d.image = Some(image);
    d
}

fn engine(choice: BackendChoice, layout: &Layout, data: &Dataset, m_max: u32, params: &[f32], norms: ConvNorms) -> Engine {
    let r = pollster::block_on(Engine::new(choice, layout.clone(), data, m_max, params, norms, None));
    if choice == BackendChoice::Gpu {
        require_gpu(r).0
    } else {
        r.unwrap().0
    }
}

fn setup() -> (Dataset, Layout, Vec<f32>) {
    let data = image_data(40, ImageShape { c: 2, h: 7, w: 7 }, 4, 3);
    let layout = Layout::for_input(&every_layer_cnn(), data.dim, data.image, data.classes).unwrap();
    // Non-zero biases, so that their gradients are exercised away from the initial point.
    let p0: Vec<f32> = layout.init_params(5).iter().map(|w| w + 0.01).collect();
    (data, layout, p0)
}

#[test]
fn cpu_cnn_gradient_matches_finite_differences() {
    let (data, layout, p0) = setup();
    let m = 6;
    let mut e = engine(BackendChoice::Cpu, &layout, &data, m, &p0, ConvNorms::Exact);
    pollster::block_on(e.train_step(2, m, 0.0, false)).unwrap();
    let grads = pollster::block_on(e.snapshot(m)).unwrap().grads;
    let mut loss_at = |p: &[f32]| {
        e.set_params(p).unwrap();
        pollster::block_on(e.train_step(2, m, 0.0, false)).unwrap().loss_sum as f64 / m as f64
    };
    let mut rng = Rng::new(9);
    let (mut checked, mut near_kink) = (0, 0);
    for t in layout.tensors() {
        // Every parameter of small tensors, a sample of large ones.
        let picks: Vec<u32> = if t.len <= 40 { (0..t.len).collect() } else { (0..40).map(|_| rng.below(t.len as u64) as u32).collect() };
        for j in picks {
            let i = (t.offset + j) as usize;
            let g = grads[i] as f64;
            let mut central = |eps: f32| {
                let (mut plus, mut minus) = (p0.clone(), p0.clone());
                plus[i] += eps;
                minus[i] -= eps;
                (loss_at(&plus) - loss_at(&minus)) / (2.0 * eps as f64)
            };
            let ok = |fd: f64| (fd - g).abs() <= 2e-3 + 3e-2 * g.abs();
            // ReLU and max-pool make the loss piecewise smooth: when a kink lies within ±ε the
            // central difference is off, so retry once with ε/4 (a wrong gradient fails both).
            let fd = central(1e-3);
            if !ok(fd) {
                near_kink += 1;
                let fd4 = central(2.5e-4);
                assert!(ok(fd4), "{}[{j}]: analytic {g:.6}, finite differences {fd:.6} (ε = 1e-3), {fd4:.6} (ε = 2.5e-4)", t.name);
            }
            checked += 1;
        }
    }
    assert!(near_kink * 20 <= checked, "{near_kink} of {checked} parameters needed the smaller ε");
    assert!(checked > 150, "{checked}");
}

/// Per-example gradients, one m = 1 step per example at α = 0, and their squared norms per tensor.
fn materialised_norms(e: &mut Engine, layout: &Layout, m: u32) -> Vec<Vec<f64>> {
    let tensors = layout.tensors();
    let mut rows = vec![vec![0.0; m as usize]; tensors.len()];
    for i in 0..m {
        pollster::block_on(e.train_step(i, 1, 0.0, false)).unwrap();
        let g = pollster::block_on(e.snapshot(1)).unwrap().grads;
        for (t, info) in tensors.iter().enumerate() {
            rows[t][i as usize] = g[info.offset as usize..(info.offset + info.len) as usize].iter().map(|&v| (v as f64).powi(2)).sum();
        }
    }
    rows
}

#[test]
fn cpu_cnn_norms_match_materialised_per_example_gradients() {
    let (data, layout, p0) = setup();
    let m = 7u32;
    let mut e = engine(BackendChoice::Cpu, &layout, &data, m, &p0, ConvNorms::Both);
    let want = materialised_norms(&mut e, &layout, m);
    let sums = pollster::block_on(e.train_step(0, m, 0.0, true)).unwrap();
    let s = pollster::block_on(e.snapshot(m)).unwrap();
    let n_t = layout.n_tensors();
    assert_eq!(s.norms.len(), n_t + 2 * layout.convs.len());
    for (t, info) in layout.tensors().iter().enumerate() {
        for (i, (&got, &w)) in s.norms[t].iter().zip(&want[t]).enumerate() {
            assert_close(&format!("{} example {i}", info.name), got as f64, w, 1e-4, 1e-9);
        }
    }
    let total: f64 = want.iter().flatten().sum();
    assert_close("Σ‖g_i‖² (all tensors)", sums.sq_norm_sum as f64, total, 1e-4, 1e-9);
    // The approximation: its own rows, never below exact / P (Cauchy–Schwarz), not equal to exact.
    for (c, conv) in layout.convs.iter().enumerate() {
        let p = conv.conv.positions() as f64;
        let approx_w = &s.norms[n_t + 2 * c];
        for (i, &exact) in want[2 * c].iter().enumerate() {
            assert!(exact <= p * approx_w[i] as f64 * (1.0 + 1e-4), "conv{c} example {i}: exact {exact} > P·approx");
        }
        let differs = (0..m as usize).any(|i| (approx_w[i] as f64 - want[2 * c][i]).abs() > 1e-3 * want[2 * c][i]);
        assert!(differs, "conv{c}: the approximation should differ from the exact norms somewhere");
    }
    // Reference mode puts the approximation where ξ reads it, so Σ‖g_i‖² changes by the difference.
    let mut r = engine(BackendChoice::Cpu, &layout, &data, m, &p0, ConvNorms::Reference);
    let ref_sums = pollster::block_on(r.train_step(0, m, 0.0, true)).unwrap();
    let conv_exact: f64 = (0..2 * layout.convs.len()).map(|t| want[t].iter().sum::<f64>()).sum();
    let conv_approx: f64 = (0..2 * layout.convs.len()).map(|t| s.norms[n_t + t].iter().map(|&v| v as f64).sum::<f64>()).sum();
    assert_close("Σ‖g_i‖² with the approximation", ref_sums.sq_norm_sum as f64, total - conv_exact + conv_approx, 1e-4, 1e-9);
}

fn compare(ctx: &str, g: &Snapshot, c: &Snapshot) {
    let close = |what: &str, a: &[f32], b: &[f32], rel| assert_all_close(&format!("{ctx}: {what}"), a, b, rel, 1e-5);
    close("gathered input", &g.input, &c.input, 1e-6);
    close("cropped, standardised input", &g.prepped, &c.prepped, 1e-4);
    for (s, (a, b)) in g.convs.iter().zip(&c.convs).enumerate() {
        close(&format!("conv {s} output"), &a.conv_out, &b.conv_out, 1e-4);
        close(&format!("pool {s} output"), &a.pool_out, &b.pool_out, 1e-4);
        assert_eq!(a.arg, b.arg, "{ctx}: pool {s} arg-max");
        close(&format!("pool {s} error"), &a.d_pool, &b.d_pool, 1e-3);
        close(&format!("conv {s} error"), &a.d_conv, &b.d_conv, 1e-3);
    }
    for (l, (a, b)) in g.acts.iter().zip(&c.acts).enumerate() {
        close(&format!("dense activations {l}"), a, b, 1e-4);
    }
    for (l, (a, b)) in g.deltas.iter().zip(&c.deltas).enumerate() {
        close(&format!("dense error {l}"), a, b, 1e-3);
    }
    close("per-example losses", &g.losses, &c.losses, 1e-4);
    close("gradient", &g.grads, &c.grads, 1e-3);
    close("parameters after the step", &g.params, &c.params, 1e-4);
    for (r, (a, b)) in g.norms.iter().zip(&c.norms).enumerate() {
        close(&format!("norm row {r}"), a, b, 1e-3);
    }
}

#[test]
fn gpu_cnn_steps_match_the_cpu_engine() {
    let (data, layout, p0) = setup();
    let perm = Rng::new(4).permutation(data.train.len());
    for norms in [ConvNorms::Both, ConvNorms::Reference] {
        let mut g = engine(BackendChoice::Gpu, &layout, &data, 32, &p0, norms);
        let mut c = engine(BackendChoice::Cpu, &layout, &data, 32, &p0, norms);
        g.set_permutation(&perm);
        c.set_permutation(&perm);
        for (m, offset) in [(1u32, 0u32), (5, 3), (32, 8)] {
            let gs = pollster::block_on(g.train_step(offset, m, 0.2, true)).unwrap();
            let cs = pollster::block_on(c.train_step(offset, m, 0.2, true)).unwrap();
            let ctx = format!("{norms:?}, m = {m}");
            compare(&ctx, &pollster::block_on(g.snapshot(m)).unwrap(), &pollster::block_on(c.snapshot(m)).unwrap());
            assert_close(&format!("{ctx}: Σ‖g_i‖²"), gs.sq_norm_sum as f64, cs.sq_norm_sum as f64, 1e-3, 1e-7);
            assert_close(&format!("{ctx}: ‖ḡ‖²"), gs.mean_grad_sq as f64, cs.mean_grad_sq as f64, 1e-3, 1e-7);
        }
        let (ge, ce) = (pollster::block_on(g.evaluate()).unwrap(), pollster::block_on(c.evaluate()).unwrap());
        assert_close(&format!("{norms:?}: test loss"), ge.loss_sum, ce.loss_sum, 1e-4, 1e-6);
    }
}

#[test]
fn gpu_paper_shaped_step_matches_the_cpu_engine() {
    // The real shapes of cnn-small and cnn-cifar (crop 32 → 24, 3 channels), on random images.
    for (model, image) in [("cnn-small", ImageShape { c: 1, h: 28, w: 28 }), ("cnn-cifar", ImageShape { c: 3, h: 32, w: 32 })] {
        let data = image_data(24, image, 10, 8);
        let layout = Layout::for_input(&ModelSpec::parse(model).unwrap(), data.dim, data.image, data.classes).unwrap();
        let p0 = layout.init_params(2);
        let mut g = engine(BackendChoice::Gpu, &layout, &data, 16, &p0, ConvNorms::Both);
        let mut c = engine(BackendChoice::Cpu, &layout, &data, 16, &p0, ConvNorms::Both);
        let perm = Rng::new(1).permutation(data.train.len());
        for e in [&mut g, &mut c] {
            e.set_permutation(&perm);
            pollster::block_on(e.train_step(0, 3, 0.1, true)).unwrap();
        }
        compare(model, &pollster::block_on(g.snapshot(3)).unwrap(), &pollster::block_on(c.snapshot(3)).unwrap());
    }
}
