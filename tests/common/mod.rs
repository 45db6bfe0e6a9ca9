//! Shared helpers for the native tests: small random data sets, an independent f64
//! brute-force implementation of the MLP (explicit per-example gradients), written from the
//! math and not from the crate's kernels, and the `cabs` command as tests run it ([`command`]).
#![allow(dead_code)]

#[cfg(not(target_arch = "wasm32"))]
pub mod command;

use cabs::data::{Dataset, Features, Split};
use cabs::model::{Activation, ConvStageSpec, Layout, ModelSpec, PoolStageSpec};
use cabs::reference::conv2d::Padding;
use cabs::rng::Rng;

/// Fails (never skips) when no GPU adapter is available, saying what to install.
pub fn require_gpu<T>(r: cabs::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!(
            "this test needs a GPU adapter and none could be opened: {e}\n\
             Install one with `bash scripts/setup.sh` (lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)"
        ),
    }
}

/// A random data set with `n` training and `n_test` test examples; bytes or f32 features.
pub fn random_dataset(n: usize, n_test: usize, dim: u32, classes: u32, bytes: bool, seed: u64) -> Dataset {
    let mut r = Rng::new(seed);
    let mut split = |n: usize| {
        let labels = (0..n).map(|_| r.below(classes as u64) as u32).collect();
        let count = n * dim as usize;
        let features = if bytes {
            Features::U8 { bytes: (0..count).map(|_| r.below(256) as u8).collect(), scale: 1.0 / 255.0 }
        } else {
            Features::F32((0..count).map(|_| r.normal() as f32).collect())
        };
        Split { features, labels }
    };
    let train = split(n);
    let test = split(n_test);
    Dataset { name: "random".into(), dim, image: None, classes, train, test }
}

/// Forward and backward of one example in f64. Returns (loss, full gradient vector).
pub fn brute_example(layout: &Layout, params: &[f32], x: &[f64], y: usize) -> (f64, Vec<f64>) {
    let p: Vec<f64> = params.iter().map(|&v| v as f64).collect();
    let act = |z: f64| match layout.activation {
        Activation::Relu => z.max(0.0),
        Activation::Tanh => z.tanh(),
    };
    let dact = |a: f64| match layout.activation {
        Activation::Relu => {
            if a > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Tanh => 1.0 - a * a,
    };
    let mut acts = vec![x.to_vec()];
    for d in &layout.layers {
        let a = acts.last().unwrap();
        let mut z = vec![0.0; d.d_out as usize];
        for j in 0..d.d_out as usize {
            let mut s = p[d.b_offset as usize + j];
            for k in 0..d.d_in as usize {
                s += p[d.w_offset as usize + j * d.d_in as usize + k] * a[k];
            }
            z[j] = if d.activated { act(s) } else { s };
        }
        acts.push(z);
    }
    let logits = acts.last().unwrap();
    let mx = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = logits.iter().map(|z| (z - mx).exp()).sum();
    let loss = mx + s.ln() - logits[y];
    let mut delta: Vec<f64> = logits.iter().enumerate().map(|(c, z)| (z - mx).exp() / s - if c == y { 1.0 } else { 0.0 }).collect();
    let mut g = vec![0.0; p.len()];
    for l in (0..layout.layers.len()).rev() {
        let d = layout.layers[l];
        let a = &acts[l];
        for j in 0..d.d_out as usize {
            g[d.b_offset as usize + j] = delta[j];
            for k in 0..d.d_in as usize {
                g[d.w_offset as usize + j * d.d_in as usize + k] = delta[j] * a[k];
            }
        }
        if l > 0 {
            let mut prev = vec![0.0; d.d_in as usize];
            for (k, pk) in prev.iter_mut().enumerate() {
                let mut s = 0.0;
                for j in 0..d.d_out as usize {
                    s += p[d.w_offset as usize + j * d.d_in as usize + k] * delta[j];
                }
                *pk = s * dact(a[k]);
            }
            delta = prev;
        }
    }
    (loss, g)
}

/// Inputs of example `e` of a split as f64.
pub fn example(split: &Split, dim: u32, e: usize) -> Vec<f64> {
    (0..dim as usize).map(|j| split.feature(dim as usize, e, j) as f64).collect()
}

/// Relative closeness with an absolute floor.
pub fn assert_close(what: &str, got: f64, want: f64, rel: f64, abs: f64) {
    let tol = abs + rel * want.abs();
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} (tolerance {tol})");
}

/// Element-wise closeness of two slices, reporting the worst index.
pub fn assert_all_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst = (0usize, 0.0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() - (abs + rel * w.abs());
        if excess > worst.1 || !g.is_finite() {
            worst = (i, excess.max(f32::MIN_POSITIVE));
        }
    }
    if worst.1 > 0.0 {
        let i = worst.0;
        panic!("{what}: index {i}: got {}, want {} (rel {rel}, abs {abs})", got[i], want[i]);
    }
}

/// A small net that uses every layer type: crop + standardisation, a SAME conv with an odd-sized
/// (overlapping 3×3/2) SAME pool, then a VALID conv without a pool (its ReLU derivative is applied
/// by the dense layer), then a hidden dense layer.
pub fn every_layer_cnn() -> ModelSpec {
    let conv = |kernel, channels, padding, pool| ConvStageSpec { kernel, channels, stride: 1, padding, pool };
    ModelSpec {
        preset: None,
        crop: Some(6),
        standardize: true,
        convs: vec![
            conv(3, 3, Padding::Same, Some(PoolStageSpec { window: 3, stride: 2, padding: Padding::Same })),
            conv(2, 4, Padding::Valid, None),
        ],
        hidden: vec![5],
        activation: Activation::Relu,
        init: Vec::new(),
    }
}
