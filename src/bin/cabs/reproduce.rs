//! `cabs reproduce`: the paper's comparisons (Balles et al. 2017, section 5) run on our engine.
//!
//! Every run gets the same budget of training examples, so per-example comparisons are fair:
//! 1. CABS at `--cabs-alpha`;
//! 2. fixed batch m with constant α, for every m of `--batches` and every α of `--alphas`
//!    (each a full-budget run); per m the best α by final test accuracy is reported;
//! 3. per m, that best α with an inverse-time decay `const:M:invtime:K`, K = 2m/budget, so that
//!    α has halved at about half the budget (step budget/(2m));
//! 4. sensitivity: CABS and fixed m (the smallest, middle and largest of `--batches`) at every
//!    α of `--sensitivity`.
//!
//! Runs are cached by label (rule and α), so a run needed twice is trained once. Each run writes
//! `OUT/runs/<label>.csv` (the `cabs train --csv` columns plus `train_ms` at the end); at the
//! end come `OUT/summary.csv`, `OUT/all_runs.csv`, `OUT/results.md` and `OUT/figures/*.svg`.
//! A run that diverges is recorded as diverged; any other failure stops the reproduction.

use crate::cli::{dataset, Args};
use crate::plot::{self, LegendEntry, Panel, Series, Style};
use cabs::trainer::Trainer;
use cabs::CabsError;
use plotters::style::RGBColor;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The default `--model` of `reproduce`: the first entry the library's model parser accepts.
/// `cnn-mnist` (the paper's 2conv+2dense MNIST net) is tried first, so it becomes the default
/// as soon as the library knows it; until then `mlp:256`. To pin one model, leave one entry.
/// (The HELP text in cli.rs names this list too.)
pub const DEFAULT_MODELS: &[&str] = &["cnn-mnist", "mlp:256"];
/// Training examples per run, normally and with `--quick`.
pub const DEFAULT_EXAMPLES: u64 = 200_000;
pub const QUICK_EXAMPLES: u64 = 6_000;
/// Evaluations per run when `--eval-every-examples` is not given, normally and with `--quick`
/// (an evaluation passes the whole test set: with a small budget it would dominate the time).
pub const EVALS_PER_RUN: u64 = 40;
pub const QUICK_EVALS_PER_RUN: u64 = 10;
/// The training loss is smoothed over a trailing window of budget/SMOOTH_DIVISOR examples.
pub const SMOOTH_DIVISOR: u64 = 50;
/// Flags of `train` and `bench` that mean nothing here, with what to use instead.
const NOT_HERE: &[(&str, &str)] = &[
    ("rule", "the rules are fixed by the experiment; see --only"),
    ("lr", "use --cabs-alpha, --alphas and --sensitivity"),
    ("steps", "every run gets the same example budget: use --examples"),
    ("eval-every", "use --eval-every-examples"),
    ("csv", "every run writes OUT/runs/<label>.csv; use --out"),
    ("dump-step", "use cabs train"),
    ("dump", "use cabs train"),
    ("batch", "use --batches"),
];

/// Which experiments to run (`--only`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parts {
    pub cabs: bool,
    pub fixed: bool,
    pub decay: bool,
    pub sensitivity: bool,
}

impl Parts {
    pub const ALL: Parts = Parts { cabs: true, fixed: true, decay: true, sensitivity: true };

    pub fn parse(s: &str) -> Result<Parts, String> {
        let mut p = Parts { cabs: false, fixed: false, decay: false, sensitivity: false };
        for part in s.split(',').map(str::trim) {
            match part {
                "cabs" => p.cabs = true,
                "fixed" => p.fixed = true,
                "decay" => p.decay = true,
                "sensitivity" => p.sensitivity = true,
                "all" => p = Parts::ALL,
                _ => return Err(format!("usage: --only: unknown part '{part}' (use cabs, fixed, decay, sensitivity)")),
            }
        }
        Ok(p)
    }
}

/// The flags of `cabs reproduce` (the run options come from [`Args`]).
#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    pub eval_every_examples: Option<u64>,
    pub target_accuracy: f64,
    pub cabs_alpha: f64,
    pub alphas: Vec<f64>,
    pub batches: Vec<u32>,
    pub sensitivity: Vec<f64>,
    pub quick: bool,
    pub only: Parts,
    /// Runs trained at a time.
    pub jobs: usize,
    /// Reuse complete run CSVs found in `out/runs`.
    pub resume: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            out: PathBuf::from("docs/reproduction"),
            eval_every_examples: None,
            target_accuracy: 0.97,
            cabs_alpha: 0.1,
            alphas: vec![0.05, 0.1, 0.2, 0.5],
            batches: vec![16, 32, 64, 128, 256],
            sensitivity: vec![0.05, 0.1, 0.2],
            quick: false,
            only: Parts::ALL,
            jobs: 1,
            resume: false,
        }
    }
}

/// A comma-separated list of positive learning rates, sorted, duplicates dropped.
pub fn parse_alphas(s: &str, flag: &str) -> Result<Vec<f64>, String> {
    let mut v = Vec::new();
    for item in s.split(',').map(str::trim) {
        match item.parse::<f64>() {
            Ok(a) if a.is_finite() && a > 0.0 => v.push(a),
            _ => return Err(format!("usage: {flag}: '{item}' is not a positive number (e.g. {flag} 0.05,0.1,0.2)")),
        }
    }
    v.sort_by(f64::total_cmp);
    v.dedup();
    Ok(v)
}

/// A comma-separated list of batch sizes ≥ 1, sorted, duplicates dropped.
pub fn parse_batches(s: &str) -> Result<Vec<u32>, String> {
    let mut v = Vec::new();
    for item in s.split(',').map(str::trim) {
        match item.parse::<u32>() {
            Ok(m) if m >= 1 => v.push(m),
            _ => return Err(format!("usage: --batches: '{item}' is not a batch size ≥ 1 (e.g. --batches 16,64,256)")),
        }
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Runs

/// What a run trains with.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Cabs,
    Fixed {
        m: u32,
    },
    /// Fixed m with α/(1 + k·t).
    Decay {
        m: u32,
        k: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub kind: Kind,
    pub alpha: f64,
}

impl RunSpec {
    /// File name and cache key: `cabs-a0.1`, `const-m64-a0.2`, `const-m64-a0.2-invtime`.
    pub fn label(&self) -> String {
        let a = self.alpha;
        match self.kind {
            Kind::Cabs => format!("cabs-a{a}"),
            Kind::Fixed { m } => format!("const-m{m}-a{a}"),
            Kind::Decay { m, .. } => format!("const-m{m}-a{a}-invtime"),
        }
    }

    /// The `--rule` string.
    pub fn rule(&self) -> String {
        match self.kind {
            Kind::Cabs => "cabs".into(),
            Kind::Fixed { m } => format!("const:{m}"),
            Kind::Decay { m, k } => format!("const:{m}:invtime:{k}"),
        }
    }

    /// Name in figure legends.
    pub fn legend(&self) -> String {
        let a = self.alpha;
        match self.kind {
            Kind::Cabs => format!("CABS α={a}"),
            Kind::Fixed { m } => format!("m={m} α={a}"),
            Kind::Decay { m, .. } => format!("m={m} α={a}, inv-time decay"),
        }
    }

    pub fn batch(&self) -> Option<u32> {
        match self.kind {
            Kind::Cabs => None,
            Kind::Fixed { m } | Kind::Decay { m, .. } => Some(m),
        }
    }
}

/// One step, as much as the tables and figures need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepPoint {
    pub step: u64,
    pub examples: u64,
    pub batch: u32,
    pub loss: f64,
    /// Seconds of training (evaluations excluded) up to the end of this step.
    pub train_s: f64,
    /// The conv layers' part of ξ, (exact, approximate), with `--conv-norms both`.
    pub conv_xi: Option<(f64, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalPoint {
    pub examples: u64,
    pub train_s: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

#[derive(Clone, Debug)]
pub struct Run {
    pub spec: RunSpec,
    /// `Some(message)` if training produced NaN/∞ (the rows before it are kept).
    pub diverged: Option<String>,
    pub steps: Vec<StepPoint>,
    pub evals: Vec<EvalPoint>,
    /// Seconds from the start of the run to its end, evaluations and CSV writing included.
    pub wall_s: f64,
    /// Columns from [`conv_xi_columns`].
    pub extra: Vec<(String, String)>,
    /// What the run is used for: `cabs`, `tuning`, `best-fixed`, `decay`, `sensitivity`.
    pub roles: Vec<&'static str>,
}

impl Run {
    pub fn final_eval(&self) -> Option<&EvalPoint> {
        if self.diverged.is_some() {
            None
        } else {
            self.evals.last()
        }
    }

    pub fn final_accuracy(&self) -> Option<f64> {
        self.final_eval().map(|e| e.test_accuracy).filter(|a| a.is_finite())
    }

    pub fn final_test_loss(&self) -> Option<f64> {
        self.final_eval().map(|e| e.test_loss).filter(|a| a.is_finite())
    }

    pub fn final_train_loss(&self, window: u64) -> Option<f64> {
        if self.diverged.is_some() {
            return None;
        }
        let last = self.steps.last()?;
        smoothed_loss_at(&self.steps, self.steps.len() - 1, last.examples, window)
    }

    /// The batch size of the step at fraction `q` of the steps (1-based step ⌈q·steps⌉).
    pub fn batch_at(&self, q: f64) -> Option<u32> {
        let n = self.steps.len();
        if n == 0 {
            return None;
        }
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        Some(self.steps[i].batch)
    }

    pub fn examples_to(&self, target: f64) -> Option<f64> {
        first_crossing(&self.evals.iter().map(|e| (e.examples as f64, e.test_accuracy)).collect::<Vec<_>>(), target)
    }

    pub fn seconds_to(&self, target: f64) -> Option<f64> {
        first_crossing(&self.evals.iter().map(|e| (e.train_s, e.test_accuracy)).collect::<Vec<_>>(), target)
    }

    fn status(&self) -> String {
        match &self.diverged {
            None => "ok".into(),
            Some(_) => format!("diverged at step {}", self.steps.len() + 1),
        }
    }
}

/// Where the test accuracy first reaches `target`: the x of the first evaluation at or above
/// it, linearly interpolated from the evaluation before it (when there is one, below target).
/// `points` are (x, accuracy) in training order. None if never reached.
pub fn first_crossing(points: &[(f64, f64)], target: f64) -> Option<f64> {
    let i = points.iter().position(|&(_, a)| a >= target)?;
    let (x1, a1) = points[i];
    if i == 0 {
        return Some(x1);
    }
    let (x0, a0) = points[i - 1];
    if !(a0.is_finite() && a1 > a0) {
        return Some(x1);
    }
    Some(x0 + (target - a0) / (a1 - a0) * (x1 - x0))
}

/// A candidate for the best α of one batch size: its final test accuracy and smoothed final
/// training loss, None for a diverged run.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub accuracy: Option<f64>,
    pub train_loss: Option<f64>,
}

/// The best candidate: highest final test accuracy; ties go to the lower final training loss,
/// then to the earlier candidate (the smaller α, as the grid is sorted). Diverged runs never
/// win; None if all diverged.
pub fn best_candidate(c: &[Candidate]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, x) in c.iter().enumerate() {
        let Some(acc) = x.accuracy.filter(|a| a.is_finite()) else { continue };
        let better = match best {
            None => true,
            Some(b) => {
                let (ba, bl) = (c[b].accuracy.unwrap_or(f64::NEG_INFINITY), c[b].train_loss.unwrap_or(f64::INFINITY));
                let l = x.train_loss.filter(|l| l.is_finite()).unwrap_or(f64::INFINITY);
                acc > ba || (acc == ba && l < bl)
            }
        };
        if better {
            best = Some(i);
        }
    }
    best
}

/// The mean batch loss over the trailing `window` training examples ending at `x` examples,
/// each batch weighted by its size, taken over the steps up to index `i` whose examples lie in
/// (x − window, x]; step `i` always counts. None if any loss in it is not finite.
pub fn smoothed_loss_at(steps: &[StepPoint], i: usize, x: u64, window: u64) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0.0);
    for (j, s) in steps[..=i].iter().enumerate().rev() {
        if j != i && s.examples + window <= x {
            break;
        }
        sum += s.loss * s.batch as f64;
        n += s.batch as f64;
    }
    let v = sum / n;
    v.is_finite().then_some(v)
}

/// The smoothed training loss at about `points` evenly spaced example counts from `window` on:
/// (examples, training seconds, loss) at the last step at or before each.
pub fn smoothed_curve(steps: &[StepPoint], window: u64, points: usize) -> Vec<(f64, f64, f64)> {
    let Some(last) = steps.last() else { return Vec::new() };
    let start = window.min(last.examples);
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    let mut prev = usize::MAX;
    for k in 0..=points {
        let x = start + (last.examples - start) * k as u64 / points.max(1) as u64;
        let i = steps.partition_point(|s| s.examples <= x);
        if i == 0 || i - 1 == prev {
            continue;
        }
        prev = i - 1;
        let s = &steps[prev];
        if let Some(l) = smoothed_loss_at(steps, prev, s.examples, window) {
            out.push((s.examples as f64, s.train_s, l));
        }
    }
    out
}

/// With `--conv-norms both`: the conv layers' part of ξ, exact and approximated, on the same
/// batches, averaged over the run, and the median of approx / exact per step.
/// Nothing without those figures (these become the extra table columns of `Run::extra`).
fn conv_xi_columns(conv_xi: &[(f64, f64)]) -> Vec<(String, String)> {
    if conv_xi.is_empty() {
        return Vec::new();
    }
    let n = conv_xi.len() as f64;
    let mean = |f: fn(&(f64, f64)) -> f64| conv_xi.iter().map(f).sum::<f64>() / n;
    let mut ratios: Vec<f64> = conv_xi.iter().filter(|(e, _)| *e > 0.0).map(|(e, a)| a / e).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).map_or(String::new(), |r| format!("{r:.3}"));
    vec![
        ("conv_xi_exact_mean".into(), format!("{:.5}", mean(|p| p.0))),
        ("conv_xi_approx_mean".into(), format!("{:.5}", mean(|p| p.1))),
        ("conv_xi_approx_over_exact_median".into(), median),
    ]
}

/// What every run shares.
#[derive(Clone)]
struct Ctx {
    settings: cabs::settings::Settings,
    data: cabs::data::Dataset,
    budget: u64,
    eval_every: u64,
    runs_dir: PathBuf,
    /// Read finished runs back from `runs_dir` instead of training them again.
    resume: bool,
    quiet: bool,
    engine: Option<String>,
    planned: usize,
    done: usize,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("cannot write {}: {e}", path.display())
}

fn run_one(ctx: &mut Ctx, spec: &RunSpec) -> Result<Run, String> {
    let label = spec.label();
    let mut settings = ctx.settings.clone();
    settings.rule = spec.rule();
    settings.lr = spec.alpha;
    let cfg = settings.trainer_config().map_err(|e| format!("{label}: {e}"))?;
    ctx.done += 1;
    let tag = format!("[{}/{}] {label}", ctx.done, ctx.planned.max(ctx.done));
    if !ctx.quiet {
        eprintln!("cabs: reproduce {tag}: rule {}, α = {}, {} examples …", settings.rule, spec.alpha, ctx.budget);
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
    let mut trainer = pollster::block_on(Trainer::new(cfg, ctx.data.clone())).map_err(|e| format!("{label}: {e}"))?;
    if ctx.engine.is_none() {
        ctx.engine = Some(engine_name(&trainer));
    }
    let mut csv = BufWriter::new(File::create(&path).map_err(|e| io_err(&path, e))?);
    writeln!(csv, "{},train_ms", cabs::csv::HEADER).map_err(|e| io_err(&path, e))?;
    let mut run =
        Run { spec: spec.clone(), diverged: None, steps: Vec::new(), evals: Vec::new(), wall_s: 0.0, extra: Vec::new(), roles: Vec::new() };
    // As in `cabs train`: wall_ms counts from here, after the engine is set up.
    let start = Instant::now();
    let mut train_s = 0.0;
    let mut next_eval = ctx.eval_every;
    let mut conv_xi = Vec::new();
    while trainer.examples_seen() < ctx.budget {
        let t0 = Instant::now();
        let s = match pollster::block_on(trainer.step()) {
            Ok(s) => s,
            Err(CabsError::Diverged { step, what }) => {
                run.diverged = Some(format!("diverged at step {step}: {what}"));
                break;
            }
            Err(e) => return Err(format!("{label}: {e}")),
        };
        train_s += t0.elapsed().as_secs_f64();
        if let (Some(e), Some(a)) = (s.conv_xi_exact, s.conv_xi_approx) {
            conv_xi.push((e, a));
        }
        let finished = s.examples_seen >= ctx.budget;
        let eval = if s.examples_seen >= next_eval || finished {
            while next_eval <= s.examples_seen {
                next_eval += ctx.eval_every;
            }
            let e = pollster::block_on(trainer.evaluate()).map_err(|e| format!("{label}: {e}"))?;
            run.evals.push(EvalPoint { examples: s.examples_seen, train_s, test_loss: e.test_loss, test_accuracy: e.test_accuracy });
            Some(e)
        } else {
            None
        };
        let wall_ms = start.elapsed().as_secs_f64() * 1e3;
        writeln!(csv, "{},{:.3}", cabs::csv::row(&s, eval.as_ref(), wall_ms), train_s * 1e3).map_err(|e| io_err(&path, e))?;
        run.steps.push(StepPoint {
            step: s.step,
            examples: s.examples_seen,
            batch: s.batch_size,
            loss: s.loss,
            train_s,
            conv_xi: s.conv_xi_exact.zip(s.conv_xi_approx),
        });
    }
    csv.flush().map_err(|e| io_err(&path, e))?;
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
fn engine_name(t: &Trainer) -> String {
    let info = t.backend();
    match &info.adapter {
        Some(a) => format!("{} ({}: {}, {})", info.kind, a.name, a.backend, a.device_type),
        None => format!("{} (CPU engine)", info.kind),
    }
}

/// A finished run read back from its CSV (`--resume`): None when the file is missing or the run
/// stopped before the budget (then it is trained again).
fn load_run(path: &Path, spec: &RunSpec, budget: u64) -> Result<Option<Run>, String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
    let bad = |what: &str| format!("{}: {what}; delete it to train the run again", path.display());
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).ok_or_else(|| bad(&format!("no column {name}")));
    let (c_step, c_ex, c_m, c_loss) = (col("step")?, col("examples_seen")?, col("batch_size")?, col("loss")?);
    let (c_tl, c_ta, c_wall, c_train) = (col("test_loss")?, col("test_accuracy")?, col("wall_ms")?, col("train_ms")?);
    let (c_xe, c_xa) = (header.iter().position(|h| *h == "conv_xi_exact"), header.iter().position(|h| *h == "conv_xi_approx"));
    let mut run =
        Run { spec: spec.clone(), diverged: None, steps: Vec::new(), evals: Vec::new(), wall_s: 0.0, extra: Vec::new(), roles: Vec::new() };
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
struct Cache {
    runs: Vec<Run>,
    index: HashMap<String, usize>,
}

impl Cache {
    fn get(&mut self, ctx: &mut Ctx, spec: &RunSpec, role: &'static str) -> Result<usize, String> {
        let label = spec.label();
        let i = match self.index.get(&label) {
            Some(&i) => i,
            None => {
                let run = run_one(ctx, spec)?;
                self.runs.push(run);
                self.index.insert(label, self.runs.len() - 1);
                self.runs.len() - 1
            }
        };
        if !self.runs[i].roles.contains(&role) {
            self.runs[i].roles.push(role);
        }
        Ok(i)
    }
}

/// A trained run and the engine it ran on, or why it failed.
type RunResult = Result<(Run, Option<String>), String>;

impl Cache {
    /// Train the runs of `specs` that are not cached yet, `jobs` at a time, each with its own
    /// engine (the results are those of training them one by one). With one job, nothing is
    /// done here and [`Cache::get`] trains on demand.
    fn prefetch(&mut self, ctx: &mut Ctx, specs: &[RunSpec], jobs: usize) -> Result<(), String> {
        let mut todo: Vec<RunSpec> = Vec::new();
        for s in specs {
            if !self.index.contains_key(&s.label()) && !todo.iter().any(|t| t.label() == s.label()) {
                todo.push(s.clone());
            }
        }
        if jobs <= 1 || todo.is_empty() {
            return Ok(());
        }
        let next = AtomicUsize::new(0);
        let base = ctx.done;
        let results: Vec<Mutex<Option<RunResult>>> = todo.iter().map(|_| Mutex::new(None)).collect();
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
                        let r = run_one(&mut local, &todo[i]).map(|run| (run, local.engine.clone()));
                        if let Ok(mut slot) = results[i].lock() {
                            *slot = Some(r);
                        }
                    }
                });
            }
        });
        ctx.done = base + todo.len();
        for (spec, r) in todo.iter().zip(results) {
            let (run, engine) = r.into_inner().ok().flatten().ok_or_else(|| format!("{}: the run's thread stopped", spec.label()))??;
            if ctx.engine.is_none() {
                ctx.engine = engine;
            }
            self.runs.push(run);
            self.index.insert(spec.label(), self.runs.len() - 1);
        }
        Ok(())
    }
}

/// The k of `const:M:invtime:K` that halves α at half the budget: α/(1 + k·t) = α/2 at
/// t = budget/(2m) steps.
/// Rounded to 6 significant digits, so that the rule string stays readable.
pub fn invtime_k(m: u32, budget: u64) -> f64 {
    let k = 2.0 * m as f64 / budget as f64;
    format!("{k:.5e}").parse().unwrap_or(k)
}

/// The fixed batch sizes of the sensitivity study: the smallest, middle and largest of
/// `--batches` (16, 64, 256 by default).
pub fn sensitivity_batches(batches: &[u32]) -> Vec<u32> {
    let mut v = Vec::new();
    for m in [batches.first(), batches.get(batches.len() / 2), batches.last()].into_iter().flatten() {
        if !v.contains(m) {
            v.push(*m);
        }
    }
    v
}

pub fn reproduce(a: Args) -> Result<(), String> {
    for (flag, instead) in NOT_HERE {
        if a.seen.iter().any(|s| s == flag) {
            return Err(format!("usage: --{flag} does not apply to reproduce ({instead})"));
        }
    }
    let o = a.repro.clone();
    let budget = a.examples.unwrap_or(if o.quick { QUICK_EXAMPLES } else { DEFAULT_EXAMPLES });
    if budget == 0 {
        return Err("usage: --examples: the budget must be at least 1 example".into());
    }
    let evals = if o.quick { QUICK_EVALS_PER_RUN } else { EVALS_PER_RUN };
    let eval_every = o.eval_every_examples.unwrap_or((budget / evals).max(1));
    if eval_every == 0 {
        return Err("usage: --eval-every-examples must be at least 1".into());
    }
    if !(o.target_accuracy > 0.0 && o.target_accuracy <= 1.0) {
        return Err(format!("usage: --target-accuracy must be in (0, 1], got {}", o.target_accuracy));
    }
    if !(o.cabs_alpha.is_finite() && o.cabs_alpha > 0.0) {
        return Err(format!("usage: --cabs-alpha must be a positive number, got {}", o.cabs_alpha));
    }
    let mut settings = a.settings.clone();
    if !a.seen.iter().any(|s| s == "model") {
        settings.model = default_model(&settings);
    }
    settings.trainer_config().map_err(|e| e.to_string())?;
    let parts = Parts { fixed: o.only.fixed || o.only.decay, ..o.only };
    let data = dataset(&Args { settings: settings.clone(), ..a })?;
    let n_train = data.train.len();
    if parts.fixed || parts.sensitivity {
        if let Some(&m) = o.batches.iter().find(|&&m| m as usize > n_train) {
            return Err(format!("usage: --batches: {m} exceeds the {n_train} training examples of '{}'", data.name));
        }
    }
    if (parts.cabs || parts.sensitivity) && settings.mmax as usize > n_train {
        return Err(format!("usage: --m-max {} exceeds the {n_train} training examples of '{}'", settings.mmax, data.name));
    }

    let runs_dir = o.out.join("runs");
    let fig_dir = o.out.join("figures");
    for d in [&runs_dir, &fig_dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let sens_batches = sensitivity_batches(&o.batches);
    let mut planned = 0;
    planned += parts.cabs as usize;
    planned += parts.fixed as usize * o.batches.len() * o.alphas.len();
    planned += parts.decay as usize * o.batches.len();
    if parts.sensitivity {
        for &al in &o.sensitivity {
            planned += (!(parts.cabs && al == o.cabs_alpha)) as usize;
            planned += sens_batches.iter().filter(|_| !(parts.fixed && o.alphas.contains(&al))).count();
        }
    }
    let window = (budget / SMOOTH_DIVISOR).max(1);
    let mut ctx = Ctx {
        settings: settings.clone(),
        data,
        budget,
        eval_every,
        runs_dir,
        resume: o.resume,
        quiet: a.quiet,
        engine: None,
        planned,
        done: 0,
    };
    eprintln!(
        "cabs: reproduce: {} runs planned, {budget} training examples each, test evaluation every ~{eval_every} examples; data {}, model {}, seed {} → {}",
        planned,
        settings.data,
        settings.model,
        settings.seed,
        o.out.display()
    );
    let t_all = Instant::now();
    let mut cache = Cache { runs: Vec::new(), index: HashMap::new() };
    let mut report = Report { cabs: None, best_fixed: Vec::new(), decay: Vec::new(), grid: Vec::new(), sensitivity: Vec::new() };

    // Everything that does not depend on other runs' results, trained `--jobs` at a time.
    let mut independent = Vec::new();
    if parts.cabs {
        independent.push(RunSpec { kind: Kind::Cabs, alpha: o.cabs_alpha });
    }
    if parts.fixed {
        for &m in &o.batches {
            independent.extend(o.alphas.iter().map(|&alpha| RunSpec { kind: Kind::Fixed { m }, alpha }));
        }
    }
    if parts.sensitivity {
        for &alpha in &o.sensitivity {
            independent.push(RunSpec { kind: Kind::Cabs, alpha });
            independent.extend(sens_batches.iter().map(|&m| RunSpec { kind: Kind::Fixed { m }, alpha }));
        }
    }
    cache.prefetch(&mut ctx, &independent, o.jobs)?;
    if parts.cabs {
        report.cabs = Some(cache.get(&mut ctx, &RunSpec { kind: Kind::Cabs, alpha: o.cabs_alpha }, "cabs")?);
    }
    if parts.fixed {
        for &m in &o.batches {
            let mut row = Vec::new();
            for &alpha in &o.alphas {
                row.push(cache.get(&mut ctx, &RunSpec { kind: Kind::Fixed { m }, alpha }, "tuning")?);
            }
            let cands: Vec<Candidate> = row
                .iter()
                .map(|&i| Candidate { accuracy: cache.runs[i].final_accuracy(), train_loss: cache.runs[i].final_train_loss(window) })
                .collect();
            let best = best_candidate(&cands).map(|b| row[b]);
            if let Some(b) = best {
                if o.only.fixed {
                    cache.runs[b].roles.push("best-fixed");
                    report.best_fixed.push(b);
                }
            }
            report.grid.push((m, row, best));
        }
    }
    if parts.decay {
        let decays: Vec<RunSpec> = report
            .grid
            .iter()
            .filter_map(|&(m, _, best)| {
                best.map(|b| RunSpec { kind: Kind::Decay { m, k: invtime_k(m, budget) }, alpha: cache.runs[b].spec.alpha })
            })
            .collect();
        cache.prefetch(&mut ctx, &decays, o.jobs)?;
        for &(m, _, best) in &report.grid.clone() {
            match best {
                Some(b) => {
                    let alpha = cache.runs[b].spec.alpha;
                    let spec = RunSpec { kind: Kind::Decay { m, k: invtime_k(m, budget) }, alpha };
                    report.decay.push(cache.get(&mut ctx, &spec, "decay")?);
                }
                None => eprintln!("cabs: reproduce: m = {m}: every α diverged, no decay run"),
            }
        }
    }
    if parts.sensitivity {
        for &alpha in &o.sensitivity {
            let c = cache.get(&mut ctx, &RunSpec { kind: Kind::Cabs, alpha }, "sensitivity")?;
            let mut fixed = Vec::new();
            for &m in &sens_batches {
                fixed.push(cache.get(&mut ctx, &RunSpec { kind: Kind::Fixed { m }, alpha }, "sensitivity")?);
            }
            report.sensitivity.push((alpha, c, fixed));
        }
    }
    let total_s = t_all.elapsed().as_secs_f64();

    if ctx.engine.is_none() {
        // Every run was read back (--resume): name the engine these flags select.
        let cfg = settings.trainer_config().map_err(|e| e.to_string())?;
        if let Ok(t) = pollster::block_on(Trainer::new(cfg, ctx.data.clone())) {
            ctx.engine = Some(engine_name(&t));
        }
    }
    let env = Env {
        engine: ctx.engine.clone().unwrap_or_else(|| "-".into()),
        data: format!("{} ({} training / {} test examples)", settings.data, ctx.data.train.len(), ctx.data.test.len()),
        model: settings.model.clone(),
        seed: settings.seed,
        budget,
        eval_every,
        window,
        target: o.target_accuracy,
        command: command_line(),
        total_s,
        sens_batches: sens_batches.clone(),
        cabs_settings: format!(
            "m ∈ [{}, {}], μ = {}, c = {}, ε = {}{}{}",
            settings.mmin,
            settings.mmax,
            settings.mu,
            settings.c,
            settings.eps,
            if settings.unbiased { ", unbiased ξ" } else { "" },
            if settings.bias_correction { ", bias-corrected averages" } else { "" }
        ),
    };
    let runs = &cache.runs;
    let extra_names = extra_names(runs);
    let reported: Vec<(usize, Option<&str>)> = report.reported().into_iter().map(|(i, r)| (i, Some(r))).collect();
    write_file(&o.out.join("summary.csv"), &summary_csv(runs, &reported, &env, &extra_names))?;
    let all: Vec<(usize, Option<&str>)> = (0..runs.len()).map(|i| (i, None)).collect();
    write_file(&o.out.join("all_runs.csv"), &summary_csv(runs, &all, &env, &extra_names))?;
    write_file(&o.out.join("results.md"), &results_md(runs, &report, &o, &env, &extra_names))?;
    figures(&fig_dir, runs, &report, &o, &env)?;
    println!(
        "cabs reproduce: {} runs in {:.1} s; results in {} (also summary.csv, all_runs.csv, runs/*.csv, figures/*.svg)",
        runs.len(),
        total_s,
        o.out.join("results.md").display()
    );
    Ok(())
}

/// The first of [`DEFAULT_MODELS`] that the library accepts with these settings.
fn default_model(s: &cabs::settings::Settings) -> String {
    for m in DEFAULT_MODELS {
        let t = cabs::settings::Settings { model: m.to_string(), ..s.clone() };
        if t.trainer_config().is_ok() {
            return m.to_string();
        }
    }
    DEFAULT_MODELS.last().copied().unwrap_or("mlp:256").to_string()
}

fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| {
            let a = if i == 0 { "cabs".to_string() } else { a };
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+".contains(c)) {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| io_err(path, e))
}

// ---------------------------------------------------------------------------------------------
// Tables

/// Indices into the run list, by experiment.
struct Report {
    cabs: Option<usize>,
    best_fixed: Vec<usize>,
    decay: Vec<usize>,
    /// Per batch size: the runs of the α grid (in `--alphas` order) and the best one.
    grid: Vec<(u32, Vec<usize>, Option<usize>)>,
    /// Per α: the CABS run and the fixed-m runs (in `sensitivity_batches` order).
    sensitivity: Vec<(f64, usize, Vec<usize>)>,
}

impl Report {
    /// The main comparison: CABS, the best constant-α run and the decay run of every m.
    fn reported(&self) -> Vec<(usize, &'static str)> {
        let mut v: Vec<(usize, &'static str)> = self.cabs.iter().map(|&i| (i, "cabs")).collect();
        v.extend(self.best_fixed.iter().map(|&i| (i, "best-fixed")));
        v.extend(self.decay.iter().map(|&i| (i, "decay")));
        v
    }
}

struct Env {
    engine: String,
    data: String,
    model: String,
    seed: u64,
    budget: u64,
    eval_every: u64,
    window: u64,
    target: f64,
    command: String,
    total_s: f64,
    sens_batches: Vec<u32>,
    cabs_settings: String,
}

/// Header of summary.csv and all_runs.csv (then the extra columns, if any).
pub const SUMMARY_HEADER: &str = "label,role,rule,alpha,status,final_test_accuracy,final_test_loss,final_train_loss_smoothed,\
examples_to_target,seconds_to_target,steps,examples,wall_seconds,batch_at_25,batch_at_50,batch_at_75,batch_at_100";

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

fn extra_names(runs: &[Run]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in runs {
        for (n, _) in &r.extra {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
}

/// One row per (run index, role); `role` None: every role of the run, joined by `+`.
fn summary_csv(runs: &[Run], which: &[(usize, Option<&str>)], env: &Env, extra: &[String]) -> String {
    let mut s = String::from(SUMMARY_HEADER);
    for n in extra {
        s.push(',');
        s.push_str(n);
    }
    s.push('\n');
    for &(i, role) in which {
        let r = &runs[i];
        let role = role.map(str::to_string).unwrap_or_else(|| r.roles.join("+"));
        let b = |q| r.batch_at(q).map(|m| m.to_string()).unwrap_or_default();
        let last = r.steps.last();
        let _ = write!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{:.4},{},{},{},{}",
            r.spec.label(),
            role,
            r.spec.rule(),
            r.spec.alpha,
            r.status(),
            opt(r.final_accuracy()),
            opt(r.final_test_loss()),
            opt(r.final_train_loss(env.window)),
            opt(r.examples_to(env.target).map(|x| x.round())),
            opt(r.seconds_to(env.target)),
            last.map_or(0, |l| l.step),
            last.map_or(0, |l| l.examples),
            r.wall_s,
            b(0.25),
            b(0.5),
            b(0.75),
            b(1.0)
        );
        for n in extra {
            s.push(',');
            if let Some((_, v)) = r.extra.iter().find(|(k, _)| k == n) {
                s.push_str(v);
            }
        }
        s.push('\n');
    }
    s
}

fn pct(v: Option<f64>) -> String {
    v.map(|a| format!("{:.2} %", a * 100.0)).unwrap_or_else(|| "–".into())
}

fn f4(v: Option<f64>) -> String {
    v.map(|a| format!("{a:.4}")).unwrap_or_else(|| "–".into())
}

/// Seconds with about three significant digits.
fn secs(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn acc_cell(r: &Run) -> String {
    match (&r.diverged, r.final_accuracy()) {
        (Some(_), _) => format!("diverged (step {})", r.steps.len() + 1),
        (None, a) => pct(a),
    }
}

fn to_target_cell(r: &Run, target: f64) -> String {
    r.examples_to(target).map(|x| format!("{:.0}", x)).unwrap_or_else(|| "never".into())
}

fn results_md(runs: &[Run], rep: &Report, o: &Options, env: &Env, extra: &[String]) -> String {
    let t = env.target;
    let tp = format!("{:.4}", t * 100.0).trim_end_matches('0').trim_end_matches('.').to_string();
    let mut s = String::new();
    let _ = writeln!(s, "# CABS reproduction: results\n");
    let _ = writeln!(
        s,
        "**Environment:** engine {}; data {}; model `{}`; seed {}; budget {} training examples per run; test evaluation every ~{} examples; CABS {}; {} runs in {:.1} s.\n",
        env.engine, env.data, env.model, env.seed, env.budget, env.eval_every, env.cabs_settings, runs.len(), env.total_s
    );
    let _ = writeln!(s, "**Command:** `{}`\n", env.command);
    let _ = writeln!(
        s,
        "Every run trains on the same number of examples from the same initial weights and data order (seed). \
\"Examples to {tp} %\" is the first test evaluation at or above {tp} % test accuracy, linearly interpolated from the evaluation before it; \
seconds count training steps only (evaluations excluded), measured on this machine while the runs ran one after another. \
The smoothed training loss is the mean batch loss over the last {} training examples, each batch weighted by its size. \
Batch at 25/50/75/100 % is the batch size of the step at that fraction of the run's steps.\n",
        env.window
    );

    let _ = writeln!(s, "## Main comparison\n");
    let _ = writeln!(
        s,
        "CABS at α = {} (not tuned); for each fixed batch m the best constant α of the grid below; and that α with inverse-time decay \
α/(1 + k·t), k = 2m/budget, so that α has halved after half the budget (the decay starts from the constant-α optimum; it was not tuned separately).\n",
        o.cabs_alpha
    );
    let mut head = format!(
        "| run | role | rule | α | final test accuracy | final test loss | smoothed train loss | examples to {tp} % | seconds to {tp} % | steps | examples | wall s | batch at 25/50/75/100 % |"
    );
    let mut sep = String::from("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for n in extra {
        let _ = write!(head, " {n} |");
        sep.push_str(" --- |");
    }
    let _ = writeln!(s, "{head}\n{sep}");
    for (i, role) in rep.reported() {
        let r = &runs[i];
        let b = |q| r.batch_at(q).map(|m| m.to_string()).unwrap_or_else(|| "–".into());
        let last = r.steps.last();
        let _ = write!(
            s,
            "| {} | {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}/{}/{} |",
            r.spec.label(),
            role,
            r.spec.rule(),
            r.spec.alpha,
            acc_cell(r),
            f4(r.final_test_loss()),
            f4(r.final_train_loss(env.window)),
            to_target_cell(r, t),
            r.seconds_to(t).map(secs).unwrap_or_else(|| "never".into()),
            last.map_or(0, |l| l.step),
            last.map_or(0, |l| l.examples),
            secs(r.wall_s),
            b(0.25),
            b(0.5),
            b(0.75),
            b(1.0)
        );
        for n in extra {
            let v = r.extra.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or("–");
            let _ = write!(s, " {v} |");
        }
        s.push('\n');
    }
    if rep.reported().is_empty() {
        let _ = writeln!(s, "| (no runs: see --only) |||||||||||||");
    }

    if !rep.grid.is_empty() {
        let _ = writeln!(s, "\n## Tuning grid: final test accuracy of fixed batch m with constant α\n");
        let _ = writeln!(
            s,
            "Each cell is a full run with the whole budget. The best α per m (**bold**) is chosen by final test accuracy, ties by the lower smoothed \
training loss; it is picked on the same test set that is reported, which favours the fixed-batch baselines (CABS is not tuned).\n"
        );
        let mut head = String::from("| m \\ α |");
        let mut sep = String::from("| ---: |");
        for a in &o.alphas {
            let _ = write!(head, " {a} |");
            sep.push_str(" ---: |");
        }
        let _ = writeln!(s, "{head} best α |\n{sep} ---: |");
        for (m, row, best) in &rep.grid {
            let _ = write!(s, "| {m} |");
            for &i in row {
                let cell = acc_cell(&runs[i]);
                if Some(i) == *best {
                    let _ = write!(s, " **{cell}** |");
                } else {
                    let _ = write!(s, " {cell} |");
                }
            }
            let _ = writeln!(s, " {} |", best.map(|b| runs[b].spec.alpha.to_string()).unwrap_or_else(|| "all diverged".into()));
        }
    }

    if !rep.sensitivity.is_empty() {
        let _ = writeln!(s, "\n## Sensitivity to α: final test accuracy / examples to {tp} %\n");
        let _ = writeln!(s, "CABS against fixed batch sizes, every one at the same constant α (not tuned).\n");
        let mut head = String::from("| α | CABS |");
        let mut sep = String::from("| ---: | ---: |");
        for m in &env.sens_batches {
            let _ = write!(head, " m = {m} |");
            sep.push_str(" ---: |");
        }
        let _ = writeln!(s, "{head}\n{sep}");
        for (alpha, c, fixed) in &rep.sensitivity {
            let cell = |r: &Run| format!("{} / {}", acc_cell(r), to_target_cell(r, t));
            let _ = write!(s, "| {alpha} | {} |", cell(&runs[*c]));
            for &i in fixed {
                let _ = write!(s, " {} |", cell(&runs[i]));
            }
            s.push('\n');
        }
    }

    let _ = writeln!(s, "\n## Figures\n");
    for (f, what) in [
        ("loss_vs_examples", "smoothed training loss against training examples"),
        ("accuracy_vs_examples", "test accuracy against training examples"),
        ("loss_vs_time", "smoothed training loss against training time"),
        ("accuracy_vs_time", "test accuracy against training time"),
        ("batch_vs_steps", "batch size against steps"),
        ("sensitivity", "final test accuracy and examples to target against α"),
        ("conv_xi", "the conv layers' ξ, exact vs approximate (with --conv-norms both)"),
    ] {
        let _ = writeln!(s, "- {what}: [`figures/{f}.svg`](figures/{f}.svg)");
    }
    let _ = writeln!(
        s,
        "\nPer-step logs: `runs/<label>.csv` (the columns of `cabs train --csv`, plus `train_ms`, training time without evaluations); \
one row per run in `all_runs.csv`, the main comparison in `summary.csv`."
    );
    s
}

// ---------------------------------------------------------------------------------------------
// Figures

fn style_of(spec: &RunSpec, o: &Options) -> Style {
    let batches = &o.batches;
    match spec.kind {
        Kind::Cabs if spec.alpha == o.cabs_alpha => Style::cabs(),
        Kind::Cabs => Style::cabs_other(o.sensitivity.iter().filter(|&&a| a < spec.alpha && a != o.cabs_alpha).count()),
        Kind::Fixed { m } => Style::fixed(batches.iter().position(|&b| b == m).unwrap_or(0), false),
        Kind::Decay { m, .. } => Style::fixed(batches.iter().position(|&b| b == m).unwrap_or(0), true),
    }
}

fn figures(dir: &Path, runs: &[Run], rep: &Report, o: &Options, env: &Env) -> Result<(), String> {
    let main: Vec<usize> = rep.reported().into_iter().map(|(i, _)| i).collect();
    let st = |r: &Run| style_of(&r.spec, o);
    let legend = |ids: &[usize]| -> Vec<LegendEntry> {
        ids.iter().map(|&i| LegendEntry { label: runs[i].spec.legend(), style: st(&runs[i]) }).collect()
    };
    let smooth_note = format!(
        "Training loss: mean batch loss over the trailing {} training examples (each batch weighted by its size). Same budget ({} examples) and seed for every run.",
        env.window, env.budget
    );
    let curves: Vec<Vec<(f64, f64, f64)>> = runs.iter().map(|r| smoothed_curve(&r.steps, env.window, 300)).collect();
    let series = |ids: &[usize], f: &dyn Fn(usize) -> Vec<(f64, f64)>, markers: bool| -> Vec<Series> {
        ids.iter().map(|&i| Series { style: st(&runs[i]), points: f(i), markers }).collect()
    };
    let title_env = format!("{} · {} · seed {}", env.model, env.data.split(' ').next().unwrap_or(""), env.seed);
    let acc_note = format!("Test accuracy at the evaluations (about every {} examples).", env.eval_every);

    let loss_ex = series(&main, &|i| curves[i].iter().map(|&(x, _, l)| (x, l)).collect(), false);
    plot::figure(
        &dir.join("loss_vs_examples.svg"),
        &format!("Training loss vs examples — {title_env}"),
        &[Panel {
            x_label: "training examples".into(),
            y_label: "training loss (smoothed)".into(),
            x_log: false,
            y_log: true,
            series: loss_ex,
            y_range: None,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &smooth_note,
    )?;
    let acc_ex = series(&main, &|i| runs[i].evals.iter().map(|e| (e.examples as f64, e.test_accuracy)).collect(), true);
    plot::figure(
        &dir.join("accuracy_vs_examples.svg"),
        &format!("Test accuracy vs examples — {title_env}"),
        &[Panel {
            x_label: "training examples".into(),
            y_label: "test accuracy".into(),
            x_log: false,
            y_log: false,
            y_range: accuracy_range(&acc_ex),
            series: acc_ex,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &acc_note,
    )?;
    let loss_t = series(&main, &|i| curves[i].iter().map(|&(_, t, l)| (t, l)).collect(), false);
    plot::figure(
        &dir.join("loss_vs_time.svg"),
        &format!("Training loss vs time — {title_env}"),
        &[Panel {
            x_label: "training time [s] (log scale, evaluations excluded)".into(),
            y_label: "training loss (smoothed)".into(),
            x_log: true,
            y_log: true,
            series: loss_t,
            y_range: None,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &format!("{smooth_note} Engine: {}.", env.engine),
    )?;
    let acc_t = series(&main, &|i| runs[i].evals.iter().map(|e| (e.train_s, e.test_accuracy)).collect(), true);
    plot::figure(
        &dir.join("accuracy_vs_time.svg"),
        &format!("Test accuracy vs time — {title_env}"),
        &[Panel {
            x_label: "training time [s] (log scale, evaluations excluded)".into(),
            y_label: "test accuracy".into(),
            x_log: true,
            y_log: false,
            y_range: accuracy_range(&acc_t),
            series: acc_t,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &format!("{acc_note} Engine: {}.", env.engine),
    )?;
    // Batch sizes: every CABS run (the sensitivity α too: the batch scales with α) and the
    // best fixed runs as reference lines.
    let mut ids: Vec<usize> = rep.cabs.into_iter().collect();
    for (_, c, _) in &rep.sensitivity {
        if !ids.contains(c) {
            ids.push(*c);
        }
    }
    ids.extend(rep.best_fixed.iter().copied());
    let batch = series(&ids, &|i| thin(runs[i].steps.iter().map(|s| (s.step as f64, s.batch as f64)).collect(), 400), false);
    plot::figure(
        &dir.join("batch_vs_steps.svg"),
        &format!("Batch size vs steps — {title_env}"),
        &[Panel {
            x_label: "step (log scale)".into(),
            y_label: "batch size m (log scale)".into(),
            x_log: true,
            y_log: true,
            series: batch,
            y_range: None,
            x_ticks: None,
            y_ticks: Some((0..16).map(|k| f64::from(1u32 << k)).collect()),
        }],
        &legend(&ids),
        "The batch size each step used. CABS: m = α·ξ̄/ℒ̄, rounded and clipped; fixed-batch runs for reference.",
    )?;
    // The conv layers' ξ, exact against the reference approximation, on the CABS run's batches.
    if let Some(c) = rep.cabs.filter(|&c| runs[c].steps.iter().any(|s| s.conv_xi.is_some())) {
        let xi: Vec<(f64, f64, f64)> =
            runs[c].steps.iter().filter_map(|s| s.conv_xi.map(|(e, a)| (s.step as f64, e, a))).filter(|p| p.1 > 0.0 && p.2 > 0.0).collect();
        // Per-step values are noisy: a centred moving average over 25 steps.
        let smooth = |f: &dyn Fn(&(f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
            (0..xi.len())
                .map(|i| {
                    let w = &xi[i.saturating_sub(12)..(i + 13).min(xi.len())];
                    (xi[i].0, w.iter().map(f).sum::<f64>() / w.len() as f64)
                })
                .collect()
        };
        let exact = Style::cabs();
        let approx = Style { colour: RGBColor(213, 94, 0), width: 2, dash: Some((8, 5)), z: 2 };
        let ratio = Style { colour: RGBColor(0, 114, 178), width: 2, dash: None, z: 2 };
        let one = Style { colour: RGBColor(150, 150, 150), width: 1, dash: Some((3, 3)), z: 1 };
        let last = xi.last().map_or(1.0, |p| p.0);
        plot::figure(
            &dir.join("conv_xi.svg"),
            &format!("Conv layers' ξ: exact vs the reference approximation — CABS α = {}, {title_env}", runs[c].spec.alpha),
            &[
                Panel {
                    x_label: "step".into(),
                    y_label: "ξ of the conv filters and biases (log scale)".into(),
                    x_log: false,
                    y_log: true,
                    series: vec![
                        Series { style: exact.clone(), points: smooth(&|p| p.1), markers: false },
                        Series { style: approx.clone(), points: smooth(&|p| p.2), markers: false },
                    ],
                    y_range: None,
                    x_ticks: None,
                    y_ticks: None,
                },
                Panel {
                    x_label: "step".into(),
                    y_label: "approximate / exact (log scale)".into(),
                    x_log: false,
                    y_log: true,
                    series: vec![
                        Series { style: one.clone(), points: vec![(1.0, 1.0), (last, 1.0)], markers: false },
                        Series { style: ratio.clone(), points: smooth(&|p| p.2 / p.1), markers: false },
                    ],
                    y_range: None,
                    x_ticks: None,
                    y_ticks: None,
                },
            ],
            &[
                LegendEntry { label: "exact (Σ over conv tensors)".into(), style: exact },
                LegendEntry { label: "reference approximation".into(), style: approx },
                LegendEntry { label: "ratio approx / exact".into(), style: ratio },
            ],
            "Both computed on the same batches of the CABS run (--conv-norms both); exact drives the rule. Centred 25-step moving averages.",
        )?;
    }
    // Sensitivity: one series per rule over the α list.
    let mut acc_series = Vec::new();
    let mut ex_series = Vec::new();
    let mut entries = Vec::new();
    if !rep.sensitivity.is_empty() {
        let ncol = rep.sensitivity[0].2.len() + 1;
        for col in 0..ncol {
            let pick = |row: &(f64, usize, Vec<usize>)| if col == 0 { row.1 } else { row.2[col - 1] };
            let first = &runs[pick(&rep.sensitivity[0])];
            let style = if col == 0 { Style::cabs() } else { st(first) };
            let label = match first.spec.kind {
                Kind::Cabs => "CABS".to_string(),
                _ => format!("m={}", first.spec.batch().unwrap_or(0)),
            };
            acc_series.push(Series {
                style: style.clone(),
                points: rep.sensitivity.iter().filter_map(|row| Some((row.0, runs[pick(row)].final_accuracy()?))).collect(),
                markers: true,
            });
            ex_series.push(Series {
                style: style.clone(),
                points: rep.sensitivity.iter().filter_map(|row| Some((row.0, runs[pick(row)].examples_to(env.target)?))).collect(),
                markers: true,
            });
            entries.push(LegendEntry { label, style });
        }
    }
    plot::figure(
        &dir.join("sensitivity.svg"),
        &format!("Sensitivity to α (same α for all, not tuned) — {title_env}"),
        &[
            Panel {
                x_label: "learning rate α (log scale)".into(),
                y_label: "final test accuracy".into(),
                x_log: true,
                y_log: false,
                y_range: accuracy_range(&acc_series),
                series: acc_series,
                x_ticks: Some(o.sensitivity.clone()),
                y_ticks: None,
            },
            Panel {
                x_label: "learning rate α (log scale)".into(),
                y_label: format!("examples to {} % test accuracy", env.target * 100.0),
                x_log: true,
                y_log: false,
                series: ex_series,
                y_range: Some((0.0, env.budget as f64)),
                x_ticks: Some(o.sensitivity.clone()),
                y_ticks: None,
            },
        ],
        &entries,
        "Right: a missing point means the run never reached the target within the budget (or diverged).",
    )?;
    Ok(())
}

/// A y range for accuracies: the data padded by 4 %, at least 0.05 wide (so that differences
/// of a few test examples do not fill the plot), within [0, 1].
fn accuracy_range(series: &[Series]) -> Option<(f64, f64)> {
    let v = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|a| a.is_finite());
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| (l.min(a), h.max(a)));
    if lo > hi {
        return None;
    }
    let pad = ((hi - lo) * 0.04).max((0.05 - (hi - lo)) / 2.0);
    let (mut lo, mut hi) = (lo - pad, hi + pad);
    // Shift, not clip, at the ends of [0, 1], so that the span is kept.
    if lo < 0.0 {
        hi = (hi - lo).min(1.0);
        lo = 0.0;
    }
    if hi > 1.0 {
        lo = (lo - (hi - 1.0)).max(0.0);
        hi = 1.0;
    }
    Some((lo, hi))
}

/// At most about `n` points, keeping the first and last and every point where y changes.
fn thin(points: Vec<(f64, f64)>, n: usize) -> Vec<(f64, f64)> {
    if points.len() <= n {
        return points;
    }
    let every = points.len().div_ceil(n);
    let last = points.len() - 1;
    points.iter().enumerate().filter(|&(i, p)| i == 0 || i == last || i % every == 0 || p.1 != points[i - 1].1).map(|(_, p)| *p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(acc: Option<f64>, loss: Option<f64>) -> Candidate {
        Candidate { accuracy: acc, train_loss: loss }
    }

    #[test]
    fn best_alpha_by_accuracy_then_loss_then_order() {
        assert_eq!(best_candidate(&[c(Some(0.9), Some(0.3)), c(Some(0.95), Some(0.5)), c(Some(0.93), Some(0.1))]), Some(1));
        // A tie in accuracy goes to the lower training loss …
        assert_eq!(best_candidate(&[c(Some(0.95), Some(0.3)), c(Some(0.95), Some(0.2)), c(Some(0.9), Some(0.1))]), Some(1));
        // … and a full tie to the first (smaller α).
        assert_eq!(best_candidate(&[c(Some(0.95), Some(0.2)), c(Some(0.95), Some(0.2))]), Some(0));
        // A missing training loss loses a tie.
        assert_eq!(best_candidate(&[c(Some(0.95), None), c(Some(0.95), Some(9.0))]), Some(1));
        // Diverged runs (no accuracy, or NaN) never win, even when first.
        assert_eq!(best_candidate(&[c(None, None), c(Some(0.5), Some(1.0)), c(Some(f64::NAN), Some(0.1))]), Some(1));
        assert_eq!(best_candidate(&[c(None, None), c(None, Some(0.1))]), None);
        assert_eq!(best_candidate(&[]), None);
    }

    #[test]
    fn first_crossing_interpolates_between_the_bracketing_evaluations() {
        let p = [(100.0, 0.5), (200.0, 0.8), (300.0, 0.9), (400.0, 0.85), (500.0, 0.99)];
        // 0.85 lies halfway between 0.8 (200) and 0.9 (300).
        assert!((first_crossing(&p, 0.85).unwrap() - 250.0).abs() < 1e-9);
        // Exactly on an evaluation.
        assert!((first_crossing(&p, 0.9).unwrap() - 300.0).abs() < 1e-9);
        // The first crossing counts, not a later one after a dip.
        assert!((first_crossing(&p, 0.88).unwrap() - 280.0).abs() < 1e-9);
        // Reached at the first evaluation: nothing before it to interpolate from.
        assert_eq!(first_crossing(&p, 0.4), Some(100.0));
        assert_eq!(first_crossing(&p, 0.995), None);
        assert_eq!(first_crossing(&[], 0.5), None);
        // A NaN before the crossing does not poison it.
        assert_eq!(first_crossing(&[(1.0, f64::NAN), (2.0, 0.9)], 0.8), Some(2.0));
    }

    fn steps(b: &[(u32, f64)]) -> Vec<StepPoint> {
        let mut ex = 0;
        b.iter()
            .enumerate()
            .map(|(i, &(m, l))| {
                ex += m as u64;
                StepPoint { step: i as u64 + 1, examples: ex, batch: m, loss: l, train_s: i as f64, conv_xi: None }
            })
            .collect()
    }

    #[test]
    fn smoothed_loss_weights_batches_by_size() {
        let s = steps(&[(10, 4.0), (10, 2.0), (30, 1.0)]);
        // Window 40 at 50 examples: steps ending after 10 examples → the last two.
        assert!((smoothed_loss_at(&s, 2, 50, 40).unwrap() - (10.0 * 2.0 + 30.0) / 40.0).abs() < 1e-12);
        // A window smaller than the last batch still holds that batch.
        assert_eq!(smoothed_loss_at(&s, 2, 50, 1), Some(1.0));
        assert!((smoothed_loss_at(&s, 2, 50, 1000).unwrap() - 90.0 / 50.0).abs() < 1e-12);
        let nan = steps(&[(10, f64::NAN), (10, 1.0)]);
        assert_eq!(smoothed_loss_at(&nan, 1, 20, 100), None);
        let curve = smoothed_curve(&s, 10, 4);
        assert_eq!(curve.first().map(|p| p.0), Some(10.0));
        assert_eq!(curve.last().map(|p| p.0), Some(50.0));
    }

    #[test]
    fn run_summaries() {
        let mut run = Run {
            spec: RunSpec { kind: Kind::Fixed { m: 10 }, alpha: 0.1 },
            diverged: None,
            steps: steps(&[(10, 1.0), (20, 1.0), (30, 1.0), (40, 1.0)]),
            evals: vec![EvalPoint { examples: 100, train_s: 3.0, test_loss: 0.5, test_accuracy: 0.9 }],
            wall_s: 1.0,
            extra: Vec::new(),
            roles: Vec::new(),
        };
        assert_eq!(run.batch_at(0.25), Some(10));
        assert_eq!(run.batch_at(0.5), Some(20));
        assert_eq!(run.batch_at(0.75), Some(30));
        assert_eq!(run.batch_at(1.0), Some(40));
        assert_eq!(run.final_accuracy(), Some(0.9));
        run.diverged = Some("diverged".into());
        assert_eq!(run.final_accuracy(), None);
        assert_eq!(run.final_train_loss(10), None);
        assert_eq!(run.status(), "diverged at step 5");
    }

    #[test]
    fn labels_rules_and_parsing() {
        let d = RunSpec { kind: Kind::Decay { m: 64, k: invtime_k(64, 200_000) }, alpha: 0.2 };
        assert_eq!(d.label(), "const-m64-a0.2-invtime");
        assert_eq!(d.rule(), "const:64:invtime:0.00064");
        assert_eq!(invtime_k(256, 6000), 0.0853333);
        // α halves after budget/(2m) steps (here 2000).
        let half = RunSpec { kind: Kind::Decay { m: 64, k: invtime_k(64, 256_000) }, alpha: 0.2 };
        let rule = cabs::cabs::parse_rule(&half.rule(), Default::default()).unwrap();
        if let cabs::cabs::Rule::Constant { schedule, .. } = rule {
            assert!((schedule.lr_at(0.2, 2000) - 0.1).abs() < 1e-12);
        } else {
            panic!("not a constant rule");
        }
        assert_eq!(RunSpec { kind: Kind::Cabs, alpha: 0.1 }.label(), "cabs-a0.1");
        assert_eq!(RunSpec { kind: Kind::Fixed { m: 16 }, alpha: 0.05 }.label(), "const-m16-a0.05");
        assert_eq!(parse_alphas("0.2, 0.1,0.1", "--alphas").unwrap(), vec![0.1, 0.2]);
        assert!(parse_alphas("0.1,x", "--alphas").unwrap_err().contains("--alphas"));
        assert!(parse_alphas("0", "--alphas").is_err());
        assert!(parse_alphas("", "--alphas").is_err());
        assert_eq!(parse_batches("64,16").unwrap(), vec![16, 64]);
        assert!(parse_batches("16,0").unwrap_err().contains("--batches"));
        assert_eq!(sensitivity_batches(&[16, 32, 64, 128, 256]), vec![16, 64, 256]);
        assert_eq!(sensitivity_batches(&[32]), vec![32]);
        assert_eq!(Parts::parse("cabs,decay").unwrap(), Parts { cabs: true, fixed: false, decay: true, sensitivity: false });
        assert!(Parts::parse("cabs,bogus").is_err());
        assert_eq!(thin((0..1000).map(|i| (i as f64, 1.0)).collect(), 100).len(), 101);
        let acc = |pts: &[f64]| {
            accuracy_range(&[Series { style: Style::cabs(), points: pts.iter().map(|&a| (1.0, a)).collect(), markers: false }])
        };
        let (lo, hi) = acc(&[0.898, 0.9035]).unwrap();
        assert!((hi - lo - 0.05).abs() < 1e-12 && lo < 0.898 && hi > 0.9035);
        let (lo, hi) = acc(&[0.99, 1.0]).unwrap();
        assert!((lo - 0.95).abs() < 1e-12 && hi == 1.0);
        let (lo, hi) = acc(&[0.2, 0.9]).unwrap();
        assert!((lo - 0.172).abs() < 1e-12 && (hi - 0.928).abs() < 1e-12);
        assert_eq!(acc(&[]), None);
    }
}
