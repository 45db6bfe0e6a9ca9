//! End to end on the bundled MNIST digits with the GPU engine: with the default α = 0.5 the
//! CABS batch leaves 16 and grows, the loss falls, and test accuracy passes 90 %.
#![cfg(not(target_arch = "wasm32"))]

mod common;
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
