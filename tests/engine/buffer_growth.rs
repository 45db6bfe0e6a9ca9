//! The CPU engine sizes its per-chunk buffers for the rows a chunk has used so far, not for a
//! whole chunk up front (a page's first trainer touches 16 rows of a chunk sized for 2,048).
//! Growing them must change nothing: a step is bit for bit the same whether the engine's
//! buffers held fewer rows before it (they grow), as many (fresh), or more (rows left over from
//! a larger batch), for a dense net and `cnn-mnist`, unchunked and in chunks.
#![cfg(not(target_arch = "wasm32"))]

use crate::common::*;
use cabs::data::{Dataset, ImageShape};
use cabs::engine::{ConvNorms, CpuEngine};
use cabs::model::{Layout, ModelSpec};
use cabs::plan::{Chunking, Plan};
use cabs::rng::Rng;

const M_MAX: u32 = 128;

/// The bits of a step of m = 64 at offset 40 and of an evaluation, after `before` (a batch size
/// stepped first, its update then undone by restoring the weights), or on a fresh engine.
fn step_after(data: &Dataset, layout: &Layout, chunk: u32, before: Option<u32>) -> Vec<u32> {
    let params: Vec<f32> = layout.init_params(5).iter().map(|w| w + 0.01).collect();
    let mut e = CpuEngine::new(Plan::new(layout, ConvNorms::Both), Chunking { chunk, reason: "forced" }, data, M_MAX, &params).unwrap();
    e.set_permutation(&Rng::new(4).permutation(data.train.len()));
    if let Some(m) = before {
        e.train_step(0, m, 0.05, true);
        e.set_params(&params).unwrap();
    }
    let s = e.train_step(40, 64, 0.05, true);
    let snap = e.snapshot(64);
    let ev = e.evaluate();
    let mut out: Vec<u32> = [s.loss_sum, s.correct, s.sq_norm_sum, s.mean_grad_sq].map(f32::to_bits).to_vec();
    out.extend(snap.norms.iter().chain([&snap.losses, &snap.grads]).flatten().map(|x| x.to_bits()));
    out.extend(e.params().iter().map(|x| x.to_bits()));
    out.extend([ev.loss_sum, ev.correct].map(f64::to_bits).iter().flat_map(|b| [*b as u32, (*b >> 32) as u32]));
    out
}

#[test]
fn growing_the_chunk_buffers_changes_no_bit_of_a_step() {
    let dense = random_dataset(300, 40, 100, 3, false, 1);
    let dense_layout = Layout::new(&ModelSpec::parse("mlp:64,32").unwrap(), 100, 3).unwrap();
    let mut digits = random_dataset(300, 40, 28 * 28, 10, true, 3);
    digits.image = Some(ImageShape { c: 1, h: 28, w: 28 });
    let cnn = Layout::for_input(&ModelSpec::parse("cnn-mnist").unwrap(), digits.dim, digits.image, digits.classes).unwrap();
    for (name, data, layout) in [("mlp:64,32", &dense, &dense_layout), ("cnn-mnist", &digits, &cnn)] {
        for chunk in [M_MAX, 24] {
            let fresh = step_after(data, layout, chunk, None);
            for before in [16, 128] {
                assert!(
                    step_after(data, layout, chunk, Some(before)) == fresh,
                    "{name}, chunk {chunk}: a step of 64 after one of {before} differs from the same step on a fresh engine"
                );
            }
        }
    }
}
