//! The flags of `cabs reproduce`: parts, α and batch lists, budgets, and the flags of `train`
//! that mean nothing here.

use crate::error::{CliError, CliResult};
use std::path::PathBuf;

/// The default `--model` of `reproduce`: the first entry the library's model parser accepts.
/// `cnn-mnist` (the paper's 2conv+2dense MNIST net) is tried first, so it becomes the default
/// as soon as the library knows it; until then `mlp:256`. To pin one model, leave one entry.
/// (The HELP text in args.rs names this list too.)
pub const DEFAULT_MODELS: &[&str] = &["cnn-mnist", "mlp:256"];
/// Where results go without `--out`: a fixed folder outside docs/ (git-ignored), so that a
/// reproduction never overwrites the committed set unless `--out` names it, and `--resume`
/// finds the runs again.
pub const DEFAULT_OUT: &str = "out/reproduction";
/// Training examples per run, normally and with `--quick`.
pub const DEFAULT_EXAMPLES: u64 = 200_000;
pub const QUICK_EXAMPLES: u64 = 6_000;
/// Evaluations per run when `--eval-every-examples` is not given, normally and with `--quick`
/// (an evaluation passes the whole test set: with a small budget it would dominate the time).
pub const EVALS_PER_RUN: u64 = 40;
pub const QUICK_EVALS_PER_RUN: u64 = 10;
/// Evaluations per run of a steps budget when `--eval-every-steps` is not given: every 1 % of
/// the steps (docs/STUDY.md's schedule).
pub const EVALS_PER_STEPS_RUN: u64 = 100;
/// Minutes of wall time between two checkpoints of a run (`--checkpoint-every-minutes`): a
/// killed run loses at most this much work.
pub const CHECKPOINT_EVERY_MINUTES: u64 = 10;
/// For tests: the process saves a run's checkpoint after this many steps and exits at once, as if
/// it had been killed there (exit code [`STOPPED_EXIT`]). Not a user's flag.
pub const STOP_AFTER_ENV: &str = "CABS_REPRODUCE_STOP_AFTER_STEPS";
pub const STOPPED_EXIT: i32 = 75;
/// The training loss is smoothed over a trailing window of budget/SMOOTH_DIVISOR examples.
pub const SMOOTH_DIVISOR: u64 = 50;
/// Flags of `train` and `bench` that mean nothing here, with what to use instead.
pub(super) const NOT_HERE: &[(&str, &str)] = &[
    ("rule", "the rules are fixed by the experiment; see --only"),
    ("lr", "use --cabs-alpha, --alphas and --sensitivity"),
    ("eval-every", "use --eval-every-examples, or --eval-every-steps with --steps"),
    ("checkpoint", "every run saves OUT/runs/<label>.ckpt as it trains; see --checkpoint-every-minutes"),
    ("checkpoint-every", "use --checkpoint-every-minutes"),
    ("checkpoint-every-steps", "use --checkpoint-every-minutes"),
    ("resume-from", "a killed run continues from OUT/runs/<label>.ckpt with --resume or --run LABEL"),
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
    /// The comparison set of `--rules`, each at every α of `--alphas`.
    pub rules: bool,
}

impl Parts {
    pub const ALL: Parts = Parts { cabs: true, fixed: true, decay: true, sensitivity: true, rules: true };

    pub fn parse(s: &str) -> CliResult<Parts> {
        let mut p = Parts { cabs: false, fixed: false, decay: false, sensitivity: false, rules: false };
        for part in s.split(',').map(str::trim) {
            match part {
                "cabs" => p.cabs = true,
                "fixed" => p.fixed = true,
                "decay" => p.decay = true,
                "sensitivity" => p.sensitivity = true,
                "rules" => p.rules = true,
                "all" => p = Parts::ALL,
                _ => return Err(CliError::usage(format!("--only: unknown part '{part}' (use cabs, fixed, decay, sensitivity, rules)"))),
            }
        }
        Ok(p)
    }
}

/// How the best α of a grid row (a fixed batch size, a rule of `--rules`) is chosen, over the
/// mean of its seeds; a group that diverged in any seed never wins, ties go to the smaller α.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectBy {
    /// The highest final test accuracy, ties by the lower smoothed training loss (the pilot's).
    Accuracy,
    /// The lowest loss on the fixed training subset at the run's last evaluation (the study's
    /// tuning protocol, docs/STUDY.md): `train_subset_loss`.
    TrainSubsetLoss,
}

impl SelectBy {
    pub fn parse(s: &str) -> Result<SelectBy, String> {
        [SelectBy::Accuracy, SelectBy::TrainSubsetLoss]
            .into_iter()
            .find(|b| b.flag() == s)
            .ok_or_else(|| format!("--select-by takes accuracy or train-subset-loss, got '{s}'"))
    }

    /// The value of `--select-by` that names it (also best_alpha.csv's `selected_by`).
    pub fn flag(self) -> &'static str {
        match self {
            SelectBy::Accuracy => "accuracy",
            SelectBy::TrainSubsetLoss => "train-subset-loss",
        }
    }

    /// The criterion in words, for results.md.
    pub fn words(self) -> &'static str {
        match self {
            SelectBy::Accuracy => "the highest final test accuracy (mean over the seeds), ties by the lower smoothed training loss",
            SelectBy::TrainSubsetLoss => {
                "the lowest loss on the fixed 10,000-digit training subset at the last evaluation (`train_subset_loss`, mean over the seeds)"
            }
        }
    }
}

/// The flags of `cabs reproduce` (the run options come from [`Args`]).
#[derive(Clone, Debug)]
pub struct Options {
    pub out: PathBuf,
    pub eval_every_examples: Option<u64>,
    /// `--eval-every-steps K`, with `--steps`.
    pub eval_every_steps: Option<u64>,
    /// `--checkpoint-every-minutes M` (None: [`CHECKPOINT_EVERY_MINUTES`]).
    pub checkpoint_every_minutes: Option<u64>,
    pub target_accuracy: f64,
    /// `--select-by`: how the best α of a grid row is chosen.
    pub select_by: SelectBy,
    pub cabs_alpha: f64,
    pub alphas: Vec<f64>,
    pub batches: Vec<u32>,
    pub sensitivity: Vec<f64>,
    /// Seeds per run: `--seed`, `--seed`+1, ….
    pub seeds: u64,
    pub quick: bool,
    pub only: Parts,
    /// Runs trained at a time.
    pub jobs: usize,
    /// Reuse complete run CSVs found in `OUT/runs` whose record matches these flags.
    pub resume: bool,
    /// `--rules`: the comparison set, any `--rule` strings (checked by the library's parser).
    pub rules: Vec<String>,
    /// `--emit-jobs FILE`: write one command per run instead of training.
    pub emit_jobs: Option<PathBuf>,
    /// `--run LABEL`: train (or find complete) that one run of the grid, and nothing else.
    pub run: Option<String>,
    /// `--assemble-only`: build the tables from the runs in `OUT/runs`; refuse if one is missing.
    pub assemble_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            out: PathBuf::from(DEFAULT_OUT),
            eval_every_examples: None,
            eval_every_steps: None,
            checkpoint_every_minutes: None,
            target_accuracy: 0.97,
            select_by: SelectBy::Accuracy,
            cabs_alpha: 0.1,
            alphas: vec![0.05, 0.1, 0.2, 0.5],
            batches: vec![16, 32, 64, 128, 256],
            sensitivity: vec![0.05, 0.1, 0.2, 0.5, 1.0],
            seeds: 1,
            quick: false,
            only: Parts::ALL,
            jobs: 1,
            resume: false,
            rules: Vec::new(),
            emit_jobs: None,
            run: None,
            assemble_only: false,
        }
    }
}

/// A comma-separated list of positive learning rates, sorted, duplicates dropped; each item
/// as [`parse_alpha`] takes it.
pub fn parse_alphas(s: &str, flag: &str) -> CliResult<Vec<f64>> {
    let mut v = Vec::new();
    for item in s.split(',').map(str::trim) {
        v.push(parse_alpha(item, flag)?);
    }
    v.sort_by(f64::total_cmp);
    v.dedup();
    Ok(v)
}

/// One α as a flag gives it (`--lr`, `--cabs-alpha`, an item of `--alphas`): a number, then the
/// library's one check of an α ([`cabs::settings::LearningRate::new`]: positive, finite and
/// normal as the engines' 32-bit float). A refusal names the flag and quotes the text as given
/// (`'1e39'`, not the number it parses to), with the library's reason.
pub fn parse_alpha(given: &str, flag: &str) -> CliResult<f64> {
    let Ok(a) = given.trim().parse::<f64>() else {
        return Err(CliError::usage(format!("{flag}: '{given}' is not a positive number (e.g. {flag} 0.1)")));
    };
    match cabs::settings::LearningRate::new(a) {
        Ok(lr) => Ok(lr.get()),
        Err(cabs::CabsError::Config(why)) => Err(CliError::usage(format!("{flag}: '{given}': {why} (e.g. {flag} 0.1)"))),
        Err(e) => Err(CliError::from(e).context(&format!("{flag} '{given}'"))),
    }
}

/// `--rules`: comma-separated rule strings, as `--rule` takes them, duplicates dropped, in the
/// order given (the first is the one the others are compared with). Each is checked by the
/// library's rule parser later, with the run's other settings; here only empty items are refused.
pub fn parse_rules(s: &str) -> CliResult<Vec<String>> {
    let mut v: Vec<String> = Vec::new();
    for item in s.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(CliError::usage(format!("--rules: '{s}' has an empty item (e.g. --rules cabs,const:64)")));
        }
        if !v.iter().any(|r| r == item) {
            v.push(item.to_string());
        }
    }
    Ok(v)
}

/// A comma-separated list of batch sizes ≥ 1, sorted, duplicates dropped.
pub fn parse_batches(s: &str) -> CliResult<Vec<u32>> {
    let mut v = Vec::new();
    for item in s.split(',').map(str::trim) {
        match item.parse::<u32>() {
            Ok(m) if m >= 1 => v.push(m),
            _ => return Err(CliError::usage(format!("--batches: '{item}' is not a batch size ≥ 1 (e.g. --batches 16,64,256)"))),
        }
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// The first of [`DEFAULT_MODELS`] that the library accepts with these settings.
pub(super) fn default_model(s: &cabs::settings::Settings) -> String {
    for m in DEFAULT_MODELS {
        let t = cabs::settings::Settings { model: m.to_string(), ..s.clone() };
        if t.trainer_config().is_ok() {
            return m.to_string();
        }
    }
    DEFAULT_MODELS.last().copied().unwrap_or("mlp:256").to_string()
}
