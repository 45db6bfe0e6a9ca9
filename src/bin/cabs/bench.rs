//! `cabs bench`: what the CABS statistics (or chunking, or threads) cost. Times training steps of
//! a fixed batch size with and without the per-example norms and ξ (or in chunks against one
//! chunk, or on `--threads` against `--vs-threads` threads of the CPU engine), in
//! interleaved blocks (so drift hits both alike), or one rule against CABS at the same pinned
//! batch (`--vs-rule`: the rule's own cost), and reports the median ratio with the
//! dispatch counts the step plan gives and the GPU time of each op. A measurement, never a test.
//! `cabs gpu`: print the adapter wgpu finds.

use crate::args::Args;
use crate::dataset::dataset;
use crate::error::{CliError, CliResult};
use cabs::cabs::{LrSchedule, Rule};
use cabs::trainer::Trainer;
use std::time::Instant;

pub fn bench(a: Args) -> CliResult<()> {
    let steps = a.steps.unwrap_or(100).max(10);
    let data = dataset(&a)?;
    let mut cfg = a.settings.trainer_config()?;
    cfg.rule = Rule::Constant { m: a.batch, schedule: LrSchedule::Constant };
    // Small and constant: the network must not diverge while we time it.
    cfg.lr = cabs::settings::LearningRate::new(0.01)?;
    // Variant A and B: with ξ / without ξ, or chunks of N / one chunk per step.
    let threads = cabs::fast::pool::default_threads();
    let (name_a, name_b, cfg_b) = match (a.vs_threads, a.vs_chunk) {
        _ if a.vs_rule.is_some() && (a.vs_threads.is_some() || a.vs_chunk.is_some()) => {
            return Err(CliError::usage("--vs-rule with --vs-threads or --vs-chunk: give one of them"))
        }
        (Some(_), Some(_)) => return Err(CliError::usage("--vs-threads and --vs-chunk: give one of them")),
        // Both rules with m_min = m_max = --batch: every step trains the same batch, so the
        // difference is the rule's own work (its arithmetic on the statistics read back).
        _ if a.vs_rule.is_some() => {
            let rule = a.vs_rule.clone().unwrap_or_default();
            let pinned = |r: &str| cabs::settings::Settings { rule: r.into(), mmin: a.batch, mmax: a.batch, ..a.settings.clone() }.rule();
            cfg.rule = pinned(&rule)?;
            (
                format!("step with {rule}:"),
                "step with cabs:".to_string(),
                cabs::trainer::TrainerConfig { rule: pinned("cabs")?, ..cfg.clone() },
            )
        }
        (Some(n), None) => (format!("step on {threads} thread(s):"), format!("step on {n} thread(s):"), cfg.clone()),
        (None, Some(n)) => {
            let whole = cabs::trainer::TrainerConfig { chunk: Some(a.batch), ..cfg.clone() };
            cfg.chunk = Some(n);
            (format!("step in chunks of {n}:"), "step in one chunk:".to_string(), whole)
        }
        (None, None) => {
            ("step with ξ:".to_string(), "step without ξ:".to_string(), cabs::trainer::TrainerConfig { with_stats: false, ..cfg.clone() })
        }
    };
    let mut va = pollster::block_on(Trainer::new(cfg, data.clone()))?;
    // A CPU engine takes the process's thread count when it is built.
    if let Some(n) = a.vs_threads {
        cabs::fast::pool::set_default_threads(n);
    }
    let vb = pollster::block_on(Trainer::new(cfg_b, data));
    cabs::fast::pool::set_default_threads(threads);
    let mut vb = vb?;
    let time = |t: &mut Trainer, n: u64| -> CliResult<f64> {
        let start = Instant::now();
        for _ in 0..n {
            pollster::block_on(t.step())?;
        }
        Ok(start.elapsed().as_secs_f64() / n as f64)
    };
    time(&mut va, 3)?; // warm-up: pipeline caches, first-use allocations
    time(&mut vb, 3)?;
    // Interleaved blocks (A B, B A, …); the median block is the figure, so a burst of load on
    // this shared machine moves one block, not the result.
    let blocks = 5u64.min(steps);
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for b in 0..blocks {
        if b % 2 == 0 {
            ta.push(time(&mut va, steps / blocks)?);
            tb.push(time(&mut vb, steps / blocks)?);
        } else {
            tb.push(time(&mut vb, steps / blocks)?);
            ta.push(time(&mut va, steps / blocks)?);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ma, mb) = (median(ta), median(tb));
    let info = va.backend().clone();
    let engine = format!(
        "{}{}",
        info.adapter.as_ref().map(|a| format!("{} ({})", a.name, a.backend)).unwrap_or_else(|| "CPU engine".into()),
        choice_note(&info)
    );
    println!("engine: {engine}");
    if info.kind == "cpu" {
        println!("CPU engine threads: {threads} (cores available: {})", cabs::fast::pool::available_threads());
    } else if a.vs_threads.is_some() {
        println!("(--vs-threads: the GPU engine runs here, on which threads change nothing; use --backend cpu)");
    }
    println!(
        "model {} on {}, batch {}, {} blocks of {} timed steps per variant (median block)",
        a.settings.model,
        a.settings.data,
        a.batch,
        blocks,
        steps / blocks
    );
    println!("{name_a:<24}{:.3} ms", ma * 1e3);
    println!("{name_b:<24}{:.3} ms", mb * 1e3);
    println!("ratio (first / second): {:.3}", ma / mb);
    let plan = va.plan();
    let chunks = va.backend().chunk;
    let n_chunks = a.batch.div_ceil(chunks) as usize;
    println!("chunk: {chunks} ({}), so {n_chunks} chunk(s) per step", info.chunk_reason);
    println!(
        "kernel dispatches per step: {} with ξ, {} without",
        plan.dispatches_per_step(n_chunks, true),
        plan.dispatches_per_step(n_chunks, false)
    );
    if info.kind == "gpu" {
        println!("GPU→CPU readbacks per step: 1 (16 bytes: Σℓ_i, Σcorrect, Σ‖g_i‖², ‖ḡ‖²)");
        // GPU time per kernel, the median of several profiled steps (steadier than wall time).
        let mut runs = Vec::new();
        for _ in 0..7 {
            match pollster::block_on(va.profile_step())? {
                Some(p) => runs.push(p),
                None => break,
            }
        }
        if let Some(first) = runs.first() {
            println!("GPU time per kernel (median of {} profiled steps, each dispatch in its own timed pass):", runs.len());
            let mut total = 0.0;
            let mut stats = 0.0;
            for (i, (name, shape, _)) in first.iter().enumerate() {
                let mut t: Vec<f64> = runs.iter().map(|r| r[i].2).collect();
                t.sort_by(f64::total_cmp);
                let med = t[t.len() / 2];
                total += med;
                if name.contains("norms") {
                    stats += med;
                }
                println!("  {name:<28} {med:>9.3} ms    {shape}");
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

/// Why `--backend auto` chose this engine, as a note after its name (" [auto: …]"); nothing
/// when the backend was named. Messages of wgpu may span lines: the start line stays one line.
pub fn choice_note(info: &cabs::engine::BackendInfo) -> String {
    if info.choice.how == "forced" {
        return String::new();
    }
    let reason: Vec<&str> = info.choice.reason.split_whitespace().collect();
    format!(" [auto, {}: {}]", info.choice.how, reason.join(" "))
}

pub fn show_gpu(_a: Args) -> CliResult<()> {
    let data = cabs::data::synthetic::moons(1);
    let cfg = cabs::trainer::TrainerConfig {
        model: cabs::model::ModelSpec::parse("logreg")?,
        rule: Rule::Constant { m: 16, schedule: LrSchedule::Constant },
        lr: cabs::settings::LearningRate::new(0.1)?,
        seed: 1,
        backend: cabs::engine::BackendChoice::Gpu,
        with_stats: true,
        conv_norms: Default::default(),
        chunk: None,
    };
    let t = pollster::block_on(Trainer::new(cfg, data))?;
    let a = t.backend().adapter.clone().ok_or_else(|| CliError::run("no adapter"))?;
    println!("{} — backend {}, type {}, driver {}", a.name, a.backend, a.device_type, a.driver);
    Ok(())
}
