//! The step plan run in chunks: a step of batch m split into ⌈m / chunk⌉ chunks must equal the
//! unchunked step up to float rounding (loss, ‖ḡ‖², Σ‖g_i‖², the updated parameters), on the GPU
//! and the CPU engine, for dense and convolutional models; a CABS run must choose the same
//! batches chunked as unchunked; both engines run one plan, and a per-op comparison names the op
//! whose output differs; predictions on CNNs agree with the GPU's evaluation.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{BackendChoice, ConvNorms, Engine, Snapshot};
use cabs::model::{Layout, ModelSpec};
use cabs::plan::{Buf, Plan};
use cabs::rng::Rng;
use cabs::settings::Settings;
use cabs::trainer::Trainer;
use common::*;

/// (name, data, layout) of the dense and the convolutional test model, with 2,100 training
/// examples so that a batch of 2,048 fits.
fn models() -> Vec<(&'static str, Dataset, Layout)> {
    let dense = random_dataset(2100, 50, 12, 3, false, 1);
    let dense_layout = Layout::new(&ModelSpec::parse("mlp:16,8:tanh").unwrap(), 12, 3).unwrap();
    let mut images = random_dataset(2100, 50, 2 * 7 * 7, 4, true, 2);
    images.image = Some(ImageShape { c: 2, h: 7, w: 7 });
    let cnn_layout = Layout::for_input(&every_layer_cnn(), images.dim, images.image, images.classes).unwrap();
    vec![("mlp:16,8:tanh", dense, dense_layout), ("every-layer CNN", images, cnn_layout)]
}

fn engine(choice: BackendChoice, layout: &Layout, data: &Dataset, params: &[f32], chunk: u32) -> Engine {
    let r = pollster::block_on(Engine::new(choice, layout.clone(), data, 2048, params, ConvNorms::Both, Some(chunk)));
    match choice {
        BackendChoice::Gpu => require_gpu(r).0,
        _ => r.unwrap().0,
    }
}

#[test]
fn chunked_steps_equal_the_unchunked_step() {
    for (name, data, layout) in models() {
        let p0: Vec<f32> = layout.init_params(3).iter().map(|w| w + 0.01).collect();
        let perm = Rng::new(9).permutation(data.train.len());
        for choice in [BackendChoice::Cpu, BackendChoice::Gpu] {
            let mut whole = engine(choice, &layout, &data, &p0, 2048);
            whole.set_permutation(&perm);
            for chunk in [1u32, 16, 64] {
                let mut chunked = engine(choice, &layout, &data, &p0, chunk);
                assert_eq!(chunked.chunking().chunk, chunk);
                let whole_rows = whole.chunking().chunk;
                chunked.set_permutation(&perm);
                for (m, offset) in [(1u32, 5u32), (7, 0), (64, 11), (300, 3), (2048, 40)] {
                    if chunk == 1 && m > 300 && choice == BackendChoice::Gpu && name != "mlp:16,8:tanh" {
                        continue; // 2,048 one-example chunks of a CNN: ~50k dispatches on a software GPU
                    }
                    let ctx = format!("{name}, {choice:?}, m = {m}, chunk = {chunk} against {whole_rows}");
                    for e in [&mut whole, &mut chunked] {
                        e.set_params(&p0).unwrap();
                    }
                    let a = pollster::block_on(whole.train_step(offset, m, 0.3, true)).unwrap();
                    let b = pollster::block_on(chunked.train_step(offset, m, 0.3, true)).unwrap();
                    assert_close(&format!("{ctx}: Σℓ"), b.loss_sum as f64, a.loss_sum as f64, 1e-5, 1e-6);
                    assert_eq!(b.correct, a.correct, "{ctx}: correct");
                    assert_close(&format!("{ctx}: Σ‖g_i‖²"), b.sq_norm_sum as f64, a.sq_norm_sum as f64, 1e-4, 1e-8);
                    assert_close(&format!("{ctx}: ‖ḡ‖²"), b.mean_grad_sq as f64, a.mean_grad_sq as f64, 1e-3, 1e-8);
                    let (pa, pb) = (pollster::block_on(whole.params()).unwrap(), pollster::block_on(chunked.params()).unwrap());
                    assert_all_close(&format!("{ctx}: parameters after the update"), &pb, &pa, 1e-4, 1e-6);
                    let (sa, sb) = (pollster::block_on(whole.snapshot(m)).unwrap(), pollster::block_on(chunked.snapshot(m)).unwrap());
                    for (r, (x, y)) in sb.norms.iter().zip(&sa.norms).enumerate() {
                        assert_all_close(&format!("{ctx}: per-example norm row {r}"), x, y, 1e-4, 1e-9);
                    }
                    assert_all_close(&format!("{ctx}: per-example losses"), &sb.losses, &sa.losses, 1e-5, 1e-6);
                }
            }
        }
    }
}

#[test]
fn a_chunked_cabs_run_chooses_the_same_batches() {
    for backend in ["cpu", "gpu"] {
        let run = |chunk: Option<u32>| {
            let s = Settings {
                data: "blobs".into(),
                model: "mlp:16".into(),
                lr: 4.0,
                mu: 0.9,
                backend: backend.into(),
                chunk,
                ..Settings::default()
            };
            let r = pollster::block_on(Trainer::new(s.trainer_config().unwrap(), s.dataset(None).unwrap()));
            let mut t = if backend == "gpu" { require_gpu(r) } else { r.unwrap() };
            (0..40).map(|_| pollster::block_on(t.step()).unwrap()).collect::<Vec<_>>()
        };
        let (whole, chunked) = (run(None), run(Some(7)));
        let sizes = |v: &[cabs::trainer::StepStats]| v.iter().map(|s| s.batch_size).collect::<Vec<_>>();
        assert_eq!(sizes(&chunked), sizes(&whole), "{backend}: batch sizes chunked (7) and unchunked");
        assert!(whole.last().unwrap().batch_size > 16, "{backend}: the batch should grow within 40 steps");
        for (a, b) in whole.iter().zip(&chunked) {
            // Rounding differences compound over the run; the batch sequence above is exact.
            assert_close(&format!("{backend} step {}: loss", a.step), b.loss, a.loss, 1e-2, 1e-6);
        }
    }
}

/// What a snapshot holds of a plan buffer (per-chunk buffers: the last chunk's rows).
fn snapshot_buffer(plan: &Plan, s: &Snapshot, b: Buf) -> Option<Vec<f32>> {
    let n_layers = plan.layout.layers.len();
    Some(match b {
        Buf::Input => s.input.clone(),
        Buf::Prepped => s.prepped.clone(),
        Buf::ConvOut(k) => s.convs[k].conv_out.clone(),
        Buf::PoolOut(k) => s.convs[k].pool_out.clone(),
        Buf::Arg(k) => s.convs[k].arg.iter().map(|&a| a as f32).collect(),
        Buf::DPool(k) => s.convs[k].d_pool.clone(),
        Buf::DConv(k) => s.convs[k].d_conv.clone(),
        Buf::Act(l) if l < n_layers => s.acts[l + 1].clone(),
        Buf::Delta(l) => s.deltas[l].clone(),
        Buf::Labels => s.labels.iter().map(|&y| y as f32).collect(),
        Buf::Losses => s.losses.clone(),
        Buf::Correct => s.correct.clone(),
        Buf::Norms => s.norms.concat(),
        Buf::Grads => s.grads.clone(),
        _ => return None,
    })
}

#[test]
fn both_engines_run_one_plan_and_a_differing_op_is_named() {
    let (name, data, layout) = models().remove(1);
    let p0 = layout.init_params(4);
    let perm = Rng::new(2).permutation(data.train.len());
    let (mut g, mut c) = (engine(BackendChoice::Gpu, &layout, &data, &p0, 16), engine(BackendChoice::Cpu, &layout, &data, &p0, 16));
    for e in [&mut g, &mut c] {
        e.set_permutation(&perm);
        pollster::block_on(e.train_step(0, 37, 0.1, true)).unwrap();
    }
    let (sg, sc) = (pollster::block_on(g.snapshot(37)).unwrap(), pollster::block_on(c.snapshot(37)).unwrap());
    assert_eq!(sg.rows, 5, "the last of three chunks of 16 holds 5 rows");
    let plan = c.plan().clone();
    // The comparison is not vacuous: every op of the chunk writes a buffer both snapshots hold.
    let unchecked: Vec<String> = plan
        .chunk
        .iter()
        .filter(|&&op| !plan.io(op).1.into_iter().any(|b| snapshot_buffer(&plan, &sc, b).is_some()))
        .map(|op| format!("{op:?}"))
        .collect();
    assert!(unchecked.is_empty(), "{name}: ops whose outputs no snapshot holds: {unchecked:?}");
    let first_difference = |sg: &Snapshot| {
        for &op in &plan.chunk {
            for b in plan.io(op).1 {
                let (Some(x), Some(y)) = (snapshot_buffer(&plan, sg, b), snapshot_buffer(&plan, &sc, b)) else { continue };
                let scale = y.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                if x.len() != y.len() || x.iter().zip(&y).any(|(p, q)| (p - q).abs() > 1e-3 * scale) {
                    return Some(format!("{op:?} ({}) wrote {b:?}", op.kernel()));
                }
            }
        }
        None
    };
    assert_eq!(first_difference(&sg), None, "{name}: GPU and CPU engine differ");
    // The comparison can fail, and says where: corrupt one op's output.
    let mut broken = sg.clone();
    broken.convs[1].d_conv[3] += 1.0;
    let named = first_difference(&broken).expect("a corrupted buffer is found");
    assert!(named.contains("DConv(1)"), "{named}");
}

#[test]
fn predictions_on_a_cnn_agree_with_the_gpu_evaluation() {
    for backend in ["gpu", "cpu"] {
        let s = Settings { model: "cnn-small".into(), backend: backend.into(), mmax: 64, lr: 0.1, ..Settings::default() };
        let mut img = random_dataset(200, 30, 28 * 28, 10, true, 5);
        img.image = Some(ImageShape { c: 1, h: 28, w: 28 });
        let r = pollster::block_on(Trainer::new(s.trainer_config().unwrap(), img.clone()));
        let mut t = if backend == "gpu" { require_gpu(r) } else { r.unwrap() };
        for _ in 0..3 {
            pollster::block_on(t.step()).unwrap();
        }
        let dim = img.dim as usize;
        let points: Vec<f32> =
            (0..img.test.len()).flat_map(|e| (0..dim).map(move |j| (e, j))).map(|(e, j)| img.test.feature(dim, e, j)).collect();
        let probs = pollster::block_on(t.predict(&points)).unwrap();
        assert_eq!(probs.len(), img.test.len() * 10);
        let mut loss = 0.0;
        for (e, p) in probs.chunks(10).enumerate() {
            assert_close(&format!("{backend}: Σ p of example {e}"), p.iter().map(|&v| v as f64).sum(), 1.0, 1e-5, 1e-5);
            loss -= (p[img.test.labels[e] as usize] as f64).ln();
        }
        let eval = pollster::block_on(t.evaluate()).unwrap();
        assert_close(
            &format!("{backend}: mean −log p(label) against the test loss"),
            loss / img.test.len() as f64,
            eval.test_loss,
            1e-4,
            1e-5,
        );
    }
}

#[test]
fn the_papers_mnist_net_runs_at_its_bound_m_max_2048() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/mnist.bin");
    let bytes = std::fs::read(path).expect("the MNIST bundle (bash scripts/setup.sh makes it)");
    let s = Settings { model: "cnn-mnist".into(), lr: 0.1, mmax: 2048, ..Settings::default() };
    let data = s.dataset(Some(&bytes)).unwrap();
    // Before chunking this needed a 205 MB binding: lavapipe's (and many browsers') limit is
    // 128 MiB. The first CABS step is at m_min; a full m = 2048 step on lavapipe would take
    // minutes with the direct convolution kernels, so the GPU steps at 64 (several chunks).
    for (backend, m) in [("gpu", 64u32), ("cpu", 2048)] {
        let cfg = Settings { backend: backend.into(), mmin: m, ..s.clone() }.trainer_config().unwrap();
        let r = pollster::block_on(Trainer::new(cfg, data.clone()));
        let mut t = if backend == "gpu" { require_gpu(r) } else { r.unwrap() };
        let info = t.backend().clone();
        if backend == "gpu" {
            assert!(info.chunk < 2048, "{backend}: chunk {} ({})", info.chunk, info.chunk_reason);
        }
        let st = pollster::block_on(t.step()).unwrap();
        assert_eq!(st.batch_size, m);
        assert!(st.loss.is_finite() && st.xi > 0.0 && st.grad_norm_sq > 0.0, "{backend}: {st:?}");
        eprintln!("{backend}: chunk {} ({}), step at m = {m}: loss {:.4}, ξ {:.4}", info.chunk, info.chunk_reason, st.loss, st.xi);
    }
}

#[test]
fn streamed_data_gives_the_same_steps_and_evaluation() {
    for (name, data, layout) in models() {
        let p0 = layout.init_params(6);
        let perm = Rng::new(3).permutation(data.train.len());
        let mut resident = engine(BackendChoice::Gpu, &layout, &data, &p0, 16);
        let mut streamed =
            require_gpu(pollster::block_on(Engine::new_gpu_streamed(layout.clone(), &data, 2048, &p0, ConvNorms::Both, Some(16))));
        for e in [&mut resident, &mut streamed] {
            e.set_permutation(&perm);
        }
        for (m, offset) in [(1u32, 0u32), (37, 100), (300, 7)] {
            let a = pollster::block_on(resident.train_step(offset, m, 0.2, true)).unwrap();
            let b = pollster::block_on(streamed.train_step(offset, m, 0.2, true)).unwrap();
            assert_eq!(a, b, "{name}, m = {m}: the same kernels on the same examples give the same bits");
        }
        let (ea, eb) = (pollster::block_on(resident.evaluate()).unwrap(), pollster::block_on(streamed.evaluate()).unwrap());
        assert_eq!(ea, eb, "{name}: evaluation");
    }
}

#[test]
fn a_cifar_sized_training_set_larger_than_a_binding_trains() {
    // 50,000 CIFAR-shaped images are 153.6 MB of bytes: more than the 128 MiB one storage
    // binding holds on lavapipe and in many browsers, so the engine streams the batches.
    let n = 50_000;
    let mut data = random_dataset(64, 40, 3 * 32 * 32, 10, true, 7);
    let mut state = 12345u64;
    let bytes: Vec<u8> = (0..n * 3 * 32 * 32)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect();
    data.train = cabs::data::Split {
        features: cabs::data::Features::U8 { bytes, scale: 1.0 / 255.0 },
        labels: (0..n).map(|i| (i % 10) as u32).collect(),
    };
    data.image = Some(ImageShape { c: 3, h: 32, w: 32 });
    let s = Settings { model: "cnn-cifar".into(), backend: "gpu".into(), mmax: 64, lr: 0.1, ..Settings::default() };
    let mut t = require_gpu(pollster::block_on(Trainer::new(s.trainer_config().unwrap(), data)));
    let a = pollster::block_on(t.step()).unwrap();
    let b = pollster::block_on(t.step()).unwrap();
    assert!(a.loss.is_finite() && b.loss.is_finite() && a.xi > 0.0, "{a:?}");
    assert!(pollster::block_on(t.evaluate()).unwrap().test_loss.is_finite());
}

#[test]
fn the_memory_plan_refuses_a_model_that_cannot_fit_before_allocating() {
    // 16.8 M parameters: 64 MiB of weights and as much of gradient, more than a 100 MiB budget.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cabs"))
        .args(["train", "--data", "blobs", "--model", "mlp:4096,4096", "--backend", "cpu", "--steps", "1"])
        .env("CABS_MEMORY_BUDGET_MIB", "100")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("needs") && err.contains("MiB") && err.contains("CABS_MEMORY_BUDGET_MIB") && err.contains("smaller model"),
        "{err}"
    );
    // A budget that holds the parameters but only a few examples gives a small chunk, not an error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cabs"))
        .args(["train", "--data", "blobs", "--model", "mlp:512", "--backend", "cpu", "--steps", "1", "--m-min", "64"])
        .env("CABS_MEMORY_BUDGET_MIB", "3")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("(memory budget)"), "the start line names the chunk and why: {err}");
}
