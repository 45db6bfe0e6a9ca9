//! What the inner products of the `inner:THETA` rule cost: a measurement, never part of the
//! suite (no timing assertion; `#[ignore]`). Run it with
//! `cargo test --release --test engine inner_products_cost -- --ignored --nocapture`.
//! Times training steps of m = 256 (with ξ, as every rule's step) with and without the inner
//! products, on the CPU engine and the GPU adapter wgpu finds, for mlp:256 and cnn-mnist on
//! MNIST-shaped random data, unchunked and in chunks of 64 (the second pass recomputes three of
//! the four chunks), in interleaved blocks A B, B A, … (a burst of load moves one block, not
//! the median), next to the FLOP count of the pass.
#![cfg(not(target_arch = "wasm32"))]

use crate::common::*;
use cabs::data::ImageShape;
use cabs::engine::{BackendChoice, ConvNorms, Engine};
use cabs::model::{Layout, ModelSpec};
use cabs::rng::Rng;
use std::time::Instant;

/// FLOPs of one step's products (forward, backward δ, weight gradients, per-example norms) and
/// of the inner products' pass (per layer: the forward product with Ḡ, and the dot with δ), for
/// a batch of m; and of the recomputation of one chunk's forward and backward per example.
fn flops(layout: &Layout, m: f64) -> (f64, f64, f64) {
    let (mut step, mut inner, mut recompute) = (0.0, 0.0, 0.0);
    for (s, c) in layout.convs.iter().enumerate() {
        let c = &c.conv;
        let mac = 2.0 * m * (c.positions() * c.out_c * c.patch_len()) as f64;
        let backward = if s > 0 { mac } else { 0.0 };
        step += mac + backward + mac + mac; // forward, δ to the input, filter gradient, exact norms
        inner += mac + 2.0 * m * c.out_len() as f64;
        recompute += mac + backward;
    }
    for (l, d) in layout.layers.iter().enumerate() {
        let mac = 2.0 * m * (d.d_in * d.d_out) as f64;
        let backward = if l > 0 || !layout.convs.is_empty() { mac } else { 0.0 };
        step += mac + backward + mac + 2.0 * m * (d.d_in + d.d_out) as f64;
        inner += mac + 2.0 * m * d.d_out as f64;
        recompute += mac + backward;
    }
    (step, inner, recompute)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn inner_products_cost() {
    let m = 256u32;
    let mut data = random_dataset(4096, 1, 784, 10, true, 1);
    data.image = Some(ImageShape { c: 1, h: 28, w: 28 });
    let perm = Rng::new(2).permutation(data.train.len());
    println!("| engine | model | chunk | without (ms) | with (ms) | ratio | FLOP ratio |");
    println!("|---|---|---|---|---|---|---|");
    for (model, per_block) in [("mlp:256", 10u32), ("cnn-mnist", 1)] {
        let layout = Layout::for_input(&ModelSpec::parse(model).unwrap(), 784, data.image, 10).unwrap();
        let (step, inner, recompute) = flops(&layout, m as f64);
        let params = layout.init_params(3);
        for backend in [BackendChoice::Cpu, BackendChoice::Gpu] {
            for chunk in [m, 64] {
                let r = pollster::block_on(Engine::new(backend, layout.clone(), &data, m, &params, ConvNorms::Exact, Some(chunk)));
                let (mut e, info) = if backend == BackendChoice::Gpu { require_gpu(r) } else { r.unwrap() };
                e.set_permutation(&perm);
                let mut offset = 0u32;
                let mut time = |e: &mut Engine, on: bool| {
                    e.set_inner_products(on);
                    let start = Instant::now();
                    for _ in 0..per_block {
                        pollster::block_on(e.train_step(offset, m, 0.01, true)).unwrap();
                        offset = (offset + m) % (4096 - m);
                    }
                    start.elapsed().as_secs_f64() * 1e3 / per_block as f64
                };
                time(&mut e, true); // warm-up: first use of every pipeline and buffer
                time(&mut e, false);
                let (mut without, mut with) = (Vec::new(), Vec::new());
                for b in 0..5 {
                    if b % 2 == 0 {
                        without.push(time(&mut e, false));
                        with.push(time(&mut e, true));
                    } else {
                        with.push(time(&mut e, true));
                        without.push(time(&mut e, false));
                    }
                }
                let (a, b) = (median(without), median(with));
                let chunks = m.div_ceil(info.chunk) as f64;
                let extra = inner + recompute * (chunks - 1.0) / chunks;
                let engine = info.adapter.as_ref().map_or("CPU engine".to_string(), |a| format!("{} ({})", a.name, a.backend));
                println!("| {engine} | {model} | {} | {a:.1} | {b:.1} | {:.3} | {:.3} |", info.chunk, b / a, (step + extra) / step);
            }
        }
        println!(
            "{model}, m = {m}: step {:.3} GFLOP, inner products {:.3} GFLOP (+{:.1} %), recomputing one whole batch {:.3} GFLOP",
            step / 1e9,
            inner / 1e9,
            100.0 * inner / step,
            recompute / 1e9
        );
    }
}
