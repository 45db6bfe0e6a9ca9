//! End to end on the bundled MNIST digits with the GPU engine: with the default α = 0.5 the
//! CABS batch leaves 16 and grows, the loss falls, and test accuracy passes 90 %.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::settings::Settings;
use cabs::trainer::Trainer;
use common::require_gpu;

#[test]
fn cabs_on_bundled_mnist_grows_the_batch_and_learns() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/mnist.bin");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}; create it with `bash scripts/setup.sh`"));
    let s = Settings { backend: "gpu".into(), ..Settings::default() };
    assert_eq!((s.model.as_str(), s.lr, s.rule.as_str()), ("mlp:256", 0.5, "cabs"));
    let data = s.dataset(Some(&bytes)).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (8000, 2000));
    let mut t = require_gpu(pollster::block_on(Trainer::new(s.trainer_config().unwrap(), data)));
    let stats: Vec<_> = (0..300).map(|_| pollster::block_on(t.step()).unwrap()).collect();
    let eval = pollster::block_on(t.evaluate()).unwrap();
    let mean = |r: &[cabs::trainer::StepStats]| r.iter().map(|s| s.loss).sum::<f64>() / r.len() as f64;
    let (first, last) = (mean(&stats[..20]), mean(&stats[280..]));
    eprintln!(
        "batch {} → {}, loss {first:.3} → {last:.3}, test accuracy {:.4}",
        stats[0].batch_size, stats[299].next_batch_size, eval.test_accuracy
    );
    assert_eq!(stats[0].batch_size, 16);
    assert!(stats[299].batch_size >= 32, "the batch should have grown: {}", stats[299].batch_size);
    assert!(stats.windows(2).all(|w| w[1].batch_size == w[0].next_batch_size), "each step uses the size chosen by the previous one");
    assert!(last < 0.4 * first, "loss should fall: {first} → {last}");
    assert!(eval.test_accuracy > 0.9, "test accuracy {}", eval.test_accuracy);
}

/// The paper's MNIST CNN at the paper's α = 0.1 and init, against two runs of an independent
/// PyTorch implementation of the same rule on the same 8,000 digits (exact per-example
/// gradients; its figures are quoted in docs/REPRODUCTION.md, "Calibration"): the loss plateaus
/// near 2.3 while the small init warms up, the batch first exceeds 16 at step 307 (seed 0) and
/// 295 (seed 1) and is ≈ 26 by step 400. Our engine leaves the plateau somewhat later (its data
/// order differs), so the window below is wide. On the CPU engine (the GPU engine's tested twin)
/// because a software GPU needs seconds per step here.
#[test]
fn the_papers_cnn_plateaus_then_grows_the_batch_like_the_reference_run() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/www/data/mnist.bin");
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}; create it with `bash scripts/setup.sh`"));
    let s = Settings { backend: "cpu".into(), model: "cnn-mnist".into(), lr: 0.1, ..Settings::default() };
    let data = s.dataset(Some(&bytes)).unwrap();
    let mut t = pollster::block_on(Trainer::new(s.trainer_config().unwrap(), data)).unwrap();
    let stats: Vec<_> = (0..400).map(|_| pollster::block_on(t.step()).unwrap()).collect();
    let eval = pollster::block_on(t.evaluate()).unwrap();
    let mean = |r: &[cabs::trainer::StepStats]| r.iter().map(|s| s.loss).sum::<f64>() / r.len() as f64;
    let (first, plateau, last) = (mean(&stats[..20]), mean(&stats[180..200]), mean(&stats[380..]));
    let left16 = stats.iter().position(|s| s.batch_size > 16).map(|i| i + 1);
    eprintln!(
        "loss {first:.3} → {plateau:.3} (steps 181–200) → {last:.3}; batch first above 16 at step {left16:?}, {} at step 400; test accuracy {:.4}",
        stats[399].batch_size, eval.test_accuracy
    );
    assert!(first > 2.25 && plateau > 2.0, "the loss should start at ≈ ln 10 and still plateau at steps 181–200: {first}, {plateau}");
    assert!(stats[..250].iter().all(|s| s.batch_size == 16), "the batch stays at 16 through the plateau");
    let left16 = left16.expect("the batch should leave 16 by step 400");
    assert!((280..=380).contains(&left16), "the reference runs left 16 at steps 295 and 307; here {left16}");
    assert!((20..=34).contains(&stats[399].batch_size), "the reference run had ≈ 26 at step 400; here {}", stats[399].batch_size);
    assert!(last < 0.25 * first, "loss should fall: {first} → {last}");
    assert!(eval.test_accuracy > 0.88, "test accuracy {}", eval.test_accuracy);
}

/// A full data set as `bash scripts/fetch-data.sh` lays it out (data/NAME, or $CABS_DATA_DIR/NAME;
/// the test script runs it first): its label counts, and the default MLP and rule learn from it.
fn full_set_trains(name: &str, train_counts: [usize; 10], test_counts: [usize; 10], lr: f64, min_accuracy: f64) {
    use cabs::data::named;
    let set = named::FileSet::by_name(name).unwrap();
    let locs =
        named::locations(std::env::var_os(named::DATA_DIR_VAR).as_deref(), None, Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))));
    let dir = named::find_set(&locs, set).unwrap_or_else(|e| panic!("{e}"));
    let data = named::load_set(&dir, set).unwrap();
    let count = |labels: &[u32]| (0..10).map(|c| labels.iter().filter(|&&y| y == c).count()).collect::<Vec<_>>();
    assert_eq!(count(&data.train.labels), train_counts, "{name}: training labels per class");
    assert_eq!(count(&data.test.labels), test_counts, "{name}: test labels per class");
    assert_eq!((data.dim, data.classes), (784, 10));
    let s = Settings { backend: "cpu".into(), lr, ..Settings::default() };
    let mut t = pollster::block_on(Trainer::new(s.trainer_config().unwrap(), data)).unwrap();
    for _ in 0..300 {
        pollster::block_on(t.step()).unwrap();
    }
    let eval = pollster::block_on(t.evaluate()).unwrap();
    assert!(eval.test_accuracy > min_accuracy, "{name}: test accuracy {} on the 10,000 test images", eval.test_accuracy);
}

/// Full MNIST: 60,000 + 10,000 digits with the official label counts.
#[test]
fn full_mnist_has_the_official_counts_and_trains() {
    full_set_trains(
        "mnist-full",
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
        0.5,
        0.9,
    );
}

/// Fashion-MNIST: 6,000 training and 1,000 test images per class; harder than the digits, and the
/// default MLP learns it at a smaller α (0.1) than the digits' default 0.5.
#[test]
fn fashion_mnist_has_its_counts_and_trains() {
    full_set_trains("fashion-mnist", [6000; 10], [1000; 10], 0.1, 0.6);
}
