//! `cabs bench`: what the CABS statistics cost. Times training steps of a fixed batch size with
//! and without the per-example norms and ξ, in alternating blocks (so drift hits both alike),
//! and reports the ratio with the dispatch and readback counts. A measurement, never a test.
//! `cabs gpu`: print the adapter wgpu finds.

use crate::cli::{dataset, Args};
use cabs::cabs::{LrSchedule, Rule};
use cabs::trainer::Trainer;
use std::time::Instant;

pub fn bench(a: Args) -> Result<(), String> {
    let steps = a.steps.unwrap_or(100).max(10);
    let data = dataset(&a)?;
    let mut cfg = a.settings.trainer_config().map_err(|e| e.to_string())?;
    cfg.rule = Rule::Constant { m: a.batch, schedule: LrSchedule::Constant };
    cfg.lr = 0.01; // small and constant: the network must not diverge while we time it
    let mut with = pollster::block_on(Trainer::new(cfg.clone(), data.clone())).map_err(|e| e.to_string())?;
    cfg.with_stats = false;
    let mut without = pollster::block_on(Trainer::new(cfg, data)).map_err(|e| e.to_string())?;
    let time = |t: &mut Trainer, n: u64| -> Result<f64, String> {
        let start = Instant::now();
        for _ in 0..n {
            pollster::block_on(t.step()).map_err(|e| e.to_string())?;
        }
        Ok(start.elapsed().as_secs_f64())
    };
    time(&mut with, 5)?; // warm-up: pipeline caches, first-use allocations
    time(&mut without, 5)?;
    let blocks = 5;
    let (mut tw, mut to) = (0.0, 0.0);
    for b in 0..blocks {
        // Alternate which variant goes first, so neither always follows the other.
        if b % 2 == 0 {
            tw += time(&mut with, steps / blocks)?;
            to += time(&mut without, steps / blocks)?;
        } else {
            to += time(&mut without, steps / blocks)?;
            tw += time(&mut with, steps / blocks)?;
        }
    }
    let n = (steps / blocks * blocks) as f64;
    let info = with.backend();
    let engine = info.adapter.as_ref().map(|a| format!("{} ({})", a.name, a.backend)).unwrap_or_else(|| "CPU engine".into());
    println!("engine: {engine}");
    println!("model {} on {}, batch {}, {} timed steps per variant", a.settings.model, a.settings.data, a.batch, n);
    println!("step with ξ:    {:.3} ms", tw / n * 1e3);
    println!("step without ξ: {:.3} ms", to / n * 1e3);
    println!("ratio (with / without): {:.3}", tw / to);
    if info.kind == "gpu" {
        let layout = with.layout();
        let per_conv = if with.config().conv_norms == cabs::engine::ConvNorms::Both { 2 } else { 1 };
        let norm_dispatches = layout.layers.len() + per_conv * layout.convs.len();
        println!("kernel dispatches per step: {} with ξ, {} without", info.dispatches_per_step, info.dispatches_per_step - norm_dispatches);
        println!("GPU→CPU readbacks per step: 1 (16 bytes: Σℓ_i, Σcorrect, Σ‖g_i‖², ‖ḡ‖²)");
        // GPU time per kernel, the median of several profiled steps (steadier than wall time).
        let mut runs = Vec::new();
        for _ in 0..7 {
            match pollster::block_on(with.profile_step()).map_err(|e| e.to_string())? {
                Some(p) => runs.push(p),
                None => break,
            }
        }
        if let Some(first) = runs.first() {
            println!("GPU time per kernel (median of {} profiled steps, each dispatch in its own timed pass):", runs.len());
            let mut total = 0.0;
            let mut stats = 0.0;
            for (i, (name, _)) in first.iter().enumerate() {
                let mut t: Vec<f64> = runs.iter().map(|r| r[i].1).collect();
                t.sort_by(f64::total_cmp);
                let med = t[t.len() / 2];
                total += med;
                if name.contains("norms") {
                    stats += med;
                }
                println!("  {name:<28} {med:>9.3} ms");
            }
            println!("  {:<28} {total:>9.3} ms", "total");
            println!(
                "share of the per-example norm kernels in GPU time: {:.1} % (GPU-time ratio with / without ≈ {:.3})",
                100.0 * stats / total,
                total / (total - stats)
            );
        } else {
            println!("(this adapter has no timestamp queries: no per-kernel times)");
        }
    }
    Ok(())
}

pub fn show_gpu(_a: Args) -> Result<(), String> {
    let data = cabs::data::synthetic::moons(1);
    let cfg = cabs::trainer::TrainerConfig {
        model: cabs::model::ModelSpec::parse("logreg").map_err(|e| e.to_string())?,
        rule: Rule::Constant { m: 16, schedule: LrSchedule::Constant },
        lr: 0.1,
        seed: 1,
        backend: cabs::engine::BackendChoice::Gpu,
        with_stats: true,
        conv_norms: Default::default(),
    };
    let t = pollster::block_on(Trainer::new(cfg, data)).map_err(|e| e.to_string())?;
    let a = t.backend().adapter.clone().ok_or("no adapter")?;
    println!("{} — backend {}, type {}, driver {}", a.name, a.backend, a.device_type, a.driver);
    Ok(())
}
