//! `cabs train`: run the trainer for a step or example budget, with a progress bar on stderr,
//! a CSV row per step, optional evaluations and an optional JSON probe of one step.

use crate::cli::{dataset, Args};
use cabs::trainer::{EvalStats, StepStats, Trainer};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

fn io_err(path: &std::path::Path, e: std::io::Error) -> String {
    format!("cannot write {}: {e}", path.display())
}

pub fn train(a: Args) -> Result<(), String> {
    if a.steps.is_some() && a.examples.is_some() {
        return Err("usage: give --steps or --examples, not both".into());
    }
    if a.dump_step.is_some() != a.dump.is_some() {
        return Err("usage: --dump-step and --dump go together".into());
    }
    if a.dump_step == Some(0) {
        return Err("usage: --dump-step counts from 1".into());
    }
    let steps = if a.examples.is_none() { Some(a.steps.unwrap_or(500)) } else { None };
    let cfg = a.settings.trainer_config().map_err(|e| e.to_string())?;
    let data = dataset(&a)?;
    // Create the output files before training, so a bad path fails in a second, not an hour.
    let mut csv = match &a.csv {
        Some(p) => {
            let mut w = BufWriter::new(File::create(p).map_err(|e| io_err(p, e))?);
            writeln!(w, "{}", cabs::csv::HEADER).map_err(|e| io_err(p, e))?;
            Some((w, p.clone()))
        }
        None => None,
    };
    let mut trainer = pollster::block_on(Trainer::new(cfg, data)).map_err(|e| e.to_string())?;
    let info = trainer.backend();
    let adapter =
        info.adapter.as_ref().map(|a| format!("{} ({}, {})", a.name, a.backend, a.device_type)).unwrap_or_else(|| "CPU engine".into());
    eprintln!(
        "cabs: {} on {} ({} training / {} test examples), model {}, rule {}, α = {}, seed {}, engine: {adapter}",
        a.settings.data,
        trainer.data().name,
        trainer.data().train.len(),
        trainer.data().test.len(),
        a.settings.model,
        trainer.config().rule.label(),
        a.settings.lr,
        a.settings.seed
    );

    let total = steps.or(a.examples).unwrap_or(0);
    let bar = if a.quiet { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template(if steps.is_some() {
            "{elapsed_precise} [{bar:30}] {pos}/{len} steps  {msg}"
        } else {
            "{elapsed_precise} [{bar:30}] {pos}/{len} examples  {msg}"
        })
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let start = Instant::now();
    let mut last: Option<(StepStats, Option<EvalStats>)> = None;
    let result = (|| -> Result<(), String> {
        loop {
            let done = match steps {
                Some(n) => trainer.steps_done() >= n,
                None => trainer.examples_seen() >= total,
            };
            if done {
                return Ok(());
            }
            let s = if a.dump_step == Some(trainer.steps_done() + 1) {
                let detail = pollster::block_on(trainer.step_with_detail()).map_err(|e| e.to_string())?;
                let probe = cabs::probe::build(trainer.layout(), a.settings.model.clone(), trainer.backend().kind.clone(), &detail);
                let path = a.dump.as_ref().expect("checked above");
                let f = File::create(path).map_err(|e| io_err(path, e))?;
                serde_json::to_writer(BufWriter::new(f), &probe).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                detail.stats
            } else {
                pollster::block_on(trainer.step()).map_err(|e| e.to_string())?
            };
            let finished = match steps {
                Some(n) => s.step >= n,
                None => s.examples_seen >= total,
            };
            let eval = if (a.eval_every > 0 && s.step % a.eval_every == 0) || finished {
                Some(pollster::block_on(trainer.evaluate()).map_err(|e| e.to_string())?)
            } else {
                None
            };
            let wall_ms = start.elapsed().as_secs_f64() * 1e3;
            if let Some((w, p)) = csv.as_mut() {
                writeln!(w, "{}", cabs::csv::row(&s, eval.as_ref(), wall_ms)).map_err(|e| io_err(p, e))?;
            }
            bar.set_position(if steps.is_some() { s.step } else { s.examples_seen.min(total) });
            bar.set_message(format!(
                "m = {:>4}  loss {:.4}{}",
                s.batch_size,
                s.loss,
                eval.map(|e| format!("  test acc {:.4}", e.test_accuracy)).unwrap_or_default()
            ));
            let keep = eval.or(last.as_ref().and_then(|l| l.1));
            last = Some((s, keep));
        }
    })();
    bar.finish_and_clear();
    // Whatever happened, keep every row written so far.
    if let Some((mut w, p)) = csv {
        w.flush().map_err(|e| io_err(&p, e))?;
    }
    result?;
    if let Some((s, e)) = last {
        println!(
            "step {}  examples {}  batch {} (next {})  loss {:.4}  ξ {:.4}  test loss {}  test accuracy {}  {:.1} s",
            s.step,
            s.examples_seen,
            s.batch_size,
            s.next_batch_size,
            s.loss,
            s.xi,
            e.map(|e| format!("{:.4}", e.test_loss)).unwrap_or_else(|| "-".into()),
            e.map(|e| format!("{:.4}", e.test_accuracy)).unwrap_or_else(|| "-".into()),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
