//! The CPU engine on 1, 2 and 3 threads: every step's sums, per-example norms and losses, the
//! gradient, the updated weights, the test-set sums and the predictions must be bit for bit the
//! same, for a dense net, a net with every layer type and `cnn-mnist`, unchunked and in chunks,
//! at batch sizes that 2 and 3 do not divide (and one example, fewer than the threads).
//! Bit-identical, not close: the kernels split work over independent outputs only
//! (`cabs::fast::pool`), so any difference is a reduction whose order depends on the threads.
#![cfg(not(target_arch = "wasm32"))]

use crate::common::*;
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{ConvNorms, CpuEngine};
use cabs::model::{Layout, ModelSpec};
use cabs::plan::{Chunking, Plan};
use cabs::rng::Rng;

const M_MAX: u32 = 128;
/// (batch size, offset) of each step: 2 and 3 do not divide 37 or 101; 1 is below the threads.
const STEPS: [(u32, u32); 4] = [(37, 0), (101, 7), (64, 40), (1, 3)];

/// Everything a run produces, as bits.
#[derive(PartialEq, Debug)]
struct Outcome {
    /// Per step: Σℓ, Σcorrect, Σ‖g_i‖², ‖ḡ‖².
    sums: Vec<[u32; 4]>,
    /// Per step: every per-example norm row, then the per-example losses.
    per_example: Vec<Vec<u32>>,
    grads: Vec<u32>,
    params: Vec<u32>,
    eval: [u64; 2],
    predictions: Vec<u32>,
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn models() -> Vec<(&'static str, Dataset, Layout)> {
    let dense = random_dataset(300, 40, 100, 3, false, 1);
    let dense_layout = Layout::new(&ModelSpec::parse("mlp:64,32").unwrap(), 100, 3).unwrap();
    let mut small = random_dataset(300, 40, 2 * 7 * 7, 4, true, 2);
    small.image = Some(ImageShape { c: 2, h: 7, w: 7 });
    let small_layout = Layout::for_input(&every_layer_cnn(), small.dim, small.image, small.classes).unwrap();
    let mut digits = random_dataset(300, 40, 28 * 28, 10, true, 3);
    digits.image = Some(ImageShape { c: 1, h: 28, w: 28 });
    let cnn_layout = Layout::for_input(&ModelSpec::parse("cnn-mnist").unwrap(), digits.dim, digits.image, digits.classes).unwrap();
    vec![("mlp:64,32", dense, dense_layout), ("every-layer CNN", small, small_layout), ("cnn-mnist", digits, cnn_layout)]
}

/// Train the steps of [`STEPS`] (the last without statistics) on `threads` threads.
fn run(data: &Dataset, layout: &Layout, chunk: u32, threads: usize) -> Outcome {
    let params: Vec<f32> = layout.init_params(3).iter().map(|w| w + 0.01).collect();
    let chunking = Chunking { chunk, reason: "forced" };
    let mut e = CpuEngine::new(Plan::new(layout, ConvNorms::Both), chunking, data, M_MAX, &params).unwrap();
    e.set_threads(threads);
    assert_eq!(e.threads(), threads, "the engine runs on the threads asked for");
    e.set_permutation(&Rng::new(9).permutation(data.train.len()));
    let (mut sums, mut per_example) = (Vec::new(), Vec::new());
    for (k, &(m, offset)) in STEPS.iter().enumerate() {
        let s = e.train_step(offset, m, 0.05, k + 1 < STEPS.len());
        sums.push([s.loss_sum, s.correct, s.sq_norm_sum, s.mean_grad_sq].map(f32::to_bits));
        let snap = e.snapshot(m);
        per_example.push(snap.norms.iter().chain([&snap.losses]).flat_map(|r| bits(r)).collect());
    }
    let ev = e.evaluate();
    let points = match &data.test.features {
        cabs::data::Features::U8 { bytes, scale } => bytes[..5 * data.dim as usize].iter().map(|&b| b as f32 * scale).collect(),
        cabs::data::Features::F32(v) => v[..5 * data.dim as usize].to_vec(),
    };
    Outcome {
        sums,
        per_example,
        grads: bits(&e.snapshot(1).grads),
        params: bits(e.params()),
        eval: [ev.loss_sum.to_bits(), ev.correct.to_bits()],
        predictions: bits(&e.predict(&points)),
    }
}

/// Where two outcomes first differ, in words.
fn first_difference(a: &Outcome, b: &Outcome) -> String {
    let pairs: [(&str, Vec<u32>, Vec<u32>); 5] = [
        ("step sums", a.sums.concat(), b.sums.concat()),
        ("per-example norms and losses", a.per_example.concat(), b.per_example.concat()),
        ("gradient", a.grads.clone(), b.grads.clone()),
        ("weights", a.params.clone(), b.params.clone()),
        ("predictions", a.predictions.clone(), b.predictions.clone()),
    ];
    for (what, x, y) in pairs {
        if let Some(i) = x.iter().zip(&y).position(|(p, q)| p != q) {
            return format!("{what} [{i}]: {} vs {}", f32::from_bits(x[i]), f32::from_bits(y[i]));
        }
    }
    format!("test-set sums {:?} vs {:?}", a.eval, b.eval)
}

#[test]
fn runs_on_one_two_and_three_threads_are_bit_identical() {
    for (name, data, layout) in models() {
        for chunk in [M_MAX, 29] {
            let one = run(&data, &layout, chunk, 1);
            for threads in [2, 3] {
                let many = run(&data, &layout, chunk, threads);
                assert!(one == many, "{name}, chunk {chunk}: {threads} threads differ from 1 thread at {}", first_difference(&many, &one));
            }
        }
    }
}

#[test]
fn the_comparison_sees_a_one_ulp_change() {
    // The assertion above compares bits: a weight one ulp away must count as a difference.
    let (_, data, layout) = models().remove(0);
    let a = run(&data, &layout, M_MAX, 1);
    let mut b = run(&data, &layout, M_MAX, 2);
    assert!(a == b);
    b.params[17] ^= 1;
    assert!(a != b);
    assert!(first_difference(&a, &b).starts_with("weights [17]"));
}
