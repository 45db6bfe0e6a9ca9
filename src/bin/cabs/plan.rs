//! `cabs plan`: print the step plan of a model — the ops of one chunk and of the step's end with
//! the buffers each reads and writes, the buffers with their sizes, and the chunk and memory a
//! step of up to m_max takes on a 128 MiB-binding GPU adapter (WebGPU's default, lavapipe,
//! SwiftShader) and on the CPU engine, against sizing every buffer for m_max (the engine before
//! chunking). Opens no device: everything follows from the plan.

use crate::args::Args;
use crate::dataset::dataset;
use crate::error::CliResult;
use cabs::engine::cpu_budget;
use cabs::model::Layout;
use cabs::plan::{bytes_text, choose_chunk, Budget, Extent, Plan, GPU_LOOP_LIMIT};

pub fn plan(a: Args) -> CliResult<()> {
    let data = dataset(&a)?;
    let cfg = a.settings.trainer_config()?;
    let m_max = cfg.rule.max_batch();
    let layout = Layout::for_input(&cfg.model, data.dim, data.image, data.classes)?;
    let plan = Plan::new(&layout, cfg.conv_norms);
    println!(
        "model {} on {} ({} parameters), m_max {m_max}, conv norms {:?}",
        a.settings.model, data.name, layout.param_count, cfg.conv_norms
    );
    println!("\nops of one chunk (run ⌈m / chunk⌉ times per step):");
    for &op in &plan.chunk {
        let (reads, writes) = plan.io(op);
        let shape = plan.describe(op);
        println!("  {:<28} {:<32} {reads:?} → {writes:?}", op.label(), shape);
    }
    println!("ops at the end of the step:");
    for &op in &plan.finish {
        let (reads, writes) = plan.io(op);
        println!("  {:<28} {:<32} {reads:?} → {writes:?}", op.label(), "");
    }
    println!("\nbuffers:");
    for (buf, extent) in plan.buffers() {
        let what = match extent {
            Extent::PerChunkRow(n) => format!("{n} per example of a chunk"),
            Extent::PerBatchRow(n) => format!("{n} per example of the batch"),
            Extent::Fixed(n) => format!("{n}"),
        };
        println!("  {:<12} {what} values", format!("{buf:?}"));
    }
    let (row, widest) = plan.bytes_per_chunk_row();
    let fixed = plan.fixed_bytes(m_max);
    println!(
        "\nper example of a chunk: {} (widest buffer {}); per batch and fixed: {}",
        bytes_text(row),
        bytes_text(widest),
        bytes_text(fixed)
    );
    let gpu = Budget { max_binding: 128 << 20, total: 1 << 30, activations: u64::MAX, what: "a 128 MiB-binding adapter" };
    for (name, budget, cap) in [("GPU, 128 MiB bindings", gpu, Some(plan.max_gpu_chunk_rows())), ("CPU engine", cpu_budget(), None)] {
        match choose_chunk(&plan, m_max, 0, budget, cfg.chunk) {
            Ok(mut c) => {
                if let Some(cap) = cap.filter(|&cap| c.chunk > cap) {
                    c.chunk = cap;
                    c.reason = "kernel loop limit";
                }
                let now = fixed + row * c.chunk as u64;
                let before = fixed + row * m_max as u64;
                println!(
                    "{name}: chunk {} ({}), {} chunk(s) at m_max; step memory {} (sized for m_max: {}, largest binding {})",
                    c.chunk,
                    c.reason,
                    c.count(m_max),
                    bytes_text(now),
                    bytes_text(before),
                    bytes_text(widest * m_max as u64)
                );
            }
            Err(e) => println!("{name}: {e}"),
        }
    }
    println!("(GPU chunks are capped so that no conv filter-gradient thread loops more than {GPU_LOOP_LIMIT} times)");
    Ok(())
}
