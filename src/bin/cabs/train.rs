//! `cabs train`: run the trainer for a step or example budget, with a progress bar on stderr,
//! a CSV row per step, optional evaluations and an optional JSON probe of one step.

use crate::cli::{dataset, Args};
use crate::error::{CliError, CliResult};
use crate::session::{drive, Budget, Ending, EvalEvery};
use cabs::trainer::{EvalStats, StepStats, Trainer};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// Write `value` as JSON to `path`, flushed and checked: a full disk is an error, not a
/// silently truncated file.
fn write_json(path: &Path, value: &impl serde::Serialize) -> CliResult<()> {
    let f = File::create(path).map_err(|e| CliError::write(path, e))?;
    let mut w = BufWriter::new(f);
    serde_json::to_writer(&mut w, value).map_err(|e| CliError::write(path, e))?;
    w.flush().map_err(|e| CliError::write(path, e))
}

/// The budget of the run, checked: a run that would do nothing is refused.
fn budget(a: &Args) -> CliResult<Budget> {
    match (a.steps, a.examples) {
        (Some(_), Some(_)) => Err(CliError::usage("give --steps or --examples, not both")),
        (Some(0), None) => Err(CliError::usage("--steps 0: the run would do nothing (give at least 1)")),
        (None, Some(0)) => Err(CliError::usage("--examples 0: the run would do nothing (give at least 1)")),
        (Some(n), None) => Ok(Budget::Steps(n)),
        (None, Some(n)) => Ok(Budget::Examples(n)),
        (None, None) => Ok(Budget::Steps(500)),
    }
}

pub fn train(a: Args) -> CliResult<()> {
    let budget = budget(&a)?;
    if a.dump_step.is_some() != a.dump.is_some() {
        return Err(CliError::usage("--dump-step and --dump go together"));
    }
    match (a.dump_step, budget) {
        (Some(0), _) => return Err(CliError::usage("--dump-step 0: steps count from 1")),
        (Some(d), Budget::Steps(n)) if d > n => {
            return Err(CliError::usage(format!("--dump-step {d} is past the run's last step ({n}): no probe would be written")))
        }
        _ => {}
    }
    let cfg = a.settings.trainer_config()?;
    let data = dataset(&a)?;
    // Create the output files before training, so a bad path fails in a second, not an hour.
    let mut csv = match &a.csv {
        Some(p) => {
            let mut w = BufWriter::new(File::create(p).map_err(|e| CliError::write(p, e))?);
            writeln!(w, "{}", cabs::csv::HEADER).map_err(|e| CliError::write(p, e))?;
            Some((w, p.clone()))
        }
        None => None,
    };
    let mut trainer = pollster::block_on(Trainer::new(cfg, data))?;
    let info = trainer.backend();
    let adapter = format!(
        "{}{}",
        info.adapter.as_ref().map(|a| format!("{} ({}, {})", a.name, a.backend, a.device_type)).unwrap_or_else(|| "CPU engine".into()),
        crate::bench::choice_note(info)
    );
    eprintln!(
        "cabs: {} on {} ({} training / {} test examples), model {}, rule {}, α = {}, seed {}, engine: {adapter}, chunks of {} ({})",
        a.settings.data,
        trainer.data().name,
        trainer.data().train.len(),
        trainer.data().test.len(),
        a.settings.model,
        trainer.config().rule.label(),
        a.settings.lr,
        a.settings.seed,
        info.chunk,
        info.chunk_reason
    );

    let (total, unit) = match budget {
        Budget::Steps(n) => (n, "steps"),
        Budget::Examples(n) => (n, "examples"),
    };
    let bar = if a.quiet { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template(&format!("{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}"))
            .map_err(|e| CliError::run(e.to_string()))?
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let mut last: Option<(StepStats, Option<EvalStats>)> = None;
    let mut dumped = false;
    let model = a.settings.model.clone();
    let result = drive(&mut trainer, budget, EvalEvery::Steps(a.eval_every), a.dump_step, &mut |t, step| {
        let s = step.stats;
        if let (Some(detail), Some(path)) = (step.detail, a.dump.as_ref()) {
            write_json(path, &cabs::probe::build(t.layout(), model.clone(), t.backend().kind.clone(), detail))?;
            dumped = true;
        }
        if let Some((w, p)) = csv.as_mut() {
            writeln!(w, "{}", cabs::csv::row(s, step.eval, step.wall_ms)).map_err(|e| CliError::write(p, e))?;
        }
        bar.set_position(match budget {
            Budget::Steps(_) => s.step,
            Budget::Examples(n) => s.examples_seen.min(n),
        });
        bar.set_message(format!(
            "m = {:>4}  loss {:.4}{}",
            s.batch_size,
            s.loss,
            step.eval.map(|e| format!("  test acc {:.4}", e.test_accuracy)).unwrap_or_default()
        ));
        let keep = step.eval.copied().or(last.as_ref().and_then(|l| l.1));
        last = Some((s.clone(), keep));
        Ok(())
    });
    bar.finish_and_clear();
    // Whatever happened, keep every row written so far; a failed flush is an error of its own.
    if let Some((mut w, p)) = csv {
        let flushed = w.flush().map_err(|e| CliError::write(&p, e));
        if result.is_ok() {
            flushed?;
        }
    }
    match result? {
        Ending::Done => {}
        Ending::Diverged(e) => return Err(e.into()),
    }
    if let (Some(d), false) = (a.dump_step, dumped) {
        let steps = last.as_ref().map_or(0, |l| l.0.step);
        return Err(CliError::run(format!("--dump-step {d}: the run ended at step {steps}, before it; no probe was written")));
    }
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
