//! Command-line parsing (with `lexopt`, so that every error is ours to phrase in one line): the
//! help text, [`Args`] (everything the subcommands need) and the thread count of the CPU engine.
//! Not here: loading the data set `--data` names (`dataset.rs`), dispatching to the subcommands
//! (`main.rs`), which import this module and are never imported by it.

use crate::error::{CliError, CliResult};
use cabs::settings::Settings;
use std::ffi::OsString;
use std::path::PathBuf;

pub const HELP: &str = "\
cabs — CABS (adaptive batch sizes coupled to the learning rate) on the GPU

USAGE:
  cabs train [OPTIONS]     train and log every step
  cabs bench [OPTIONS]     cost of the CABS statistics: step time with ξ / without
  cabs reproduce [OPTIONS] the paper's comparisons: CSVs, SVG figures, a Markdown table
  cabs study --out DIR     the paper-scale study's sets (scripts/study.sh) paired by seed:
                           DIR/study.md and DIR/study.csv (docs/STUDY.md)
  cabs plan [OPTIONS]      the step plan of a model: ops, buffers, chunk and memory
  cabs gpu                 show the GPU adapter wgpu finds

RUN OPTIONS (train, bench and reproduce):
  --data NAME          mnist | mnist-full | fashion-mnist | spirals | moons | blobs  [mnist]
                       | idx:TRAIN_IMAGES,TRAIN_LABELS[,TEST_IMAGES,TEST_LABELS] (raw or .gz)
                       | cifar10:DIR (data_batch_1…5.bin, test_batch.bin)
                       mnist: the bundled 8,000 + 2,000 digits of the page; mnist-full,
                       fashion-mnist: 60,000 + 10,000 each (bash scripts/fetch-data.sh)
  --mnist-bundle PATH  the MNIST bundle file    [found as below, like mnist-full]
  --model SPEC         logreg | mlp:H1[,H2…][:tanh]                     [mlp:256]
                       | cnn-mnist | cnn-cifar | cnn-small (image data only)
  --rule RULE          cabs | const:M | const:M:step:EVERY:FACTOR | const:M:invtime:K  [cabs]
                       | norm:THETA | inner:THETA | gns[:K] | adadamp:M0
                       | grow:M0:EVERY:FACTOR (docs/METHOD.md, \"The other rules\")
  --lr ALPHA           learning rate α                                  [0.5]
  --m-min N, --m-max N batch-size bounds of the adaptive rules          [16, 2048]
  --mu MU              decay of the running averages                    [0.95]
  --c C, --eps EPS     m = c·α·ξ̄/(ℒ̄+ε)                                  [1, 0]
  --unbiased           use ξ·m/(m−1) instead of the biased ξ
  --bias-correction    bias-corrected running averages (both start at 0)
  --seed N             initial weights, data order, generated data      [1]
  --backend KIND       auto | gpu | cpu                                 [auto]
                       auto: a hardware GPU if there is one; on a software adapter
                       (lavapipe) the faster engine on a few timed steps; no GPU: CPU
  --conv-norms HOW     exact | both (also the reference code's approximation, logged
                       as conv_xi_approx) | reference (the approximation drives ξ)  [exact]
  --chunk N            examples per chunk: a step of batch m runs as ⌈m/N⌉ chunks
                       [automatic: from the GPU's limits or the CPU memory budget]
  --threads N          threads of the CPU engine; results are the same for every N
                       [all cores; in reproduce: all cores / --jobs]

TRAIN OPTIONS:
  --steps N            number of SGD steps                              [500]
  --examples N         stop after N training examples instead
  --eval-every K       test loss/accuracy every K steps (and at the end)  [0: end only]
  --csv PATH           one row per step (header: see README)
  --dump-step N        write a JSON probe of step N …
  --dump PATH          … to PATH
  --quiet              no progress bar
  --checkpoint FILE    save the run state to FILE (atomically) every --checkpoint-every
                       seconds of wall time and at the end of the run
  --checkpoint-every S seconds between checkpoints                      [300]
  --checkpoint-every-steps N  also a checkpoint after every N-th step (repeatable runs, tests)
  --resume-from FILE   continue the run saved in FILE (same data, model, rule, seed, α…;
                       --steps/--examples is the run's whole budget); --csv is appended to,
                       cut back to the checkpoint's step if the killed run wrote past it

BENCH OPTIONS:
  --batch M            batch size                                       [256]
  --steps N            timed steps per variant                          [100]
  --vs-chunk N         compare chunks of N against one chunk per step (instead of
                       with ξ against without)
  --vs-threads N       compare --threads against N threads (CPU engine), same steps
  --vs-rule RULE       compare RULE against cabs, both pinned to --batch
                       (--m-min = --m-max = M): the rule's own cost per step

REPRODUCE OPTIONS (every run gets the same budget of training examples, or of steps):
  --out DIR            output folder (the committed set: docs/reproduction)  [out/reproduction]
  --examples N         training examples per run            [200000; --quick: 6000]
  --eval-every-examples N  test loss/accuracy every ~N examples [budget/40; --quick: /10]
  --steps N            every run stops after N steps instead (not with --examples);
                       assembling such a set prints B, the CABS runs' mean examples
  --eval-every-steps K test loss/accuracy every K steps, with --steps   [N/100]
  --checkpoint-every-minutes M  save each run's state to runs/<label>.ckpt every M
                       minutes; --resume or --run continues a killed run from it  [10]
  --target-accuracy A  for the \"examples to reach A\" column         [0.97]
  --select-by HOW      how each grid row's best α is chosen: accuracy (final test accuracy,
                       ties by training loss) | train-subset-loss (lowest loss on the fixed
                       training subset at the last evaluation: docs/STUDY.md)  [accuracy]
  --cabs-alpha A       α of the CABS run                                [0.1]
  --alphas LIST        α grid tuned for each fixed batch    [0.05,0.1,0.2,0.5]
  --batches LIST       fixed batch sizes                   [16,32,64,128,256]
  --sensitivity LIST   α values for CABS vs fixed m  [0.05,0.1,0.2,0.5,1]
  --seeds N            seeds per run: --seed, --seed+1, … (initial weights and
                       data order; the same for every rule within a seed)   [1]
  --only PARTS         subset of cabs,fixed,decay,sensitivity,rules    [all]
  --rules LIST         a comparison set of --rule strings (e.g. cabs,const:64), each
                       at every α of --alphas, the same seeds and budget; best α each
  --jobs N             train N runs at a time (same results, one engine each)  [1]
  --resume             reuse the complete runs/<label>.csv files already in --out whose
                       runs/<label>.json record matches these flags (a mismatch is refused)
  --emit-jobs FILE     write one command per run to FILE (for GNU parallel, a Slurm
                       array…) instead of training; then --resume assembles
  --run LABEL          train only that run of the grid (what each job line does)
  --assemble-only      build the tables from the runs in --out; refuse if one is missing
  --quick              small budget, fewer evaluations: a smoke test
  --model default here: cnn-mnist if the library has it, else mlp:256

WHERE NAMED DATA IS FOUND (mnist, mnist-full, fashion-mnist), from any working directory:
  $CABS_DATA_DIR, if set, and only there: $CABS_DATA_DIR/mnist.bin,
      $CABS_DATA_DIR/mnist-full/, $CABS_DATA_DIR/fashion-mnist/
  else the repository the binary is in (two levels above target/release/cabs), then the
      current directory: www/data/mnist.bin (bash scripts/setup.sh), data/mnist-full/ and
      data/fashion-mnist/ (bash scripts/fetch-data.sh; it fills $CABS_DATA_DIR when set)
";

/// Everything the subcommands need.
pub struct Args {
    pub settings: Settings,
    /// `--mnist-bundle PATH` (relative to the working directory); absent: found by name (see
    /// [`cabs::data::named`]).
    pub mnist_bundle: Option<PathBuf>,
    pub steps: Option<u64>,
    pub examples: Option<u64>,
    pub eval_every: u64,
    pub csv: Option<PathBuf>,
    pub dump_step: Option<u64>,
    pub dump: Option<PathBuf>,
    pub quiet: bool,
    /// `cabs train --checkpoint FILE`: where the run state is saved.
    pub checkpoint: Option<PathBuf>,
    /// `--checkpoint-every SECONDS` of wall time (None: the default, 300 s).
    pub checkpoint_every: Option<u64>,
    /// `--checkpoint-every-steps N`: a checkpoint after every N-th step, for repeatable runs.
    pub checkpoint_every_steps: Option<u64>,
    /// `cabs train --resume-from FILE`: the run state to continue.
    pub resume_from: Option<PathBuf>,
    pub batch: u32,
    /// `cabs bench --vs-chunk N`.
    pub vs_chunk: Option<u32>,
    /// `--threads N` of the CPU engine (None: see [`threads_per_engine`]).
    pub threads: Option<usize>,
    /// `cabs bench --vs-threads N`.
    pub vs_threads: Option<usize>,
    /// `cabs bench --vs-rule RULE`.
    pub vs_rule: Option<String>,
    /// Options of `cabs reproduce`.
    pub repro: crate::reproduce::Options,
    /// Long flags given on the command line (to tell defaults from choices).
    pub seen: Vec<String>,
}

/// The text of a flag's value.
fn text(p: &mut lexopt::Parser, flag: &str) -> CliResult<String> {
    let v = p.value().map_err(|_| CliError::usage(format!("{flag} needs a value")))?;
    Ok(v.to_str().ok_or_else(|| CliError::usage(format!("the value of {flag} is not valid UTF-8")))?.to_string())
}

fn value<T: std::str::FromStr>(p: &mut lexopt::Parser, flag: &str) -> CliResult<T> {
    let s = text(p, flag)?;
    s.parse().map_err(|_| CliError::usage(format!("invalid value '{s}' for {flag}")))
}

/// A whole number (a count, a step, a seed): "2.5", "1e3" or "-1" are refused as such, quoting
/// the value given.
fn whole<T: std::str::FromStr>(p: &mut lexopt::Parser, flag: &str) -> CliResult<T> {
    let s = text(p, flag)?;
    s.trim().parse().map_err(|_| {
        let why = match s.trim().parse::<f64>() {
            Ok(v) if v < 0.0 => "is negative",
            Ok(v) if v.fract() != 0.0 => "is not a whole number",
            Ok(_) if s.contains(['e', 'E', '.']) => "is not written as a whole number (write it out, e.g. 1000)",
            Ok(_) => "is too large",
            Err(_) => "is not a whole number",
        };
        CliError::usage(format!("{flag} '{s}' {why}"))
    })
}

/// A thread count: a whole number ≥ 1, the value quoted when refused.
fn thread_count(p: &mut lexopt::Parser, flag: &str) -> CliResult<usize> {
    match whole(p, flag)? {
        0 => Err(CliError::usage(format!("{flag} '0': give at least 1 thread"))),
        n => Ok(n),
    }
}

/// The CPU engine's threads for `command`: `--threads`, else the cores divided among the
/// `--jobs` engines `reproduce` runs at once (at least 1). With a warning when the engines'
/// threads together exceed the cores (they would take turns on them: slower, same results).
pub fn threads_per_engine(threads: Option<usize>, jobs: usize, cores: usize) -> (usize, Option<String>) {
    let jobs = jobs.max(1);
    let n = threads.unwrap_or(cores / jobs).max(1);
    let warning = (jobs * n > cores).then(|| {
        let engines = if jobs > 1 { format!("--jobs {jobs} × --threads {n} = {} threads", jobs * n) } else { format!("--threads {n}") };
        format!("{engines} on {cores} core(s): the threads will take turns (results are the same, only slower)")
    });
    (n, warning)
}

pub fn parse(args: Vec<OsString>) -> CliResult<(String, Args)> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut a = Args {
        // The library's defaults, `--backend auto` included: on a machine without a hardware
        // GPU, `gpu` would run on a software driver many times slower than the CPU engine.
        settings: Settings::default(),
        mnist_bundle: None,
        steps: None,
        examples: None,
        eval_every: 0,
        csv: None,
        dump_step: None,
        dump: None,
        quiet: false,
        checkpoint: None,
        checkpoint_every: None,
        checkpoint_every_steps: None,
        resume_from: None,
        batch: 256,
        vs_chunk: None,
        threads: None,
        vs_threads: None,
        vs_rule: None,
        repro: crate::reproduce::Options::default(),
        seen: Vec::new(),
    };
    let mut command = None;
    while let Some(arg) = p.next().map_err(|e| CliError::usage(e.to_string()))? {
        if let Long(flag) = &arg {
            a.seen.push(flag.to_string());
        }
        let s = &mut a.settings;
        let r = &mut a.repro;
        match arg {
            Long("data") => s.data = value(&mut p, "--data")?,
            Long("mnist-bundle") => a.mnist_bundle = Some(value(&mut p, "--mnist-bundle")?),
            Long("model") => s.model = value(&mut p, "--model")?,
            Long("rule") => s.rule = value(&mut p, "--rule")?,
            Long("lr") => s.lr = crate::reproduce::parse_alpha(&text(&mut p, "--lr")?, "--lr")?,
            Long("m-min") => s.mmin = whole(&mut p, "--m-min")?,
            Long("m-max") => s.mmax = whole(&mut p, "--m-max")?,
            Long("mu") => s.mu = value(&mut p, "--mu")?,
            Long("c") => s.c = value(&mut p, "--c")?,
            Long("eps") => s.eps = value(&mut p, "--eps")?,
            Long("unbiased") => s.unbiased = true,
            Long("bias-correction") => s.bias_correction = true,
            Long("seed") => s.seed = whole(&mut p, "--seed")?,
            Long("backend") => s.backend = value(&mut p, "--backend")?,
            Long("conv-norms") => s.conv_norms = value(&mut p, "--conv-norms")?,
            Long("chunk") => s.chunk = Some(whole(&mut p, "--chunk")?),
            Long("vs-chunk") => a.vs_chunk = Some(whole(&mut p, "--vs-chunk")?),
            Long("threads") => a.threads = Some(thread_count(&mut p, "--threads")?),
            Long("vs-threads") => a.vs_threads = Some(thread_count(&mut p, "--vs-threads")?),
            Long("vs-rule") => a.vs_rule = Some(value(&mut p, "--vs-rule")?),
            Long("steps") => a.steps = Some(whole(&mut p, "--steps")?),
            Long("examples") => a.examples = Some(whole(&mut p, "--examples")?),
            Long("eval-every") => a.eval_every = whole(&mut p, "--eval-every")?,
            Long("csv") => a.csv = Some(value(&mut p, "--csv")?),
            Long("dump-step") => a.dump_step = Some(whole(&mut p, "--dump-step")?),
            Long("dump") => a.dump = Some(value(&mut p, "--dump")?),
            Long("quiet") => a.quiet = true,
            Long("checkpoint") => a.checkpoint = Some(value(&mut p, "--checkpoint")?),
            Long("checkpoint-every") => a.checkpoint_every = Some(whole(&mut p, "--checkpoint-every")?),
            Long("checkpoint-every-steps") => a.checkpoint_every_steps = Some(whole(&mut p, "--checkpoint-every-steps")?),
            Long("resume-from") => a.resume_from = Some(value(&mut p, "--resume-from")?),
            Long("batch") => a.batch = whole(&mut p, "--batch")?,
            Long("out") => r.out = value(&mut p, "--out")?,
            Long("eval-every-examples") => r.eval_every_examples = Some(whole(&mut p, "--eval-every-examples")?),
            Long("eval-every-steps") => r.eval_every_steps = Some(whole(&mut p, "--eval-every-steps")?),
            Long("checkpoint-every-minutes") => r.checkpoint_every_minutes = Some(whole(&mut p, "--checkpoint-every-minutes")?),
            Long("target-accuracy") => r.target_accuracy = value(&mut p, "--target-accuracy")?,
            Long("select-by") => r.select_by = crate::reproduce::SelectBy::parse(&text(&mut p, "--select-by")?).map_err(CliError::usage)?,
            Long("cabs-alpha") => r.cabs_alpha = crate::reproduce::parse_alpha(&text(&mut p, "--cabs-alpha")?, "--cabs-alpha")?,
            Long("alphas") => r.alphas = crate::reproduce::parse_alphas(&value::<String>(&mut p, "--alphas")?, "--alphas")?,
            Long("batches") => r.batches = crate::reproduce::parse_batches(&value::<String>(&mut p, "--batches")?)?,
            Long("sensitivity") => {
                r.sensitivity = crate::reproduce::parse_alphas(&value::<String>(&mut p, "--sensitivity")?, "--sensitivity")?
            }
            Long("only") => r.only = crate::reproduce::Parts::parse(&value::<String>(&mut p, "--only")?)?,
            Long("jobs") => {
                r.jobs = whole(&mut p, "--jobs")?;
                if r.jobs == 0 {
                    return Err(CliError::usage("--jobs 0: give at least 1"));
                }
            }
            Long("seeds") => {
                r.seeds = whole(&mut p, "--seeds")?;
                if r.seeds == 0 {
                    return Err(CliError::usage("--seeds 0: the runs would do nothing (give at least 1)"));
                }
            }
            Long("quick") => r.quick = true,
            Long("resume") => r.resume = true,
            Long("rules") => r.rules = crate::reproduce::parse_rules(&value::<String>(&mut p, "--rules")?)?,
            Long("emit-jobs") => r.emit_jobs = Some(value(&mut p, "--emit-jobs")?),
            Long("run") => r.run = Some(value(&mut p, "--run")?),
            Long("assemble-only") => r.assemble_only = true,
            Short('h') | Long("help") => command = Some("help".to_string()),
            Value(v) if command.is_none() => command = Some(v.to_string_lossy().into_owned()),
            other => return Err(CliError::usage(format!("{} (see cabs --help)", other.unexpected()))),
        }
    }
    Ok((command.unwrap_or_else(|| "help".into()), a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        parse(v.iter().map(OsString::from).collect()).map(|(_, a)| a).unwrap_or_else(|e| panic!("{v:?}: {e}"))
    }

    #[test]
    fn the_backend_defaults_to_auto_and_the_bundle_to_a_search() {
        let a = args(&["train"]);
        assert_eq!(a.settings.backend, "auto");
        assert_eq!(a.mnist_bundle, None);
        let a = args(&["train", "--backend", "gpu", "--mnist-bundle", "x/mnist.bin"]);
        assert_eq!(a.settings.backend, "gpu");
        assert_eq!(a.mnist_bundle.as_deref(), Some(std::path::Path::new("x/mnist.bin")));
        assert!(HELP.lines().any(|l| l.trim_start().starts_with("--backend KIND") && l.trim_end().ends_with("[auto]")));
    }

    #[test]
    fn threads_default_to_the_cores_shared_among_jobs_and_oversubscription_is_named() {
        assert_eq!(threads_per_engine(None, 1, 8), (8, None));
        assert_eq!(threads_per_engine(None, 3, 8), (2, None));
        assert_eq!(threads_per_engine(None, 16, 8).0, 1);
        assert!(threads_per_engine(None, 16, 8).1.unwrap().contains("--jobs 16 × --threads 1 = 16 threads on 8 core(s)"));
        assert_eq!(threads_per_engine(Some(4), 2, 8), (4, None));
        assert!(threads_per_engine(Some(4), 3, 8).1.unwrap().contains("--jobs 3 × --threads 4 = 12 threads"));
        assert!(threads_per_engine(Some(9), 1, 8).1.unwrap().starts_with("--threads 9 on 8 core(s)"));
        assert_eq!(args(&["train", "--threads", "3"]).threads, Some(3));
    }
}
