//! Training the runs (one engine each, `--jobs` at a time, through the shared training loop),
//! writing their CSVs, and reading complete ones back with `--resume`.

use super::metrics::{conv_xi_columns, EvalPoint, Run, StepPoint};
use super::plan::RunSpec;
use crate::error::{CliError, CliResult};
use crate::session::{drive, Budget, Ending, EvalEvery};
use cabs::trainer::Trainer;
use cabs::CabsError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// What every run shares.
#[derive(Clone)]
pub(super) struct Ctx {
    pub settings: cabs::settings::Settings,
    pub data: cabs::data::Dataset,
    pub budget: u64,
    pub eval_every: u64,
    pub runs_dir: PathBuf,
    /// Read finished runs back from `runs_dir` instead of training them again.
    pub resume: bool,
    pub quiet: bool,
    pub engine: Option<String>,
    pub planned: usize,
    pub done: usize,
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
        eprintln!("cabs: reproduce {tag}: rule {}, α = {}, seed {}, {} examples …", settings.rule, spec.alpha, spec.seed, ctx.budget);
    }
    let path = ctx.runs_dir.join(format!("{label}.csv"));
    if ctx.resume {
        if let Some(run) = load_run(&path, spec, ctx.budget)? {
            if !ctx.quiet {
                eprintln!("cabs: reproduce {tag}: complete in {}, not retrained", path.display());
            }
            return Ok(run);
        }
    }
    let mut trainer = pollster::block_on(Trainer::new(cfg, ctx.data.clone())).map_err(|e| CliError::from(e).context(&label))?;
    if ctx.engine.is_none() {
        ctx.engine = Some(engine_name(&trainer));
    }
    let mut csv = BufWriter::new(File::create(&path).map_err(|e| CliError::write(&path, e))?);
    writeln!(csv, "{},train_ms", cabs::csv::HEADER).map_err(|e| CliError::write(&path, e))?;
    let mut run = Run::new(spec.clone());
    // As in `cabs train`: wall time counts from here, after the engine is set up.
    let start = Instant::now();
    let mut conv_xi = Vec::new();
    let ending = drive(&mut trainer, Budget::Examples(ctx.budget), EvalEvery::Examples(ctx.eval_every), None, &mut |_, step| {
        let s = step.stats;
        if let Some(e) = step.eval {
            run.evals.push(EvalPoint {
                examples: s.examples_seen,
                train_s: step.train_s,
                test_loss: e.test_loss,
                test_accuracy: e.test_accuracy,
            });
        }
        if let (Some(e), Some(a)) = (s.conv_xi_exact, s.conv_xi_approx) {
            conv_xi.push((e, a));
        }
        writeln!(csv, "{},{:.3}", cabs::csv::row(s, step.eval, step.wall_ms), step.train_s * 1e3).map_err(|e| CliError::write(&path, e))?;
        run.steps.push(StepPoint {
            step: s.step,
            examples: s.examples_seen,
            batch: s.batch_size,
            loss: s.loss,
            train_s: step.train_s,
            conv_xi: s.conv_xi_exact.zip(s.conv_xi_approx),
        });
        Ok(())
    });
    let flushed = csv.flush().map_err(|e| CliError::write(&path, e));
    match ending.map_err(|e| e.context(&label))? {
        Ending::Done => {}
        Ending::Diverged(CabsError::Diverged { step, what }) => run.diverged = Some(format!("diverged at step {step}: {what}")),
        Ending::Diverged(e) => run.diverged = Some(e.to_string()),
    }
    flushed?;
    if run.diverged.is_none() {
        run.extra = conv_xi_columns(&conv_xi);
    }
    run.wall_s = start.elapsed().as_secs_f64();
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

/// A finished run read back from its CSV (`--resume`): None when the file is missing or the run
/// stopped before the budget (then it is trained again).
pub(super) fn load_run(path: &Path, spec: &RunSpec, budget: u64) -> CliResult<Option<Run>> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
    let bad = |what: &str| CliError::Io(format!("{}: {what}; delete it to train the run again", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).ok_or_else(|| bad(&format!("no column {name}")));
    let (c_step, c_ex, c_m, c_loss) = (col("step")?, col("examples_seen")?, col("batch_size")?, col("loss")?);
    let (c_tl, c_ta, c_wall, c_train) = (col("test_loss")?, col("test_accuracy")?, col("wall_ms")?, col("train_ms")?);
    let (c_xe, c_xa) = (header.iter().position(|h| *h == "conv_xi_exact"), header.iter().position(|h| *h == "conv_xi_approx"));
    let mut run = Run::new(spec.clone());
    let mut conv_xi = Vec::new();
    for (n, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let num = |c: usize| f.get(c).and_then(|v| v.parse::<f64>().ok());
        let need = |c: usize| num(c).ok_or_else(|| bad(&format!("row {} has no number in column {}", n + 2, header[c])));
        let train_s = need(c_train)? / 1e3;
        let xi = c_xe.and_then(num).zip(c_xa.and_then(num));
        conv_xi.extend(xi);
        run.steps.push(StepPoint {
            step: need(c_step)? as u64,
            examples: need(c_ex)? as u64,
            batch: need(c_m)? as u32,
            loss: need(c_loss)?,
            train_s,
            conv_xi: xi,
        });
        if let (Some(test_loss), Some(test_accuracy)) = (num(c_tl), num(c_ta)) {
            run.evals.push(EvalPoint { examples: need(c_ex)? as u64, train_s, test_loss, test_accuracy });
        }
        run.wall_s = need(c_wall)? / 1e3;
    }
    if run.steps.last().is_none_or(|s| s.examples < budget) || run.evals.is_empty() {
        return Ok(None);
    }
    run.extra = conv_xi_columns(&conv_xi);
    Ok(Some(run))
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
        let mut todo: Vec<RunSpec> = Vec::new();
        for s in specs {
            if !self.index.contains_key(&s.label()) && !todo.iter().any(|t| t.label() == s.label()) {
                todo.push(s.clone());
            }
        }
        if jobs <= 1 || todo.is_empty() {
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
