//! The engine in a real browser: WebGPU in headless Chromium, through
//! `wasm-pack test --headless --chrome` (flags in webdriver.json). A missing adapter fails the
//! test with a message; it never passes silently.
#![cfg(target_arch = "wasm32")]

use cabs::cabs::{CabsConfig, Rule};
use cabs::data::{synthetic, Dataset, Features, ImageShape, Split};
use cabs::engine::{BackendChoice, ConvNorms, Engine};
use cabs::model::{Layout, ModelSpec};
use cabs::rng::Rng;
use cabs::settings::LearningRate;
use cabs::trainer::{Trainer, TrainerConfig};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn gpu_or_explain<T>(r: cabs::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("no WebGPU adapter in this browser: {e}. Run Chromium with --enable-unsafe-webgpu (see webdriver.json)"))
}

fn close(what: &str, a: &[f32], b: &[f32], rel: f32, abs: f32) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= abs + rel * y.abs(), "{what}[{i}]: GPU {x}, CPU {y}");
    }
}

#[wasm_bindgen_test]
async fn a_webgpu_cnn_step_matches_the_cpu_twin() {
    // cnn-cifar's shapes (crop + standardisation, SAME pools of 3/2) on random 3×32×32 images,
    // with exact and approximate conv norms side by side.
    let mut r = Rng::new(3);
    let n = 12;
    let split = |r: &mut Rng| Split {
        features: Features::U8 { bytes: (0..n * 3072).map(|_| r.below(256) as u8).collect(), scale: 1.0 / 255.0 },
        labels: (0..n).map(|_| r.below(10) as u32).collect(),
    };
    let data = Dataset {
        name: "random images".into(),
        dim: 3072,
        image: Some(ImageShape { c: 3, h: 32, w: 32 }),
        classes: 10,
        train: split(&mut r),
        test: split(&mut r),
    };
    let layout = Layout::for_input(&ModelSpec::parse("cnn-cifar").unwrap(), data.dim, data.image, data.classes).unwrap();
    let p0 = layout.init_params(2);
    let perm = Rng::new(9).permutation(n);
    let (mut gpu, _) = gpu_or_explain(Engine::new(BackendChoice::Gpu, layout.clone(), &data, 8, &p0, ConvNorms::Both, None).await);
    let (mut cpu, _) = Engine::new(BackendChoice::Cpu, layout.clone(), &data, 8, &p0, ConvNorms::Both, None).await.unwrap();
    gpu.set_permutation(&perm);
    cpu.set_permutation(&perm);
    gpu.train_step(2, 5, 0.1, true).await.unwrap();
    cpu.train_step(2, 5, 0.1, true).await.unwrap();
    let (g, c) = (gpu.snapshot(5).await.unwrap(), cpu.snapshot(5).await.unwrap());
    close("standardised input", &g.prepped, &c.prepped, 1e-4, 1e-5);
    for (s, (a, b)) in g.convs.iter().zip(&c.convs).enumerate() {
        close(&format!("conv {s} output"), &a.conv_out, &b.conv_out, 1e-4, 1e-5);
        close(&format!("conv {s} error"), &a.d_conv, &b.d_conv, 1e-3, 1e-6);
    }
    close("gradient", &g.grads, &c.grads, 1e-3, 1e-6);
    assert_eq!(g.norms.len(), layout.n_tensors() + 4);
    for (t, (a, b)) in g.norms.iter().zip(&c.norms).enumerate() {
        close(&format!("per-example norm row {t}"), a, b, 1e-3, 1e-7);
    }
}

#[wasm_bindgen_test]
async fn a_webgpu_training_step_matches_the_cpu_twin() {
    let data = synthetic::blobs(4);
    let layout = Layout::new(&ModelSpec::parse("mlp:24,12").unwrap(), data.dim, data.classes).unwrap();
    let p0 = layout.init_params(2);
    let perm = Rng::new(9).permutation(data.train.len());
    let (mut gpu, info) = gpu_or_explain(Engine::new(BackendChoice::Gpu, layout.clone(), &data, 512, &p0, ConvNorms::Exact, None).await);
    assert_eq!(info.kind, "gpu");
    let (mut cpu, _) = Engine::new(BackendChoice::Cpu, layout.clone(), &data, 512, &p0, ConvNorms::Exact, None).await.unwrap();
    gpu.set_permutation(&perm);
    cpu.set_permutation(&perm);
    for m in [1u32, 37, 512] {
        gpu.set_params(&p0).unwrap();
        cpu.set_params(&p0).unwrap();
        let gs = gpu.train_step(5, m, 0.2, true).await.unwrap();
        let cs = cpu.train_step(5, m, 0.2, true).await.unwrap();
        let (g, c) = (gpu.snapshot(m).await.unwrap(), cpu.snapshot(m).await.unwrap());
        close(&format!("m={m} losses"), &g.losses, &c.losses, 1e-4, 1e-6);
        close(&format!("m={m} logits"), &g.acts[2], &c.acts[2], 1e-4, 1e-5);
        close(&format!("m={m} gradient"), &g.grads, &c.grads, 1e-3, 1e-5);
        for (t, (a, b)) in g.norms.iter().zip(&c.norms).enumerate() {
            close(&format!("m={m} per-example norms of tensor {t}"), a, b, 1e-3, 1e-7);
        }
        close(&format!("m={m} params"), &g.params, &c.params, 1e-4, 1e-6);
        close(
            &format!("m={m} sums"),
            &[gs.loss_sum, gs.correct, gs.sq_norm_sum, gs.mean_grad_sq],
            &[cs.loss_sum, cs.correct, cs.sq_norm_sum, cs.mean_grad_sq],
            1e-3,
            1e-6,
        );
    }
}

#[wasm_bindgen_test]
async fn a_short_cabs_run_on_webgpu_learns_and_grows_the_batch() {
    let cfg = TrainerConfig {
        model: ModelSpec::parse("mlp:32,32").unwrap(),
        rule: Rule::Cabs(CabsConfig { m_min: 8, m_max: 1024, ..Default::default() }),
        lr: LearningRate::new(1.0).unwrap(),
        seed: 1,
        backend: BackendChoice::Gpu,
        with_stats: true,
        conv_norms: Default::default(),
        chunk: None,
    };
    let mut t = gpu_or_explain(Trainer::new(cfg, synthetic::moons(1)).await);
    let first = t.evaluate().await.unwrap();
    let mut last = None;
    for _ in 0..150 {
        last = Some(t.step().await.unwrap());
    }
    let last = last.unwrap();
    let eval = t.evaluate().await.unwrap();
    assert!(last.batch_size > 8, "batch should grow from 8, is {}", last.batch_size);
    assert!(eval.test_loss < 0.6 * first.test_loss, "test loss {} → {}", first.test_loss, eval.test_loss);
    assert!(eval.test_accuracy > 0.85, "test accuracy {}", eval.test_accuracy);
}

fn blobs_config(backend: BackendChoice, lr: f64) -> TrainerConfig {
    TrainerConfig {
        model: ModelSpec::parse("mlp:16").unwrap(),
        rule: Rule::Cabs(CabsConfig { m_min: 8, m_max: 64, ..Default::default() }),
        lr: LearningRate::new(lr).unwrap(),
        seed: 1,
        backend,
        with_stats: true,
        conv_norms: Default::default(),
        chunk: None,
    }
}

#[wasm_bindgen_test]
async fn after_a_divergence_or_a_refusal_a_new_trainer_works_on_both_engines() {
    for backend in [BackendChoice::Cpu, BackendChoice::Gpu] {
        // Refused settings and data first: nothing is built, nothing is left behind.
        let mut huge = blobs_config(backend, 0.5);
        huge.rule = Rule::Cabs(CabsConfig { m_min: 8, m_max: 1 << 30, ..Default::default() });
        assert!(Trainer::new(huge, synthetic::blobs(0)).await.is_err());
        // Divergence: a named error with its step, and the trainer stays failed.
        let mut t = gpu_or_explain(Trainer::new(blobs_config(backend, 1e30), synthetic::blobs(1)).await);
        let mut diverged = None;
        for _ in 0..20 {
            if let Err(e) = t.step().await {
                diverged = Some(e);
                break;
            }
        }
        let e = diverged.unwrap_or_else(|| panic!("{backend:?}: α = 1e30 should diverge"));
        assert!(matches!(e, cabs::CabsError::Diverged { .. }), "{backend:?}: {e}");
        assert_eq!(t.step().await.unwrap_err(), e, "a failed trainer keeps reporting its failure");
        // A new trainer in the same module trains.
        let mut fresh = gpu_or_explain(Trainer::new(blobs_config(backend, 0.5), synthetic::blobs(2)).await);
        for _ in 0..3 {
            assert!(fresh.step().await.unwrap().loss.is_finite(), "{backend:?}");
        }
        assert!(fresh.evaluate().await.unwrap().test_loss.is_finite());
    }
}

#[wasm_bindgen_test]
async fn without_a_test_split_evaluate_says_so_instead_of_zeros() {
    let mut data = synthetic::blobs(3);
    data.test = Split { features: Features::F32(Vec::new()), labels: Vec::new() };
    let mut t = Trainer::new(blobs_config(BackendChoice::Cpu, 0.5), data).await.unwrap();
    t.step().await.unwrap();
    let e = t.evaluate().await.unwrap_err().to_string();
    assert!(e.contains("no test set"), "{e}");
}

#[wasm_bindgen_test]
async fn a_lost_webgpu_device_is_an_error_and_a_new_trainer_works_afterwards() {
    let data = synthetic::blobs(5);
    let layout = Layout::new(&ModelSpec::parse("mlp:8").unwrap(), data.dim, data.classes).unwrap();
    let p0 = layout.init_params(1);
    let (mut engine, _) = gpu_or_explain(Engine::new(BackendChoice::Gpu, layout, &data, 16, &p0, ConvNorms::Exact, None).await);
    engine.set_permutation(&Rng::new(1).permutation(data.train.len()));
    engine.train_step(0, 16, 0.1, true).await.unwrap();
    let Engine::Gpu(g) = &engine else { panic!("expected the GPU engine") };
    g.lose_device_for_testing();
    let err = engine.train_step(0, 16, 0.1, true).await.unwrap_err();
    assert!(matches!(err, cabs::CabsError::Gpu(_)), "{err}");
    let mut fresh = gpu_or_explain(Trainer::new(blobs_config(BackendChoice::Gpu, 0.5), synthetic::blobs(6)).await);
    assert!(fresh.step().await.unwrap().loss.is_finite());
}

#[wasm_bindgen_test]
async fn the_papers_mnist_net_at_m_max_2048_runs_on_webgpu_whole_and_in_chunks() {
    // Sized for m_max = 2048 in one piece, cnn-mnist needs a 196 MiB binding: created on the
    // browser's adapter it gets the largest chunk its limits allow, and a step forced into chunks
    // of 16 equals the step in one chunk (same seed, same batch).
    let mut r = Rng::new(5);
    let n = 2100;
    let split = |r: &mut Rng, n: usize| Split {
        features: Features::U8 { bytes: (0..n * 784).map(|_| r.below(256) as u8).collect(), scale: 1.0 / 255.0 },
        labels: (0..n).map(|_| r.below(10) as u32).collect(),
    };
    let data = Dataset {
        name: "random digits".into(),
        dim: 784,
        image: Some(ImageShape { c: 1, h: 28, w: 28 }),
        classes: 10,
        train: split(&mut r, n),
        test: split(&mut r, 20),
    };
    let cfg = |chunk| TrainerConfig {
        model: ModelSpec::parse("cnn-mnist").unwrap(),
        rule: Rule::Cabs(CabsConfig { m_min: 48, m_max: 2048, ..Default::default() }),
        lr: LearningRate::new(0.1).unwrap(),
        seed: 1,
        backend: BackendChoice::Gpu,
        with_stats: true,
        conv_norms: Default::default(),
        chunk,
    };
    let mut whole = gpu_or_explain(Trainer::new(cfg(None), data.clone()).await);
    let info = whole.backend().clone();
    assert!(info.chunk >= 48, "chunk {} ({})", info.chunk, info.chunk_reason);
    let mut chunked = gpu_or_explain(Trainer::new(cfg(Some(16)), data).await);
    assert_eq!(chunked.backend().chunk, 16);
    let (a, b) = (whole.step().await.unwrap(), chunked.step().await.unwrap());
    assert_eq!((a.batch_size, b.batch_size), (48, 48));
    assert!(a.loss.is_finite() && a.xi > 0.0, "{a:?}");
    for (what, x, y) in [("loss", b.loss, a.loss), ("ξ", b.xi, a.xi), ("‖ḡ‖²", b.grad_norm_sq, a.grad_norm_sq)] {
        assert!((x - y).abs() <= 1e-3 * y.abs() + 1e-7, "{what}: in chunks of 16 {x}, in one chunk {y}");
    }
    web_sys::console::log_1(&format!("cnn-mnist, m_max 2048 on WebGPU: chunk {} ({})", info.chunk, info.chunk_reason).into());
}

#[wasm_bindgen_test]
async fn told_there_is_no_adapter_auto_falls_back_with_the_reason_it_would_give_and_gpu_says_what_to_do() {
    // The page asks the browser for an adapter itself; when it found none, the engine is told
    // and does not ask again. This browser has one, so the test can also see the telling undone.
    cabs::gpu::context::note_browser_adapter(false);
    let auto = Trainer::new(blobs_config(BackendChoice::Auto, 0.5), synthetic::blobs(7)).await;
    let gpu = Trainer::new(blobs_config(BackendChoice::Gpu, 0.5), synthetic::blobs(7)).await;
    cabs::gpu::context::note_browser_adapter(true); // before any assertion: later tests need the GPU
    let mut auto = auto.unwrap();
    let b = auto.backend().clone();
    assert_eq!(b.kind, "cpu");
    assert_eq!(b.choice.how, "no gpu");
    let why = b.fallback_reason.expect("a fallback reason");
    assert!(why.contains("this browser offers no WebGPU adapter"), "{why}");
    assert_eq!(b.choice.reason, why);
    assert!(auto.step().await.unwrap().loss.is_finite());
    let e = gpu.err().expect("backend gpu without an adapter is an error").to_string();
    assert!(e.contains("this browser offers no WebGPU adapter"), "{e}");
    // Told otherwise, the engine asks the browser again and gets its GPU.
    let t = gpu_or_explain(Trainer::new(blobs_config(BackendChoice::Auto, 0.5), synthetic::blobs(7)).await);
    assert_ne!(t.backend().choice.how, "no gpu", "{:?}", t.backend().choice);
}
