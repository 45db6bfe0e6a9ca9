//! `cabs train`: run the trainer for a step or example budget, with a progress bar on stderr,
//! a CSV row per step, optional evaluations and an optional JSON probe of one step; with
//! `--checkpoint` it saves the run state as it goes, and `--resume-from` continues a saved run
//! (a killed one) so that its CSV reads as if the run had never stopped (`wall_ms` aside).

use crate::args::Args;
use crate::checkpoint;
use crate::dataset::dataset;
use crate::error::{CliError, CliResult};
use crate::session::{drive_between, Budget, Ending, EvalEvery, Start};
use cabs::engine::auto::{self, HandOver};
use cabs::engine::BackendChoice;
use cabs::run_state::{DataIdentity, EvalSchedule, RunState};
use cabs::trainer::{EvalStats, StepStats, Trainer};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Wall time between two checkpoints unless `--checkpoint-every` says otherwise: a killed run
/// loses at most this much work, and writing the state (a read-back of the weights) stays rare.
const CHECKPOINT_EVERY_S: u64 = 300;

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

/// How often `--checkpoint` saves, checked: the interval flags without a file are refused.
struct Checkpoints {
    path: PathBuf,
    every: Duration,
    every_steps: Option<u64>,
}

fn checkpoints(a: &Args) -> CliResult<Option<Checkpoints>> {
    let Some(path) = a.checkpoint.clone() else {
        if a.checkpoint_every.is_some() || a.checkpoint_every_steps.is_some() {
            return Err(CliError::usage("--checkpoint-every and --checkpoint-every-steps go with --checkpoint FILE"));
        }
        return Ok(None);
    };
    match (a.checkpoint_every, a.checkpoint_every_steps) {
        (Some(0), _) => return Err(CliError::usage("--checkpoint-every 0: give at least 1 second (or --checkpoint-every-steps N)")),
        (_, Some(0)) => return Err(CliError::usage("--checkpoint-every-steps 0: give at least 1 step")),
        _ => {}
    }
    // Fail now, not after an hour of training, when the folder cannot take the file.
    let tmp = checkpoint::tmp_path(&path);
    File::create(&tmp).map_err(|e| CliError::write(&tmp, e))?;
    let _ = std::fs::remove_file(&tmp);
    Ok(Some(Checkpoints {
        path,
        every: Duration::from_secs(a.checkpoint_every.unwrap_or(CHECKPOINT_EVERY_S)),
        every_steps: a.checkpoint_every_steps,
    }))
}

/// Reopen the CSV of the run being resumed for appending, after its row of the checkpoint's
/// step: rows past it (the run was killed after the checkpoint) are cut off, so that the
/// continued run writes each step once. A CSV with fewer rows, or whose row at that step is not
/// the checkpoint's, belongs to another run and is refused. A run that *ended* at the
/// checkpoint evaluated its last step even when `eval_every` did not ask for it; that
/// evaluation is taken out of the row, so that the log reads as the one uninterrupted run.
/// Returns the writer and that row's `wall_ms` (the time the run had already taken).
fn reopen_csv(path: &Path, state: &RunState, eval_every: u64) -> CliResult<(BufWriter<File>, f64)> {
    let refuse = |why: String| CliError::usage(format!("--csv {} does not belong to this checkpoint: {why}", path.display()));
    let text = std::fs::read(path).map_err(|e| CliError::Io(format!("cannot read {} to continue it: {e}", path.display())))?;
    let header = format!("{}\n", cabs::record::header());
    if !text.starts_with(header.as_bytes()) {
        return Err(refuse("its first line is not the header of `cabs train --csv`".into()));
    }
    // Whole lines only: a run killed while writing may leave half a row at the end.
    let (mut at, mut rows, mut wall_ms, mut last_row) = (header.len(), 0u64, 0.0, None);
    while rows < state.step {
        let Some(len) = text[at..].iter().position(|&b| b == b'\n') else {
            return Err(refuse(format!("it has {rows} whole rows and the checkpoint is at step {}", state.step)));
        };
        let line = String::from_utf8_lossy(&text[at..at + len]).into_owned();
        rows += 1;
        let cells: Vec<&str> = line.split(',').collect();
        if cells.first() != Some(&rows.to_string().as_str()) {
            return Err(refuse(format!("its row {rows} is not step {rows}: '{line}'")));
        }
        if rows == state.step {
            let (examples, next) = (state.examples.to_string(), state.next_batch.to_string());
            if cells.get(1) != Some(&examples.as_str()) || cells.get(3) != Some(&next.as_str()) {
                return Err(refuse(format!(
                    "at step {rows} it has seen {} examples with next batch {}; the checkpoint {examples} with next batch {next}",
                    cells.get(1).unwrap_or(&"?"),
                    cells.get(3).unwrap_or(&"?")
                )));
            }
            wall_ms = cells.get(14).and_then(|w| w.parse::<f64>().ok()).filter(|w| w.is_finite()).unwrap_or(0.0);
            let scheduled = eval_every > 0 && rows % eval_every == 0;
            if !scheduled && cells.len() > 13 && (!cells[12].is_empty() || !cells[13].is_empty()) {
                let mut cells = cells.clone();
                (cells[12], cells[13]) = ("", "");
                last_row = Some((at, cells.join(",")));
            }
        }
        at += len + 1;
    }
    if at < text.len() {
        let past = text[at..].split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
        eprintln!("cabs: {}: {past} rows past the checkpoint's step {} removed (the run went on after it)", path.display(), state.step);
    }
    let f = OpenOptions::new().append(true).open(path).map_err(|e| CliError::write(path, e))?;
    let mut w = BufWriter::new(f);
    match last_row {
        Some((row_at, row)) => {
            w.get_ref().set_len(row_at as u64).map_err(|e| CliError::write(path, e))?;
            writeln!(w, "{row}").map_err(|e| CliError::write(path, e))?;
        }
        None => w.get_ref().set_len(at as u64).map_err(|e| CliError::write(path, e))?,
    }
    Ok((w, wall_ms))
}

/// The flags a resumed run must share with its checkpoint beyond what [`RunState::check_fits`]
/// compares: the base α and the evaluation period (which decides the CSV's evaluated rows). An
/// `--eval-every` left out takes the checkpoint's.
fn check_resume(a: &Args, cfg: &cabs::trainer::TrainerConfig, state: &RunState, path: &Path, budget: Budget) -> CliResult<u64> {
    let p = path.display();
    if cfg.lr.to_bits() != state.config.lr.to_bits() {
        return Err(CliError::usage(format!(
            "--resume-from {p}: the checkpoint's run has α = {} and this one --lr {}; give --lr {}",
            state.config.lr, cfg.lr, state.config.lr
        )));
    }
    let every = match state.eval {
        Some(e) if a.seen.iter().any(|f| f == "eval-every") && e.every != a.eval_every => {
            return Err(CliError::usage(format!(
                "--resume-from {p}: the checkpoint's run evaluates every {} steps and this one --eval-every {}; give --eval-every {} (or leave it out)",
                e.every, a.eval_every, e.every
            )))
        }
        Some(e) => e.every,
        None => a.eval_every,
    };
    if budget.reached(state.step, state.examples) {
        let (n, unit) = match budget {
            Budget::Steps(n) => (n, "--steps"),
            Budget::Examples(n) => (n, "--examples"),
        };
        return Err(CliError::usage(format!(
            "--resume-from {p}: the checkpoint is at step {} ({} examples), already at {unit} {n}: nothing to continue (give the run's whole budget, larger than that)",
            state.step, state.examples
        )));
    }
    Ok(every)
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
    let checkpoints = checkpoints(&a)?;
    let resume = match &a.resume_from {
        Some(path) => {
            let state = checkpoint::load(path, &format!("--resume-from {}", path.display()))?;
            state
                .check_fits(&cfg, &DataIdentity::of(&data))
                .map_err(|e| CliError::from(e).context(&format!("--resume-from {}", path.display())))?;
            let every = check_resume(&a, &cfg, &state, path, budget)?;
            Some((state, every))
        }
        None => None,
    };
    let eval_every = resume.as_ref().map_or(a.eval_every, |r| r.1);
    // Create (or, resuming, reopen and cut back) the output files before training, so a bad
    // path fails in a second, not an hour.
    let mut wall_ms0 = 0.0;
    let mut csv = match (&a.csv, &resume) {
        (Some(p), Some((state, _))) => {
            let (w, wall) = reopen_csv(p, state, eval_every)?;
            wall_ms0 = wall;
            Some((w, p.clone()))
        }
        (Some(p), None) => {
            let mut w = BufWriter::new(File::create(p).map_err(|e| CliError::write(p, e))?);
            writeln!(w, "{}", cabs::record::header()).map_err(|e| CliError::write(p, e))?;
            Some((w, p.clone()))
        }
        (None, _) => None,
    };
    // `auto` starts on the CPU engine at once and builds the GPU engine on another thread, to
    // move the run there between two steps if it wins (cabs::engine::auto::HandOver); where the
    // CPU engine's memory plan cannot hold the run, it starts on the GPU as `Trainer::new` does.
    let (mut cfg, mut handover) = (cfg, None);
    if cfg.backend == BackendChoice::Auto {
        match auto::cpu_holds(&cfg, &data) {
            Ok(()) => {
                handover = Some(HandOver::start(&cfg, data.clone())?);
                cfg.backend = BackendChoice::Cpu;
            }
            Err(why) => eprintln!("cabs: auto: the CPU engine cannot hold this run ({why}); starting on the GPU engine"),
        }
    }
    let mut trainer = match &resume {
        Some((state, _)) => pollster::block_on(Trainer::with_state(cfg, data, state))?,
        None => pollster::block_on(Trainer::new(cfg, data))?,
    };
    if let Some((state, _)) = &resume {
        let here = &trainer.backend().kind;
        eprintln!(
            "cabs: continuing from step {} ({} examples) of {}{}",
            state.step,
            state.examples,
            a.resume_from.as_ref().map_or(String::new(), |p| p.display().to_string()),
            if state.engine() != here {
                format!(" on the {here} engine; the {} engine made the checkpoint, and the two round differently", state.engine())
            } else {
                String::new()
            }
        );
    }
    let info = trainer.backend();
    let adapter = format!(
        "{}{}",
        info.adapter.as_ref().map(|a| format!("{} ({}, {})", a.name, a.backend, a.device_type)).unwrap_or_else(|| "CPU engine".into()),
        if handover.is_some() {
            " [auto: started on the CPU engine; the GPU engine is being built on another thread]".into()
        } else {
            crate::bench::choice_note(info)
        }
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
    let from = Start { wall_ms: wall_ms0, next_eval_step: resume.as_ref().and_then(|r| r.0.eval).map(|e| e.next_step) };
    bar.set_position(resume.as_ref().map_or(0, |(s, _)| match budget {
        Budget::Steps(_) => s.step,
        Budget::Examples(n) => s.examples.min(n),
    }));
    let (mut saved_at, mut saved_step, mut schedule) = (Instant::now(), None, EvalSchedule { every: eval_every, next_step: 0 });
    let mut between = |t: &mut Trainer| -> CliResult<()> {
        if let Some(outcome) = handover.as_mut().map(|h| h.poll(t)).transpose()?.flatten() {
            bar.suspend(|| eprintln!("cabs: auto: {}", outcome.text()));
        }
        Ok(())
    };
    let steps_from = EvalEvery::Steps(eval_every);
    let result = drive_between(&mut trainer, budget, steps_from, a.dump_step, from, &mut between, &mut |t, step| {
        let s = step.stats;
        if let (Some(detail), Some(path)) = (step.detail, a.dump.as_ref()) {
            write_json(path, &cabs::probe::build(t.layout(), model.clone(), t.backend().kind.clone(), detail))?;
            dumped = true;
        }
        if let Some((w, p)) = csv.as_mut() {
            writeln!(w, "{}", cabs::record::row(s, step.eval, step.wall_ms)).map_err(|e| CliError::write(p, e))?;
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
        schedule.next_step = step.next_eval_step;
        if let Some(c) = &checkpoints {
            if c.every_steps.is_some_and(|k| s.step % k == 0) || saved_at.elapsed() >= c.every {
                // The rows up to this step reach the disk first: a run killed after the
                // checkpoint has a CSV at least as long as the checkpoint's step.
                if let Some((w, p)) = csv.as_mut() {
                    w.flush().and_then(|_| w.get_ref().sync_data()).map_err(|e| CliError::write(p, e))?;
                }
                checkpoint::save(t, schedule, &c.path)?;
                (saved_at, saved_step) = (Instant::now(), Some(s.step));
            }
        }
        Ok(())
    });
    bar.finish_and_clear();
    if let Some(h) = handover.as_mut().filter(|h| h.is_pending()) {
        // A machine without an adapter has its answer within a few milliseconds, and is told
        // so; otherwise the build is awaited before the process exits (HandOver's Drop says why).
        match h.failure_within(std::time::Duration::from_millis(100)) {
            Some(why) => eprintln!("cabs: auto: stayed on CPU: {why}"),
            None => {
                eprintln!("cabs: auto: stayed on CPU: the run ended before the GPU engine was built (waiting for its build to end before exiting)");
                h.finish_build();
            }
        }
    }
    // Whatever happened, keep every row written so far; a failed flush is an error of its own.
    if let Some((mut w, p)) = csv {
        let flushed = w.flush().map_err(|e| CliError::write(&p, e));
        if result.is_ok() {
            flushed?;
        }
    }
    match result? {
        Ending::Done => {}
        // The last checkpoint (before the divergence) is kept as it is.
        Ending::Diverged(e) => return Err(e.into()),
    }
    if let Some(c) = &checkpoints {
        if saved_step != Some(trainer.steps_done()) {
            checkpoint::save(&trainer, schedule, &c.path)?;
        }
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
