//! Training the runs (one engine each, `--jobs` at a time, through the shared training loop),
//! writing their CSVs and records, and reading complete ones back with `--resume` (only when
//! their record matches, and only values a run can log).
//!
//! While a run trains, its state is saved every `--checkpoint-every-minutes` to
//! `runs/<label>.ckpt` (the library's run-state format, written atomically by
//! `crate::checkpoint`). Started again (`--resume`, `--run`), a killed run continues from it: its
//! CSV is cut back to the checkpoint's step and the run goes on, and the finished CSV (the two
//! clock columns aside) and predictions are those of a run that was never stopped. The checkpoint
//! is used only when the run's record matches these flags and names this engine build (its
//! source hash); otherwise it is refused, never silently used. It is deleted when the run ends.
//! While a process works on a run, `runs/<label>.lock` keeps a second one off it.

use super::metrics::{conv_xi_columns, EvalPoint, Run, StepPoint};
use super::plan::{distinct, RunSpec};
use super::probes::{predictions, predictions_path, read_predictions, SubsetLoss, EXTRA_COLUMNS};
use super::record::{differences, read_record, regular_or_absent, this_engine, write_record, Record, RunSettings};
use crate::checkpoint;
use crate::error::{CliError, CliResult};
use crate::session::{drive_from, Budget, Ending, EvalEvery, Start};
use cabs::run_state::{DataIdentity, EvalSchedule, RunState};
use cabs::trainer::Trainer;
use cabs::CabsError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What every run shares.
#[derive(Clone)]
pub(super) struct Ctx {
    /// The reproduction's settings, `backend` resolved to `cpu` or `gpu`.
    pub settings: cabs::settings::Settings,
    pub data: cabs::data::Dataset,
    pub budget: Budget,
    pub eval_every: EvalEvery,
    pub runs_dir: PathBuf,
    /// Wall time between two checkpoints of a run.
    pub checkpoint_every: Duration,
    /// [`super::options::STOP_AFTER_ENV`]: save the checkpoint after this step and exit.
    pub stop_after: Option<u64>,
    /// Read finished runs back from `runs_dir` instead of training them again.
    pub resume: bool,
    /// With `--resume`: adopt complete run files that have no record, with this note on where
    /// they came from (see [`super::record::ADOPT_ENV`]).
    pub adopt: Option<String>,
    pub quiet: bool,
    pub engine: Option<String>,
    pub planned: usize,
    pub done: usize,
}

impl Ctx {
    /// The record's settings of one run of this reproduction.
    pub(super) fn run_settings(&self, spec: &RunSpec) -> RunSettings {
        let s = &self.settings;
        RunSettings {
            data: s.data.clone(),
            train_examples: self.data.train.len(),
            test_examples: self.data.test.len(),
            model: s.model.clone(),
            rule: spec.rule(),
            alpha: spec.alpha,
            seed: spec.seed,
            m_min: s.mmin,
            m_max: s.mmax,
            mu: s.mu,
            c: s.c,
            eps: s.eps,
            unbiased: s.unbiased,
            bias_correction: s.bias_correction,
            conv_norms: s.conv_norms.clone(),
            chunk: s.chunk,
            backend: s.backend.clone(),
            examples: match self.budget {
                Budget::Examples(n) => Some(n),
                Budget::Steps(_) => None,
            },
            eval_every_examples: match self.eval_every {
                EvalEvery::Examples(n) => Some(n),
                EvalEvery::Steps(_) => None,
            },
            steps: match self.budget {
                Budget::Steps(n) => Some(n),
                Budget::Examples(_) => None,
            },
            eval_every_steps: match self.eval_every {
                EvalEvery::Steps(k) => Some(k),
                EvalEvery::Examples(_) => None,
            },
        }
    }

    /// The evaluation period a checkpoint carries ([`EvalSchedule::every`]): steps or examples,
    /// as the budget counts.
    fn eval_period(&self) -> u64 {
        match self.eval_every {
            EvalEvery::Steps(k) | EvalEvery::Examples(k) => k,
        }
    }

    /// The budget as the progress lines say it.
    fn budget_text(&self) -> String {
        match self.budget {
            Budget::Examples(n) => format!("{n} examples"),
            Budget::Steps(n) => format!("{n} steps"),
        }
    }

    pub(super) fn csv_path(&self, spec: &RunSpec) -> PathBuf {
        self.runs_dir.join(format!("{}.csv", spec.label()))
    }

    /// `runs/<label>.ckpt`: the run's saved state while it trains.
    pub(super) fn checkpoint_path(&self, spec: &RunSpec) -> PathBuf {
        self.runs_dir.join(format!("{}.ckpt", spec.label()))
    }
}

/// Refuse a run's checkpoint made by another engine build than this one (its record names the
/// build that started the run): continuing it would mix two builds' arithmetic in one run.
/// Cheap (the record only), so that `--resume` can check every run before the first trains.
pub(super) fn check_checkpoint_engine(ctx: &Ctx, spec: &RunSpec, record: &Record) -> CliResult<()> {
    let ckpt = ctx.checkpoint_path(spec);
    if !regular_or_absent(&ckpt)? {
        return Ok(());
    }
    let here = this_engine("").source_hash;
    let made = record.engine.as_ref().map(|e| e.source_hash.clone());
    if made.as_deref() == Some(here.as_str()) {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "{} was saved by another engine build ({}) than this one ({here}): continuing it would mix two builds' arithmetic in one run; \
continue it with the build that made it, or delete it (the run then trains again from step 0)",
        ckpt.display(),
        made.unwrap_or_else(|| "unknown: its record has no engine".into())
    )))
}

/// The checkpoint of a stopped run, checked against this run: the same flags (its record,
/// already compared by [`check_resume`]) and engine build, data, model, rule, seed, α and
/// evaluation period, and short of the budget. None when there is none.
fn usable_checkpoint(ctx: &Ctx, spec: &RunSpec, record: &Record, cfg: &cabs::trainer::TrainerConfig) -> CliResult<Option<RunState>> {
    let ckpt = ctx.checkpoint_path(spec);
    if !regular_or_absent(&ckpt)? {
        return Ok(None);
    }
    check_checkpoint_engine(ctx, spec, record)?;
    let shown = ckpt.display().to_string();
    let way_out = "delete it to train the run again from step 0";
    let state = checkpoint::load(&ckpt, &shown).map_err(|e| CliError::Io(format!("{e}; {way_out}")))?;
    state.check_fits(cfg, &DataIdentity::of(&ctx.data)).map_err(|e| CliError::usage(format!("{shown}: {e}; {way_out}")))?;
    let every = state.eval.map(|e| e.every);
    if cfg.lr.to_bits() != state.config.lr.to_bits() || every != Some(ctx.eval_period()) {
        return Err(CliError::usage(format!(
            "{shown} was saved by a run with α = {} evaluated every {}, and this run has α = {} evaluated every {}; {way_out}",
            state.config.lr,
            every.map_or("?".into(), |e| e.to_string()),
            cfg.lr,
            ctx.eval_period()
        )));
    }
    if ctx.budget.reached(state.step, state.examples) {
        return Err(CliError::usage(format!(
            "{shown} is at step {} ({} examples), already at the budget of {}: it belongs to another run; {way_out}",
            state.step,
            state.examples,
            ctx.budget_text()
        )));
    }
    Ok(Some(state))
}

/// Cut a stopped run's CSV back to its checkpoint's step (rows a killed run wrote after it go)
/// and reopen it for appending. The row at that step must be the checkpoint's (same examples and
/// next batch). Returns the writer and that row's `wall_ms` and `train_ms`, the time already spent.
fn reopen_at(path: &Path, state: &RunState) -> CliResult<(BufWriter<File>, f64, f64)> {
    let refuse = |why: String| {
        CliError::usage(format!("{} does not belong to its checkpoint: {why}; delete both to train the run again", path.display()))
    };
    let text = std::fs::read(path).map_err(|e| CliError::Io(format!("cannot read {} to continue it: {e}", path.display())))?;
    let header = format!("{},{EXTRA_COLUMNS}\n", cabs::record::header());
    if !text.starts_with(header.as_bytes()) {
        return Err(refuse("its first line is not a reproduction run's header".into()));
    }
    let names: Vec<&str> = header.trim_end().split(',').collect();
    let col = |n: &str| names.iter().position(|h| *h == n).unwrap_or(usize::MAX);
    let (c_ex, c_next, c_wall, c_train) = (col("examples_seen"), col("next_batch_size"), col("wall_ms"), col("train_ms"));
    let (mut at, mut rows, mut clocks) = (header.len(), 0u64, (0.0, 0.0));
    while rows < state.step {
        // Whole lines only: a run killed while writing may leave half a row at the end.
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
            if cells.get(c_ex) != Some(&examples.as_str()) || cells.get(c_next) != Some(&next.as_str()) {
                return Err(refuse(format!(
                    "at step {rows} it has seen {} examples with next batch {}; the checkpoint {examples} with next batch {next}",
                    cells.get(c_ex).unwrap_or(&"?"),
                    cells.get(c_next).unwrap_or(&"?")
                )));
            }
            let clock = |c: usize| cells.get(c).and_then(|w| w.parse::<f64>().ok()).filter(|w| w.is_finite()).unwrap_or(0.0);
            clocks = (clock(c_wall), clock(c_train));
        }
        at += len + 1;
    }
    let f = std::fs::OpenOptions::new().append(true).open(path).map_err(|e| CliError::write(path, e))?;
    f.set_len(at as u64).map_err(|e| CliError::write(path, e))?;
    Ok((BufWriter::new(f), clocks.0, clocks.1))
}

/// `train_subset_loss` as the run file holds it.
fn subset_text(v: f64) -> String {
    format!("{v:.6}")
}

/// `runs/<label>.lock` while a process works on the run: a second process on the same run (a
/// jobs file started twice, `--resume` while its jobs still run) would write the same CSV and
/// checkpoint, and could delete the first one's checkpoint. The file holds the owner's process
/// id; a lock whose process is gone (killed, so it could not remove it) is taken over. Removed
/// when dropped.
struct RunLock(PathBuf);

impl RunLock {
    fn take(runs_dir: &Path, label: &str) -> CliResult<RunLock> {
        let path = runs_dir.join(format!("{label}.lock"));
        let me = std::process::id();
        // Written whole under a name of this process's own, then linked into place: the link
        // fails if the lock exists, and a reader never sees it without its process id.
        let mine = runs_dir.join(format!("{label}.lock.{me}"));
        std::fs::write(&mine, format!("{me}\n")).map_err(|e| CliError::write(&mine, e))?;
        let mut taken = std::fs::hard_link(&mine, &path);
        if taken.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::AlreadyExists) {
            let owner = std::fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
            if let Some(pid) = owner.filter(|&pid| process_alive(pid)) {
                let _ = std::fs::remove_file(&mine);
                return Err(CliError::run(format!(
                    "{label}: process {pid} is working on this run ({} names it): wait for it or stop it; if no such process \
works on it, delete that file",
                    path.display()
                )));
            }
            // Left by a process that was killed.
            let _ = std::fs::remove_file(&path);
            taken = std::fs::hard_link(&mine, &path);
        }
        let _ = std::fs::remove_file(&mine);
        taken.map_err(|e| CliError::write(&path, e))?;
        Ok(RunLock(path))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether process `pid` exists: `/proc/<pid>` where there is a `/proc`; elsewhere it cannot be
/// told here, so a lock is taken to be held (its message says how to clear it).
fn process_alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new(&format!("/proc/{pid}")).exists()
}

/// What `--resume` may do with a run's file.
#[derive(Debug)]
pub(super) enum Found {
    /// No run file: train it.
    Nothing,
    /// A run file whose record matches these settings.
    Recorded(Box<Record>),
    /// A run file without a record, to be adopted (only with [`Ctx::adopt`]).
    Unrecorded,
}

/// `--resume`'s check of one run, before anything is read or trained: a run file must be a
/// regular file with a record that matches this reproduction's settings exactly. Otherwise the
/// run is refused, naming both settings: retraining would overwrite a run made under other
/// flags (hours of compute lost to a typo), and reusing it would report it under the wrong
/// header. The way out is in the message: the run's own flags, deleting the file, or a new --out.
pub(super) fn check_resume(ctx: &Ctx, spec: &RunSpec) -> CliResult<Found> {
    let path = ctx.csv_path(spec);
    if !regular_or_absent(&path)? && !regular_or_absent(&gz_path(&path))? {
        return Ok(Found::Nothing);
    }
    let keep = "it is kept: rerun with its flags, or delete it (and its .json) to train it again, or choose another --out";
    let Some(record) = read_record(&path)? else {
        if ctx.adopt.is_some() {
            return Ok(Found::Unrecorded);
        }
        return Err(CliError::usage(format!(
            "--resume: {} has no record of the settings it was trained with ({} is missing); {keep}",
            path.display(),
            super::record::record_path(&path).display()
        )));
    };
    let diffs = differences(&record.settings, &ctx.run_settings(spec));
    if diffs.is_empty() {
        return Ok(Found::Recorded(Box::new(record)));
    }
    let side =
        |f: fn(&(String, String, String)) -> &String| diffs.iter().map(|d| format!("{} {}", d.0, f(d))).collect::<Vec<_>>().join(", ");
    Err(CliError::usage(format!(
        "--resume: {} was trained with {}, but this reproduction asks for {}; {keep}",
        path.display(),
        side(|d| &d.1),
        side(|d| &d.2)
    )))
}

pub(super) fn run_one(ctx: &mut Ctx, spec: &RunSpec) -> CliResult<Run> {
    let label = spec.label();
    let mut settings = ctx.settings.clone();
    settings.rule = spec.rule();
    settings.lr = spec.alpha;
    settings.seed = spec.seed;
    let cfg = settings.trainer_config().map_err(|e| CliError::from(e).context(&label))?;
    ctx.done += 1;
    let tag = format!("[{}/{}] {label}", ctx.done, ctx.planned.max(ctx.done));
    if !ctx.quiet {
        eprintln!("cabs: reproduce {tag}: rule {}, α = {}, seed {}, {} …", settings.rule, spec.alpha, spec.seed, ctx.budget_text());
    }
    let path = ctx.csv_path(spec);
    let ckpt = ctx.checkpoint_path(spec);
    let mut continued = None;
    // Taken before this process touches the run's files (a complete run read back takes none),
    // held until they are final: dropped on every return.
    let _lock: RunLock;
    if ctx.resume {
        let found = check_resume(ctx, spec)?;
        let diverged = match &found {
            Found::Recorded(r) => r.diverged.clone(),
            _ => None,
        };
        // A checkpoint is deleted only once the run's files are complete: with one, the run is
        // unfinished, and its CSV may end in half a row (the process was killed mid-write).
        let unfinished = regular_or_absent(&ckpt)?;
        let complete = if unfinished { None } else { load_run(&path, spec, ctx.budget, ctx.data.test.len(), diverged.as_deref())? };
        if let Some(run) = complete {
            let how = match found {
                Found::Recorded(r) => match r.engine {
                    Some(e) if e.source_hash != this_engine("").source_hash => {
                        format!(" (trained by another engine build, {} {})", e.crate_version, e.source_hash)
                    }
                    _ => String::new(),
                },
                _ => {
                    write_record(&path, &adopted(ctx, spec))?;
                    " (adopted: its record written now from these flags)".to_string()
                }
            };
            if !ctx.quiet {
                eprintln!("cabs: reproduce {tag}: complete in {}{how}, not retrained", path.display());
            }
            return Ok(run);
        }
        _lock = RunLock::take(&ctx.runs_dir, &label)?;
        continued = match &found {
            Found::Recorded(r) => usable_checkpoint(ctx, spec, r, &cfg)?.map(|state| (state, (**r).clone())),
            _ if regular_or_absent(&ckpt)? => {
                return Err(CliError::usage(format!(
                    "{} has no run file with a record beside it to continue; delete it to train the run from step 0",
                    ckpt.display()
                )))
            }
            _ => None,
        };
    } else {
        _lock = RunLock::take(&ctx.runs_dir, &label)?;
        if regular_or_absent(&ckpt)? {
            // Not resuming: the run trains from step 0, and a checkpoint of an earlier attempt
            // would later be taken for this one's.
            std::fs::remove_file(&ckpt).map_err(|e| CliError::write(&ckpt, e))?;
            if !ctx.quiet {
                eprintln!(
                    "cabs: reproduce {tag}: {} of an earlier attempt removed (without --resume a run starts from step 0)",
                    ckpt.display()
                );
            }
        }
    }
    // Before anything is opened: a FIFO here would block for ever.
    regular_or_absent(&path)?;
    let mut subset = SubsetLoss::new(cfg.clone(), &ctx.data).map_err(|e| e.context(&label))?;
    let mut trainer = match &continued {
        Some((state, _)) => pollster::block_on(Trainer::with_state(cfg, ctx.data.clone(), state)),
        None => pollster::block_on(Trainer::new(cfg, ctx.data.clone())),
    }
    .map_err(|e| CliError::from(e).context(&label))?;
    // Predictions of an earlier, stopped attempt would sit beside a CSV they do not belong to.
    let pred_path = predictions_path(&path);
    if regular_or_absent(&pred_path)? {
        std::fs::remove_file(&pred_path).map_err(|e| CliError::write(&pred_path, e))?;
    }
    let device = engine_name(&trainer);
    if ctx.engine.is_none() {
        ctx.engine = Some(device.clone());
    }
    // The record first: a run stopped half-way then has a matching record, and --resume continues
    // it (or trains it again) rather than refusing it. A continued run keeps the record that
    // started it.
    let resumed = continued.is_some();
    let (mut record, mut csv, from, train_ms0) = match continued {
        Some((state, record)) => {
            let (w, wall_ms, train_ms) = reopen_at(&path, &state)?;
            if !ctx.quiet {
                eprintln!("cabs: reproduce {tag}: continuing from step {} ({} examples) of {}", state.step, state.examples, ckpt.display());
            }
            (
                record,
                w,
                Start {
                    wall_ms,
                    next_eval_step: state.eval.map(|e| e.next_step).filter(|_| matches!(ctx.eval_every, EvalEvery::Steps(_))),
                },
                train_ms,
            )
        }
        None => {
            let record = Record {
                label: label.clone(),
                settings: ctx.run_settings(spec),
                engine: Some(this_engine(&device)),
                adopted: None,
                diverged: None,
            };
            write_record(&path, &record)?;
            let mut w = BufWriter::new(File::create(&path).map_err(|e| CliError::write(&path, e))?);
            writeln!(w, "{},{EXTRA_COLUMNS}", cabs::record::header()).map_err(|e| CliError::write(&path, e))?;
            (record, w, Start::default(), 0.0)
        }
    };
    let mut run = Run::new(spec.clone());
    // As in `cabs train`: wall time counts from here, after the engine is set up.
    let start = Instant::now();
    let mut conv_xi = Vec::new();
    let (budget, period, stop_after) = (ctx.budget, ctx.eval_period(), ctx.stop_after);
    let mut saved_at = Instant::now();
    let every = ctx.checkpoint_every;
    let ending = drive_from(&mut trainer, ctx.budget, ctx.eval_every, None, from, &mut |t, step| {
        let s = step.stats;
        let mut subset_loss = None;
        if let Some(e) = step.eval {
            // Kept as the run file writes it (6 decimals), so that tables made now and tables
            // assembled later from the file choose and compute alike.
            subset_loss = Some(subset_text(subset.measure(t)?).parse().unwrap_or(f64::NAN));
            run.evals.push(EvalPoint {
                examples: s.examples_seen,
                train_s: step.train_s,
                test_loss: e.test_loss,
                test_accuracy: e.test_accuracy,
                train_subset_loss: subset_loss,
            });
        }
        if let (Some(e), Some(a)) = (s.conv_xi_exact, s.conv_xi_approx) {
            conv_xi.push((e, a));
        }
        let sub = subset_loss.map(subset_text).unwrap_or_default();
        writeln!(csv, "{},{:.3},{sub}", cabs::record::row(s, step.eval, step.wall_ms), train_ms0 + step.train_s * 1e3)
            .map_err(|e| CliError::write(&path, e))?;
        run.steps.push(StepPoint {
            step: s.step,
            examples: s.examples_seen,
            batch: s.batch_size,
            loss: s.loss,
            train_s: step.train_s,
            conv_xi: s.conv_xi_exact.zip(s.conv_xi_approx),
        });
        // A checkpoint every so often, never at the last step (the run is then finished).
        let stop = stop_after == Some(s.step);
        if !budget.reached(s.step, s.examples_seen) && (stop || saved_at.elapsed() >= every) {
            // The rows up to this step reach the disk first: a run killed after the checkpoint
            // has a CSV at least as long as the checkpoint's step.
            csv.flush().and_then(|_| csv.get_ref().sync_data()).map_err(|e| CliError::write(&path, e))?;
            checkpoint::save(t, EvalSchedule { every: period, next_step: step.next_eval_step }, &ckpt)?;
            saved_at = Instant::now();
            if stop {
                eprintln!(
                    "cabs: reproduce: stopped after step {} with its checkpoint saved, as {} asks",
                    s.step,
                    super::options::STOP_AFTER_ENV
                );
                std::process::exit(super::options::STOPPED_EXIT);
            }
        }
        Ok(())
    });
    let flushed = csv.flush().map_err(|e| CliError::write(&path, e));
    match ending.map_err(|e| e.context(&label))? {
        Ending::Done => {}
        Ending::Diverged(CabsError::Diverged { step, what }) => run.diverged = Some(format!("diverged at step {step}: {what}")),
        Ending::Diverged(e) => run.diverged = Some(e.to_string()),
    }
    flushed?;
    if run.diverged.is_some() {
        record.diverged = run.diverged.clone();
        write_record(&path, &record)?;
    } else {
        run.extra = conv_xi_columns(&conv_xi);
        let p = predictions(&mut trainer).map_err(|e| e.context(&label))?;
        std::fs::write(&pred_path, &p).map_err(|e| CliError::write(&pred_path, e))?;
        run.predictions = Some(p);
    }
    // The run is finished (or diverged, which is final too): nothing to continue.
    if regular_or_absent(&ckpt)? {
        std::fs::remove_file(&ckpt).map_err(|e| CliError::write(&ckpt, e))?;
    }
    run.wall_s = start.elapsed().as_secs_f64();
    if resumed {
        // The steps before the checkpoint are in the file, not in memory: read the whole run back.
        let n_test = ctx.data.test.len();
        run = load_run(&path, spec, ctx.budget, n_test, record.diverged.as_deref())?
            .ok_or_else(|| CliError::run(format!("{label}: the continued run's file {} is not complete", path.display())))?;
    }
    if !ctx.quiet {
        let what = match (&run.diverged, run.final_eval()) {
            (Some(d), _) => d.clone(),
            (None, Some(e)) => format!("test accuracy {:.4}, test loss {:.4}", e.test_accuracy, e.test_loss),
            (None, None) => "no evaluation".into(),
        };
        let last = run.steps.last();
        eprintln!(
            "cabs: reproduce {tag}: {what}; {} steps, {} examples, final batch {}, {:.1} s",
            last.map_or(0, |s| s.step),
            last.map_or(0, |s| s.examples),
            last.map_or(0, |s| s.batch),
            run.wall_s
        );
    }
    Ok(run)
}

/// The engine a trainer runs on, for the tables.
pub(super) fn engine_name(t: &Trainer) -> String {
    let info = t.backend();
    match &info.adapter {
        Some(a) => format!("{} ({}: {}, {})", info.kind, a.name, a.backend, a.device_type),
        None => format!("{} (CPU engine)", info.kind),
    }
}

/// The record of a run file that predates records, written from this reproduction's flags.
fn adopted(ctx: &Ctx, spec: &RunSpec) -> Record {
    Record {
        label: spec.label(),
        settings: ctx.run_settings(spec),
        engine: None,
        diverged: None,
        adopted: Some(format!(
            "{}the run file predates run records; this record was written from the flags of `cabs reproduce --resume` with {} set",
            ctx.adopt.as_deref().filter(|n| !n.is_empty()).map(|n| format!("{n}; ")).unwrap_or_default(),
            super::record::ADOPT_ENV
        )),
    }
}

/// A finished run read back from its CSV (`--resume`): None when the file is missing or the run
/// stopped before the budget (then it is trained again). A value no run can log (a step or
/// example count that is not a whole number, an accuracy outside [0, 1] or NaN, a loss or time
/// that is not finite, a test loss without its accuracy) is an error naming the file and line.
/// Empty cells a run leaves (no evaluation at that step, ξ columns it does not compute) stay.
/// `diverged`: the record's note of a run that diverged; its CSV is then complete as it is.
pub(super) fn load_run(csv_path: &Path, spec: &RunSpec, budget: Budget, n_test: usize, diverged: Option<&str>) -> CliResult<Option<Run>> {
    let Some((path, text)) = read_run_text(csv_path)? else { return Ok(None) };
    let path = path.as_path();
    let fix = "delete it to train the run again";
    let bad = |what: &str| CliError::Io(format!("{}: {what}; {fix}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).ok_or_else(|| bad(&format!("no column {name}")));
    let (c_step, c_ex, c_m, c_loss) = (col("step")?, col("examples_seen")?, col("batch_size")?, col("loss")?);
    let (c_tl, c_ta, c_wall, c_train) = (col("test_loss")?, col("test_accuracy")?, col("wall_ms")?, col("train_ms")?);
    let (c_xe, c_xa) = (header.iter().position(|h| *h == "conv_xi_exact"), header.iter().position(|h| *h == "conv_xi_approx"));
    // Absent in runs made before the subset loss was measured.
    let c_sub = header.iter().position(|h| *h == "train_subset_loss");
    let mut run = Run::new(spec.clone());
    let mut conv_xi = Vec::new();
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let f: Vec<&str> = line.split(',').collect();
        let cell = |c: usize| f.get(c).copied().unwrap_or("");
        let at =
            |c: usize, why: &str| CliError::Io(format!("{}, line {line_no}: {} '{}' {why}; {fix}", path.display(), header[c], cell(c)));
        let whole = |c: usize| cell(c).parse::<u64>().map_err(|_| at(c, "is not a whole number"));
        let finite = |c: usize| cell(c).parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| at(c, "is not a finite number"));
        let num = |c: usize| cell(c).parse::<f64>().ok();
        let train_s = finite(c_train)? / 1e3;
        let xi = c_xe.and_then(num).zip(c_xa.and_then(num));
        conv_xi.extend(xi);
        let examples = whole(c_ex)?;
        run.steps.push(StepPoint {
            step: whole(c_step)?,
            examples,
            batch: u32::try_from(whole(c_m)?).map_err(|_| at(c_m, "is not a batch size"))?,
            loss: finite(c_loss)?,
            train_s,
            conv_xi: xi,
        });
        match (cell(c_tl).is_empty(), cell(c_ta).is_empty()) {
            (true, true) => {}
            (false, false) => {
                let test_loss = finite(c_tl)?;
                let test_accuracy = cell(c_ta)
                    .parse::<f64>()
                    .ok()
                    .filter(|a| (0.0..=1.0).contains(a))
                    .ok_or_else(|| at(c_ta, "is not an accuracy in [0, 1]"))?;
                let train_subset_loss = match c_sub.map(cell) {
                    None | Some("") => None,
                    Some(_) => Some(c_sub.map(finite).transpose()?.unwrap_or(f64::NAN)),
                };
                run.evals.push(EvalPoint { examples, train_s, test_loss, test_accuracy, train_subset_loss });
            }
            (false, true) => return Err(at(c_ta, "is missing beside a test loss")),
            (true, false) => return Err(at(c_tl, "is missing beside a test accuracy")),
        }
        run.wall_s = finite(c_wall)? / 1e3;
    }
    if let Some(d) = diverged {
        run.diverged = Some(d.to_string());
        return Ok(Some(run));
    }
    if run.steps.last().is_none_or(|s| !budget.reached(s.step, s.examples)) || run.evals.is_empty() {
        return Ok(None);
    }
    run.extra = conv_xi_columns(&conv_xi);
    run.predictions = read_predictions(csv_path, n_test)?;
    Ok(Some(run))
}

/// The text of a run file: `runs/<label>.csv`, or else `runs/<label>.csv.gz` (how a large
/// committed set keeps its logs), with the path read. None when neither exists.
pub(super) fn read_run_text(csv: &Path) -> CliResult<Option<(PathBuf, String)>> {
    let cannot = |p: &Path, e: &dyn std::fmt::Display| CliError::Io(format!("cannot read {}: {e}", p.display()));
    if regular_or_absent(csv)? {
        let text = std::fs::read_to_string(csv).map_err(|e| cannot(csv, &e))?;
        return Ok(Some((csv.to_path_buf(), text)));
    }
    let gz = gz_path(csv);
    if !regular_or_absent(&gz)? {
        return Ok(None);
    }
    let file = File::open(&gz).map_err(|e| cannot(&gz, &e))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)), &mut text)
        .map_err(|e| cannot(&gz, &e))?;
    Ok(Some((gz, text)))
}

/// `runs/<label>.csv.gz` beside `runs/<label>.csv`.
pub(super) fn gz_path(csv: &Path) -> PathBuf {
    let mut name = csv.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".gz");
    csv.with_file_name(name)
}

/// A run complete in `runs_dir` (with a matching record, or one to adopt), read back; None when
/// it is missing or was stopped before the end. For `--assemble-only` and the second phase of
/// `--emit-jobs`, which read runs but never train them.
pub(super) fn load_complete(ctx: &Ctx, spec: &RunSpec) -> CliResult<Option<Run>> {
    let diverged = match check_resume(ctx, spec)? {
        Found::Nothing => return Ok(None),
        Found::Unrecorded => None,
        Found::Recorded(r) => r.diverged,
    };
    // Stopped mid-run (a checkpoint is deleted only once the run is complete).
    if regular_or_absent(&ctx.checkpoint_path(spec))? {
        return Ok(None);
    }
    load_run(&ctx.csv_path(spec), spec, ctx.budget, ctx.data.test.len(), diverged.as_deref())
}

/// Runs by label: a run that several experiments need is trained once.
pub(super) struct Cache {
    pub runs: Vec<Run>,
    pub index: HashMap<String, usize>,
}

/// A finished run and the engine it ran on.
type RunAndEngine = (Run, Option<String>);

/// A run, trained or read back; if that fails, the run recorded as failed (one line on stderr)
/// so that the other runs go on.
pub(super) fn run_or_record(ctx: &mut Ctx, spec: &RunSpec) -> Run {
    run_one(ctx, spec).unwrap_or_else(|e| {
        eprintln!("cabs: reproduce {}: failed: {e}", spec.label());
        Run { failed: Some(e.to_string()), ..Run::new(spec.clone()) }
    })
}

impl Cache {
    pub(super) fn get(&mut self, ctx: &mut Ctx, spec: &RunSpec, role: &'static str) -> usize {
        let label = spec.label();
        let i = match self.index.get(&label) {
            Some(&i) => i,
            None => {
                let run = run_or_record(ctx, spec);
                self.runs.push(run);
                self.index.insert(label, self.runs.len() - 1);
                self.runs.len() - 1
            }
        };
        if !self.runs[i].roles.contains(&role) {
            self.runs[i].roles.push(role);
        }
        i
    }

    /// Train the runs of `specs` that are not cached yet, `jobs` at a time, each with its own
    /// engine (the results are those of training them one by one). With one job, nothing is
    /// done here and [`Cache::get`] trains on demand.
    pub(super) fn prefetch(&mut self, ctx: &mut Ctx, specs: &[RunSpec], jobs: usize) {
        if jobs <= 1 {
            return;
        }
        let todo: Vec<RunSpec> = distinct(specs).into_iter().filter(|s| !self.index.contains_key(&s.label())).collect();
        if todo.is_empty() {
            return;
        }
        let next = AtomicUsize::new(0);
        let base = ctx.done;
        let results: Vec<Mutex<Option<RunAndEngine>>> = todo.iter().map(|_| Mutex::new(None)).collect();
        let shared: &Ctx = ctx;
        std::thread::scope(|scope| {
            for _ in 0..jobs.min(todo.len()) {
                scope.spawn(|| {
                    let mut local = shared.clone();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= todo.len() {
                            break;
                        }
                        local.done = base + i;
                        let run = run_or_record(&mut local, &todo[i]);
                        if let Ok(mut slot) = results[i].lock() {
                            *slot = Some((run, local.engine.clone()));
                        }
                    }
                });
            }
        });
        ctx.done = base + todo.len();
        for (spec, r) in todo.iter().zip(results) {
            let (run, engine) = r.into_inner().ok().flatten().unwrap_or_else(|| {
                let why = "the run's thread stopped".to_string();
                eprintln!("cabs: reproduce {}: failed: {why}", spec.label());
                (Run { failed: Some(why), ..Run::new(spec.clone()) }, None)
            });
            if ctx.engine.is_none() {
                ctx.engine = engine;
            }
            self.runs.push(run);
            self.index.insert(spec.label(), self.runs.len() - 1);
        }
    }
}
