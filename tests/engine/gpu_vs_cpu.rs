//! GPU against CPU: every kernel's output is checked against its CPU twin applied to the GPU's
//! own inputs (so an error points at one kernel), then whole steps and whole runs are compared,
//! and a run is repeated to check that the fixed-order reductions make it bit-for-bit repeatable.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::cabs::{CabsConfig, LrSchedule, Rule};
use cabs::data::{synthetic, Dataset};
use cabs::engine::{BackendChoice, ConvNorms, Engine, Snapshot};
use cabs::model::epilogue::{activation_flag, derivative_flag, ADD_BIAS, SCALE_INV_M};
use cabs::model::{Layout, ModelSpec};
use cabs::reference::gather::gather_batch;
use cabs::reference::matmul::{matmul, MatmulSpec};
use cabs::reference::{
    bias_grad::bias_grad, per_example_norms::per_example_norms, reduce_stats::reduce_stats, sgd_update::sgd_update,
    softmax_xent::softmax_xent,
};
use cabs::rng::Rng;
use cabs::settings::LearningRate;
use cabs::trainer::{Trainer, TrainerConfig};
use common::*;

const REL: f32 = 2e-5;
const ABS: f32 = 2e-6;

/// Run one GPU step and check each kernel against its twin on the GPU's own buffers.
fn check_kernels(data: &Dataset, model: &str, batch_sizes: &[u32], m_max: u32) {
    let layout = Layout::new(&ModelSpec::parse(model).unwrap(), data.dim, data.classes).unwrap();
    let p0 = layout.init_params(11);
    let perm = Rng::new(5).permutation(data.train.len());
    let (mut gpu, _) =
        require_gpu(pollster::block_on(Engine::new(BackendChoice::Gpu, layout.clone(), data, m_max, &p0, ConvNorms::Exact, None)));
    let (mut cpu, _) =
        pollster::block_on(Engine::new(BackendChoice::Cpu, layout.clone(), data, m_max, &p0, ConvNorms::Exact, None)).unwrap();
    gpu.set_permutation(&perm);
    cpu.set_permutation(&perm);
    let lr = 0.3f32;
    for &m in batch_sizes {
        let offset = 3.min(data.train.len() as u32 - m);
        gpu.set_params(&p0).unwrap();
        cpu.set_params(&p0).unwrap();
        let sums = pollster::block_on(gpu.train_step(offset, m, lr, true)).unwrap();
        let g = pollster::block_on(gpu.snapshot(m)).unwrap();
        let ctx = format!("{model}, m = {m}");
        check_one_step(&layout, data, &perm, offset, m, lr, &p0, &g, sums, &ctx);

        // The whole step on the CPU engine agrees too (errors may compound, so looser).
        let cs = pollster::block_on(cpu.train_step(offset, m, lr, true)).unwrap();
        let c = pollster::block_on(cpu.snapshot(m)).unwrap();
        assert_all_close(&format!("{ctx}: params after the step"), &g.params, &c.params, 1e-4, 1e-5);
        assert_all_close(&format!("{ctx}: gradient"), &g.grads, &c.grads, 1e-3, 1e-5);
        for (what, a, b) in [
            ("loss sum", sums.loss_sum, cs.loss_sum),
            ("Σ‖g_i‖²", sums.sq_norm_sum, cs.sq_norm_sum),
            ("‖ḡ‖²", sums.mean_grad_sq, cs.mean_grad_sq),
        ] {
            assert_close(&format!("{ctx}: {what}"), a as f64, b as f64, 1e-3, 1e-6);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_one_step(
    layout: &Layout,
    data: &Dataset,
    perm: &[u32],
    offset: u32,
    m: u32,
    lr: f32,
    p0: &[f32],
    g: &Snapshot,
    sums: cabs::reference::reduce_stats::StepSums,
    ctx: &str,
) {
    let mu = m as usize;
    let dim = data.dim as usize;
    let mut x = vec![0.0; mu * dim];
    let mut y = vec![0; mu];
    gather_batch(&data.train, dim, Some(perm), offset as usize, mu, &mut x, &mut y);
    assert_eq!(g.acts[0], x, "{ctx}: gather_batch features");
    assert_eq!(g.labels, y, "{ctx}: gather_batch labels");
    let act = layout.activation;
    let n_layers = layout.layers.len();
    for (l, d) in layout.layers.iter().enumerate() {
        let flags = ADD_BIAS | if d.activated { activation_flag(act) } else { 0 };
        let spec = MatmulSpec { m: mu, n: d.d_out as usize, k: d.d_in as usize, trans_a: false, trans_b: true, flags };
        let mut out = vec![0.0; mu * d.d_out as usize];
        matmul(spec, &g.acts[l], &p0[d.w_offset as usize..], &p0[d.b_offset as usize..(d.b_offset + d.d_out) as usize], &[], 0.0, &mut out);
        assert_all_close(&format!("{ctx}: matmul forward, layer {l}"), &g.acts[l + 1], &out, REL, ABS);
    }
    let classes = layout.classes() as usize;
    let (mut delta, mut losses, mut correct) = (vec![0.0; mu * classes], vec![0.0; mu], vec![0.0; mu]);
    softmax_xent(&g.acts[n_layers], &g.labels, mu, classes, &mut delta, &mut losses, &mut correct);
    assert_all_close(&format!("{ctx}: softmax_xent δ"), &g.deltas[n_layers - 1], &delta, REL, ABS);
    assert_all_close(&format!("{ctx}: softmax_xent losses"), &g.losses, &losses, REL, ABS);
    assert_eq!(g.correct, correct, "{ctx}: softmax_xent correct");
    for l in 1..n_layers {
        let d = layout.layers[l];
        let spec =
            MatmulSpec { m: mu, n: d.d_in as usize, k: d.d_out as usize, trans_a: false, trans_b: false, flags: derivative_flag(act) };
        let mut out = vec![0.0; mu * d.d_in as usize];
        matmul(spec, &g.deltas[l], &p0[d.w_offset as usize..], &[], &g.acts[l], 0.0, &mut out);
        assert_all_close(&format!("{ctx}: matmul backward, layer {l}"), &g.deltas[l - 1], &out, REL, ABS);
    }
    let inv_m = 1.0 / m as f32;
    let mut grads = vec![0.0; layout.param_count as usize];
    for (l, d) in layout.layers.iter().enumerate() {
        let spec = MatmulSpec { m: d.d_out as usize, n: d.d_in as usize, k: mu, trans_a: true, trans_b: false, flags: SCALE_INV_M };
        matmul(spec, &g.deltas[l], &g.acts[l], &[], &[], inv_m, &mut grads[d.w_offset as usize..d.b_offset as usize]);
        bias_grad(&g.deltas[l], mu, d.d_out as usize, inv_m, false, &mut grads[d.b_offset as usize..(d.b_offset + d.d_out) as usize]);
        let (mut wn, mut bn) = (vec![0.0; mu], vec![0.0; mu]);
        per_example_norms(&g.acts[l], &g.deltas[l], mu, d.d_in as usize, d.d_out as usize, &mut wn, &mut bn);
        assert_all_close(&format!("{ctx}: per_example_norms weights, layer {l}"), &g.norms[2 * l], &wn, REL, ABS);
        assert_all_close(&format!("{ctx}: per_example_norms bias, layer {l}"), &g.norms[2 * l + 1], &bn, REL, ABS);
    }
    assert_all_close(&format!("{ctx}: weight and bias gradients"), &g.grads, &grads, REL, ABS);
    let mut params = p0.to_vec();
    let partials = sgd_update(&mut params, &g.grads, lr);
    assert_all_close(&format!("{ctx}: sgd_update weights"), &g.params, &params, REL, ABS);
    assert_all_close(&format!("{ctx}: sgd_update partial Σḡ²"), &g.partials, &partials, REL, 1e-12);
    let flat: Vec<f32> = g.norms.iter().flat_map(|r| r.iter().copied()).collect();
    let want = reduce_stats(&g.losses, &g.correct, &flat, g.norms.len(), mu, mu, &g.partials);
    assert_all_close(
        &format!("{ctx}: reduce_stats"),
        &[sums.loss_sum, sums.correct, sums.sq_norm_sum, sums.mean_grad_sq],
        &[want.loss_sum, want.correct, want.sq_norm_sum, want.mean_grad_sq],
        REL,
        1e-12,
    );
}

#[test]
fn kernels_should_match_reference_for_a_relu_mlp_on_byte_images_at_many_batch_sizes() {
    let data = random_dataset(2100, 50, 37, 5, true, 1);
    check_kernels(&data, "mlp:19,7", &[1, 2, 17, 33, 255, 2048], 2048);
    // Layers wider than one 64-column tile, and batches past one 64-row tile, with ragged edges:
    // the 8×8-per-thread blocks of the square tile and of the 16-row strip (m = 5) in all three
    // transpositions.
    check_kernels(&data, "mlp:70,130", &[5, 65, 130], 256);
}

#[test]
fn kernels_should_match_reference_for_tanh_and_logreg_on_float_features() {
    let data = random_dataset(300, 40, 6, 4, false, 2);
    check_kernels(&data, "mlp:13:tanh", &[3, 64], 64);
    check_kernels(&data, "logreg", &[1, 5], 64);
}

fn run(backend: BackendChoice, rule: Rule, steps: usize) -> (Vec<cabs::trainer::StepStats>, cabs::trainer::EvalStats) {
    let cfg = TrainerConfig {
        model: ModelSpec::parse("mlp:16,16").unwrap(),
        rule,
        lr: LearningRate::new(0.5).unwrap(),
        seed: 3,
        backend,
        with_stats: true,
        conv_norms: ConvNorms::Exact,
        chunk: None,
    };
    let mut t = require_gpu(pollster::block_on(Trainer::new(cfg, synthetic::spirals(3))));
    let stats = (0..steps).map(|_| pollster::block_on(t.step()).unwrap()).collect();
    (stats, pollster::block_on(t.evaluate()).unwrap())
}

#[test]
fn whole_runs_should_match_between_gpu_and_cpu() {
    let rule = Rule::Cabs(CabsConfig { m_min: 8, m_max: 256, ..Default::default() });
    let (g, ge) = run(BackendChoice::Gpu, rule.clone(), 40);
    let (c, ce) = run(BackendChoice::Cpu, rule, 40);
    for (a, b) in g.iter().zip(&c) {
        assert_eq!(a.batch_size, b.batch_size, "step {}: batch sizes differ", a.step);
        assert_close(&format!("step {} loss", a.step), a.loss, b.loss, 1e-3, 1e-6);
        assert_close(&format!("step {} ξ", a.step), a.xi, b.xi, 1e-2, 1e-5);
        assert_close(&format!("step {} m_raw", a.step), a.m_raw, b.m_raw, 1e-2, 1e-3);
    }
    assert_close("test loss", ge.test_loss, ce.test_loss, 1e-3, 1e-6);
    assert_close("test accuracy", ge.test_accuracy, ce.test_accuracy, 0.0, 2.0 / 1024.0);
}

#[test]
fn the_same_seed_gives_identical_gpu_runs() {
    let rule = Rule::Constant { m: 32, schedule: LrSchedule::InverseTime { k: 0.01 } };
    let (a, ae) = run(BackendChoice::Gpu, rule.clone(), 15);
    let (b, be) = run(BackendChoice::Gpu, rule, 15);
    assert_eq!(a, b);
    assert_eq!(ae, be);
}

#[test]
fn a_lost_device_is_an_error_not_a_panic() {
    let data = random_dataset(64, 8, 5, 3, false, 3);
    let layout = Layout::new(&ModelSpec::parse("mlp:4").unwrap(), 5, 3).unwrap();
    let p0 = layout.init_params(1);
    let (mut engine, _) = require_gpu(pollster::block_on(Engine::new(BackendChoice::Gpu, layout, &data, 16, &p0, ConvNorms::Exact, None)));
    engine.set_permutation(&(0..64).collect::<Vec<_>>());
    pollster::block_on(engine.train_step(0, 16, 0.1, true)).unwrap();
    let Engine::Gpu(g) = &engine else { panic!("expected the GPU engine") };
    g.lose_device_for_testing();
    let err = pollster::block_on(engine.train_step(0, 16, 0.1, true)).unwrap_err().to_string();
    assert!(err.starts_with("GPU: "), "{err}");
    eprintln!("after the device was destroyed: {err}");
}
