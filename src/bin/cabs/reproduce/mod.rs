//! `cabs reproduce`: the paper's comparisons (Balles et al. 2017, section 5) run on our engine.
//!
//! Every run gets the same budget of training examples (`--examples`), so per-example
//! comparisons are fair, or the same number of steps (`--steps`: docs/STUDY.md's phase 1, whose
//! CABS runs fix the example budget B of every other run; assembling such a set prints B):
//! 1. CABS at `--cabs-alpha`;
//! 2. fixed batch m with constant α, for every m of `--batches` and every α of `--alphas`
//!    (each a full-budget run); per m the best α by final test accuracy is reported;
//! 3. per m, that best α with an inverse-time decay `const:M:invtime:K`, K = 2m/budget, so that
//!    α has halved at about half the budget (step budget/(2m));
//! 4. sensitivity: CABS and fixed m (the smallest, middle and largest of `--batches`) at every
//!    α of `--sensitivity`.
//!
//! Every rule and α runs once per seed of `--seeds` (a seed sets initial weights and data order,
//! the same for every rule); the tables give means and min–max over the seeds, and end with
//! generated verdicts on the paper's claims with their noise levels (`verdicts.rs`).
//!
//! Modules: `options` (flags), `plan` (runs, seeds and labels), `run` (training through the
//! shared loop, `--jobs`, `--resume`), `record` (each run's settings and engine, beside its CSV),
//! `metrics` (what is read from a run), `tables` and `markdown` (CSVs, results.md), `verdicts`,
//! `figures`.
//!
//! Runs are cached by label (rule, α, seed), so a run needed twice is trained once. Each run writes
//! `OUT/runs/<label>.csv` (the `cabs train --csv` columns plus `train_ms` at the end) and its
//! record `OUT/runs/<label>.json`; `OUT` is `out/reproduction` unless `--out` names another
//! folder (the committed set in docs/ is written only when `--out` names it); at the
//! end come `OUT/summary.csv`, `OUT/all_runs.csv`, `OUT/results.md` and `OUT/figures/*.svg`.
//! A run that diverges is recorded as diverged; a run that cannot be trained or written is
//! recorded as failed and the others go on (the command then exits non-zero).
//!
//! `--backend auto` (the default here) is resolved once, before the first run, to the engine
//! it picks for the grid's first run; every run then uses that engine, so a grid never mixes
//! engines (auto times both on software adapters, and timings vary). When runs are reused
//! (`--resume`, `--run`, `--assemble-only`) and one already has a record, auto is the engine that
//! record names, not timed again: another pick would refuse every finished run.
//!
//! A run saves its state every `--checkpoint-every-minutes` to `runs/<label>.ckpt`; reused, a
//! stopped run continues from it (`run.rs`).

mod figures;
mod jobs;
mod markdown;
mod metrics;
mod options;
mod paired;
mod plan;
mod probes;
mod record;
mod run;
pub mod study;
mod tables;
mod verdicts;

pub use options::{parse_alpha, parse_alphas, parse_batches, parse_rules, Options, Parts, SelectBy};

use crate::args::Args;
use crate::dataset::dataset;
use crate::error::{CliError, CliResult};
use crate::session::{Budget, EvalEvery};
use markdown::results_md;
use metrics::{best_candidate, Candidate, Run};
use options::*;
use plan::*;
use run::{engine_name, Cache, Ctx};
use std::collections::HashMap;
use std::time::Instant;
use tables::{best_alpha_csv, command_line, extra_names, seed_list, summary_csv, write_file, Env, Group, Report};

pub fn reproduce(a: Args) -> CliResult<()> {
    for (flag, instead) in NOT_HERE {
        if a.seen.iter().any(|s| s == flag) {
            return Err(CliError::usage(format!("--{flag} does not apply to reproduce ({instead})")));
        }
    }
    let o = a.repro.clone();
    let (budget, eval_every) = budget_and_evals(&a, &o)?;
    if o.checkpoint_every_minutes == Some(0) {
        return Err(CliError::usage("--checkpoint-every-minutes 0: give at least 1 minute"));
    }
    if !(o.target_accuracy > 0.0 && o.target_accuracy <= 1.0) {
        return Err(CliError::usage(format!("--target-accuracy must be in (0, 1], got {}", o.target_accuracy)));
    }
    if o.out.as_os_str().is_empty() {
        return Err(CliError::usage("--out '': give a folder (without --out the results go to out/reproduction)"));
    }
    let seeds = seed_range(a.settings.seed, o.seeds).map_err(CliError::usage)?;
    let mut settings = a.settings.clone();
    if !a.seen.iter().any(|s| s == "backend") {
        settings.backend = "auto".into();
    }
    if !a.seen.iter().any(|s| s == "model") {
        settings.model = default_model(&settings);
    }
    settings.trainer_config()?;
    match (&o.emit_jobs, &o.run, o.assemble_only) {
        (Some(_), Some(_), _) => return Err(CliError::usage("--emit-jobs writes the jobs and --run trains one of them: give one")),
        (Some(_), _, true) | (_, Some(_), true) => {
            return Err(CliError::usage("--assemble-only builds the tables from finished runs: leave out --emit-jobs and --run"))
        }
        _ => {}
    }
    if o.only.rules && o.only != Parts::ALL && o.rules.is_empty() {
        return Err(CliError::usage("--only rules needs the rules to compare: --rules LIST (e.g. --rules cabs,const:64)"));
    }
    // Every rule of the comparison set is checked now, with the run's other settings, not when
    // its turn comes hours in.
    for r in &o.rules {
        cabs::settings::Settings { rule: r.clone(), ..settings.clone() }
            .trainer_config()
            .map_err(|e| CliError::from(e).context(&format!("--rules '{r}'")))?;
    }
    let parts = Parts { fixed: o.only.fixed || o.only.decay, rules: o.only.rules && !o.rules.is_empty(), ..o.only };
    let data = dataset(&Args { settings: settings.clone(), ..a })?;
    let n_train = data.train.len();
    if parts.fixed || parts.sensitivity {
        if let Some(&m) = o.batches.iter().find(|&&m| m as usize > n_train) {
            return Err(CliError::usage(format!("--batches: {m} exceeds the {n_train} training examples of '{}'", data.name)));
        }
    }
    if (parts.cabs || parts.sensitivity) && settings.mmax as usize > n_train {
        return Err(CliError::usage(format!("--m-max {} exceeds the {n_train} training examples of '{}'", settings.mmax, data.name)));
    }

    let runs_dir = o.out.join("runs");
    let fig_dir = o.out.join("figures");
    for d in [&runs_dir, &fig_dir] {
        std::fs::create_dir_all(d).map_err(|e| CliError::Io(format!("cannot create {}: {e}", d.display())))?;
    }
    // The tables and figures are written at the end: a FIFO or device in their place would
    // block or fail only after every run, so it is refused before the first.
    let figure_names = ["loss_vs_examples", "accuracy_vs_examples", "loss_vs_time", "accuracy_vs_time", "batch_vs_steps", "sensitivity"];
    for p in ["summary.csv", "all_runs.csv", "best_alpha.csv", "results.md"]
        .iter()
        .map(|f| o.out.join(f))
        .chain(figure_names.iter().map(|f| fig_dir.join(format!("{f}.svg"))))
    {
        record::regular_or_absent(&p)?;
    }
    let sens_batches = sensitivity_batches(&o.batches);
    // Everything that does not depend on other runs' results, trained `--jobs` at a time.
    let independent = independent_runs(&parts, &o, &seeds);
    let planned = independent.len() + parts.decay as usize * o.batches.len() * seeds.len();
    let mut auto_note = None;
    let reuses = o.resume || o.assemble_only || o.run.is_some();
    if let (true, true, Some((kind, file))) = (settings.backend == "auto", reuses, recorded_backend(&o.out.join("runs"), &independent)?) {
        // Timing both engines again could pick the other one, and every finished run would
        // then be refused as made under other flags.
        let note = format!(
            "--backend auto resolved once, to {kind}, for every run: the engine the runs already in {} were trained on ({})",
            o.out.join("runs").display(),
            file
        );
        eprintln!("cabs: reproduce: {note}; not timed again");
        auto_note = Some(note);
        settings.backend = kind;
    }
    if settings.backend == "auto" {
        // One engine for the whole grid: the one auto picks for its first run.
        let first = independent.first().cloned().unwrap_or(RunSpec { kind: Kind::Cabs, alpha: o.cabs_alpha, seed: settings.seed });
        let probe = cabs::settings::Settings { rule: first.rule(), lr: first.alpha, seed: first.seed, ..settings.clone() };
        let t = pollster::block_on(cabs::trainer::Trainer::new(probe.trainer_config()?, data.clone()))
            .map_err(|e| CliError::from(e).context("--backend auto"))?;
        let info = t.backend();
        auto_note = Some(format!("--backend auto resolved once, to {}, for every run: {}", info.kind, info.choice.reason));
        settings.backend = info.kind.clone();
        eprintln!("cabs: reproduce: {}", auto_note.as_deref().unwrap_or(""));
    }
    let window = smoothing_window(budget, settings.mmin);
    let mut ctx = Ctx {
        settings: settings.clone(),
        data,
        budget,
        eval_every,
        runs_dir,
        // A job (--run) never retrains a finished run: rerunning a jobs file is free.
        resume: reuses,
        checkpoint_every: std::time::Duration::from_secs(60 * o.checkpoint_every_minutes.unwrap_or(CHECKPOINT_EVERY_MINUTES)),
        stop_after: stop_after()?,
        adopt: std::env::var(record::ADOPT_ENV)
            .ok()
            .filter(|v| o.resume && !v.is_empty())
            .map(|v| if v == "1" { String::new() } else { v }),
        quiet: a.quiet,
        engine: None,
        planned,
        done: 0,
    };
    if let Some(file) = &o.emit_jobs {
        return emit_jobs(file, &mut ctx, &o, &parts, &seeds, &independent, window);
    }
    if let Some(label) = &o.run {
        return run_job(label, &mut ctx, &o, &parts, &seeds, &independent);
    }
    eprintln!(
        "cabs: reproduce: {} runs planned, {}; data {}, model {}, seed{} {} → {}",
        planned,
        describe_budget(budget, eval_every),
        settings.data,
        settings.model,
        if seeds.len() > 1 { "s" } else { "" },
        seed_list(&seeds),
        o.out.display()
    );
    if o.assemble_only {
        refuse_missing(&ctx, &independent)?;
    }
    if ctx.resume {
        // Refuse before anything trains: a run file (or checkpoint) made under other flags
        // would otherwise be found only when its turn comes, hours in.
        for s in &independent {
            if let run::Found::Recorded(r) = run::check_resume(&ctx, s)? {
                run::check_checkpoint_engine(&ctx, s, &r)?;
            }
        }
    }
    let t_all = Instant::now();
    let mut cache = Cache { runs: Vec::new(), index: HashMap::new() };
    let mut report = Report {
        cabs: None,
        best_fixed: Vec::new(),
        decay: Vec::new(),
        grid: Vec::new(),
        sensitivity: Vec::new(),
        rules: Vec::new(),
        select_by: o.select_by,
    };
    // One run per seed of (kind, α): a group.
    let specs =
        |kind: Kind, alpha: f64| -> Vec<RunSpec> { seeds.iter().map(|&seed| RunSpec { kind: kind.clone(), alpha, seed }).collect() };
    let group = |cache: &mut Cache, ctx: &mut Ctx, kind: Kind, alpha: f64, role: &'static str| -> Group {
        specs(kind, alpha).iter().map(|s| cache.get(ctx, s, role)).collect()
    };

    cache.prefetch(&mut ctx, &independent, o.jobs);
    if parts.cabs {
        report.cabs = Some(group(&mut cache, &mut ctx, Kind::Cabs, o.cabs_alpha, "cabs"));
    }
    if parts.fixed {
        for &m in &o.batches {
            let row: Vec<Group> = o.alphas.iter().map(|&alpha| group(&mut cache, &mut ctx, Kind::Fixed { m }, alpha, "tuning")).collect();
            // Judged on the mean over the seeds; a run that broke in any seed never wins.
            let cands: Vec<Candidate> = row.iter().map(|g| Candidate::of_group(&cache.runs, g, window)).collect();
            let best = best_candidate(&cands, o.select_by);
            if let (Some(b), true) = (best, o.only.fixed) {
                for &i in &row[b] {
                    cache.runs[i].roles.push("best-fixed");
                }
                report.best_fixed.push(row[b].clone());
            }
            report.grid.push((m, row, best));
        }
    }
    if parts.decay {
        // Per m: the best constant α, if any α did not diverge.
        let best: Vec<(u32, Option<f64>)> =
            report.grid.iter().map(|(m, row, best)| (*m, best.map(|b| cache.runs[row[b][0]].spec.alpha))).collect();
        let decays: Vec<RunSpec> =
            best.iter().filter_map(|&(m, a)| a.map(|alpha| specs(Kind::Decay { m, k: decay_k(m, budget) }, alpha))).flatten().collect();
        if o.assemble_only {
            refuse_missing(&ctx, &decays)?;
        }
        cache.prefetch(&mut ctx, &decays, o.jobs);
        for (m, alpha) in best {
            match alpha {
                Some(alpha) => report.decay.push(group(&mut cache, &mut ctx, Kind::Decay { m, k: decay_k(m, budget) }, alpha, "decay")),
                None => eprintln!("cabs: reproduce: m = {m}: every α diverged, no decay run"),
            }
        }
    }
    if parts.sensitivity {
        for &alpha in &o.sensitivity {
            let c = group(&mut cache, &mut ctx, Kind::Cabs, alpha, "sensitivity");
            let fixed = sens_batches.iter().map(|&m| group(&mut cache, &mut ctx, Kind::Fixed { m }, alpha, "sensitivity")).collect();
            report.sensitivity.push((alpha, c, fixed));
        }
    }
    if parts.rules {
        for r in &o.rules {
            let row: Vec<Group> = o.alphas.iter().map(|&alpha| group(&mut cache, &mut ctx, Kind::of_rule(r), alpha, "rules")).collect();
            // The same choice as for the fixed batches: every rule gets its best α of one grid.
            let cands: Vec<Candidate> = row.iter().map(|g| Candidate::of_group(&cache.runs, g, window)).collect();
            let best = best_candidate(&cands, o.select_by);
            report.rules.push((r.clone(), row, best));
        }
    }
    let total_s = t_all.elapsed().as_secs_f64();

    if ctx.engine.is_none() {
        // Every run was read back (--resume): name the engine these flags select.
        let cfg = settings.trainer_config()?;
        if let Ok(t) = pollster::block_on(cabs::trainer::Trainer::new(cfg, ctx.data.clone())) {
            ctx.engine = Some(engine_name(&t));
        }
    }
    // The tables speak in examples: a steps budget is shown as the most examples a run used.
    let (budget_examples, eval_every_examples) = match (budget, eval_every) {
        (Budget::Examples(b), EvalEvery::Examples(e)) => (b, e),
        (Budget::Steps(n), _) => {
            let most = cache.runs.iter().filter_map(|r| r.steps.last().map(|s| s.examples)).max().unwrap_or(0);
            let evals = match eval_every {
                EvalEvery::Steps(k) if k > 0 => n.div_ceil(k),
                _ => 1,
            };
            (most, (most / evals.max(1)).max(1))
        }
        (Budget::Examples(b), EvalEvery::Steps(_)) => (b, b),
    };
    let phase_two = match (budget, &report.cabs) {
        (Budget::Steps(n), Some(g)) => phase_two_budget(&cache.runs, g, n, o.cabs_alpha),
        _ => None,
    };
    let env = Env {
        engine: match (ctx.engine.clone(), &auto_note) {
            (e, Some(note)) => format!("{} ({note})", e.unwrap_or_else(|| settings.backend.clone())),
            (e, None) => e.unwrap_or_else(|| "-".into()),
        },
        data: format!("{} ({} training / {} test examples)", settings.data, ctx.data.train.len(), ctx.data.test.len()),
        model: settings.model.clone(),
        seeds: seeds.clone(),
        n_test: ctx.data.test.len(),
        labels: ctx.data.test.labels.clone(),
        budget: budget_examples,
        eval_every: eval_every_examples,
        steps: match (budget, eval_every) {
            (Budget::Steps(n), EvalEvery::Steps(k)) => Some((n, k)),
            _ => None,
        },
        phase_two: phase_two.clone(),
        window,
        target: o.target_accuracy,
        command: command_line(),
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
    let reported: Vec<(usize, Option<&str>)> =
        report.reported().into_iter().flat_map(|(g, r)| g.iter().map(move |&i| (i, Some(r)))).collect();
    write_file(&o.out.join("summary.csv"), &summary_csv(runs, &reported, &env, &extra_names))?;
    let all: Vec<(usize, Option<&str>)> = (0..runs.len()).map(|i| (i, None)).collect();
    write_file(&o.out.join("all_runs.csv"), &summary_csv(runs, &all, &env, &extra_names))?;
    write_file(&o.out.join("best_alpha.csv"), &best_alpha_csv(runs, &report, env.window))?;
    write_file(&o.out.join("results.md"), &results_md(runs, &report, &o, &env, &extra_names))?;
    figures::figures(&fig_dir, runs, &report, &o, &env)?;
    println!(
        "cabs reproduce: {} runs in {:.1} s; results in {} (also summary.csv, all_runs.csv, best_alpha.csv, runs/*.csv, figures/*.svg)",
        runs.len(),
        total_s,
        o.out.join("results.md").display()
    );
    // Run files in the folder that this reproduction did not use (left from other flags).
    let used: std::collections::HashSet<String> = runs.iter().map(|r| format!("{}.csv", r.spec.label())).collect();
    if let Ok(dir) = std::fs::read_dir(o.out.join("runs")) {
        let mut stray: Vec<String> = dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".csv") && !used.contains(n))
            .collect();
        stray.sort();
        for n in stray {
            eprintln!("cabs: reproduce: note: runs/{n} is not part of this reproduction (left from other flags?)");
        }
    }
    if let Some(line) = &phase_two {
        println!("{line}");
    }
    let failed: Vec<&Run> = runs.iter().filter(|r| r.failed.is_some()).collect();
    if let Some(first) = failed.first() {
        return Err(CliError::run(format!(
            "{} of {} runs failed (their status in all_runs.csv is \"failed\"); the first: {}: {}",
            failed.len(),
            runs.len(),
            first.spec.label(),
            first.failed.as_deref().unwrap_or("")
        )));
    }
    Ok(())
}

/// `--assemble-only`: refuse, naming them, when runs are missing or unfinished.
fn refuse_missing(ctx: &Ctx, specs: &[RunSpec]) -> CliResult<()> {
    let mut missing = Vec::new();
    for s in specs {
        if run::load_complete(ctx, s)?.is_none() {
            missing.push(s.label());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let shown = missing.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    Err(CliError::usage(format!(
        "--assemble-only: {} run{} missing or unfinished in {}: {shown}{}; train them (the jobs of --emit-jobs, or --resume without --assemble-only)",
        missing.len(),
        if missing.len() == 1 { " is" } else { "s are" },
        ctx.runs_dir.display(),
        if missing.len() > 8 { ", …" } else { "" }
    )))
}

/// The decay runs, once every grid run they depend on is complete in `--out` (None before).
fn decay_specs_from_files(ctx: &Ctx, o: &Options, seeds: &[u64], window: u64) -> CliResult<Option<Vec<RunSpec>>> {
    let mut v = Vec::new();
    for &m in &o.batches {
        let mut cands = Vec::new();
        for &alpha in &o.alphas {
            let mut runs = Vec::new();
            for &seed in seeds {
                match run::load_complete(ctx, &RunSpec { kind: Kind::Fixed { m }, alpha, seed })? {
                    Some(r) => runs.push(r),
                    None => return Ok(None),
                }
            }
            let g: Group = (0..runs.len()).collect();
            cands.push(Candidate::of_group(&runs, &g, window));
        }
        if let Some(b) = best_candidate(&cands, o.select_by) {
            v.extend(seeds.iter().map(|&seed| RunSpec { kind: Kind::Decay { m, k: decay_k(m, ctx.budget) }, alpha: o.alphas[b], seed }));
        }
    }
    Ok(Some(v))
}

/// `--emit-jobs FILE`: the grid as one command per run; the decay runs too once the grid is done.
fn emit_jobs(
    file: &std::path::Path,
    ctx: &mut Ctx,
    o: &Options,
    parts: &Parts,
    seeds: &[u64],
    independent: &[RunSpec],
    window: u64,
) -> CliResult<()> {
    let mut specs = independent.to_vec();
    let mut note = String::new();
    if parts.decay {
        match decay_specs_from_files(ctx, o, seeds, window)? {
            Some(d) => specs.extend(distinct(&d)),
            None => {
                note = format!(
                    "; the {} decay runs start from each batch size's best α, known once the grid's runs are done: after these jobs, \
run this command again to emit them (the finished jobs are emitted again and skip at once)",
                    o.batches.len() * seeds.len()
                )
            }
        }
    }
    // A job may start in another folder than this command (a Slurm node, `parallel --sshlogin`
    // on a shared file system, a later shell): the program and --out go in as absolute paths.
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(program) = args.first_mut().filter(|p| p.contains('/')) {
        if let Ok(abs) = std::path::absolute(&*program) {
            *program = abs.display().to_string();
        }
    }
    let out = std::path::absolute(&o.out).map_err(|e| CliError::Io(format!("cannot resolve --out {}: {e}", o.out.display())))?;
    jobs::write_jobs(file, &args, &ctx.settings.backend, &out, &specs)?;
    println!("cabs reproduce: {} jobs written to {}{note}", specs.len(), file.display());
    Ok(())
}

/// `--run LABEL`: train the run of the grid with that label (or find it finished), nothing else.
fn run_job(label: &str, ctx: &mut Ctx, o: &Options, parts: &Parts, seeds: &[u64], independent: &[RunSpec]) -> CliResult<()> {
    let mut candidates = independent.to_vec();
    if parts.decay {
        // Every decay run the grid could choose; the jobs file names only the chosen ones.
        for &m in &o.batches {
            for &alpha in &o.alphas {
                candidates.extend(seeds.iter().map(|&seed| RunSpec { kind: Kind::Decay { m, k: decay_k(m, ctx.budget) }, alpha, seed }));
            }
        }
    }
    let Some(spec) = candidates.iter().find(|s| s.label() == label) else {
        let some = independent.iter().take(3).map(|s| s.label()).collect::<Vec<_>>().join(", ");
        return Err(CliError::usage(format!(
            "--run '{label}': not a run of this reproduction's flags (its runs are named like {some}; --emit-jobs FILE lists them all)"
        )));
    };
    ctx.planned = 1;
    let run = run::run_one(ctx, spec)?;
    let status = match (&run.diverged, run.final_eval()) {
        (Some(d), _) => d.clone(),
        (None, Some(e)) => format!("test accuracy {:.4}", e.test_accuracy),
        (None, None) => "no evaluation".into(),
    };
    println!("cabs reproduce --run {label}: {status}; {}", ctx.csv_path(spec).display());
    Ok(())
}

/// The budget of every run (`--examples` or `--steps`, not both) and when it is evaluated
/// (`--eval-every-examples` goes with the first, `--eval-every-steps` with the second), checked.
fn budget_and_evals(a: &Args, o: &Options) -> CliResult<(Budget, EvalEvery)> {
    match (a.steps, a.examples) {
        (Some(n), Some(e)) => Err(CliError::usage(format!(
            "--steps {n} and --examples {e}: give one (--steps N: every run stops after N steps; --examples N: after N training examples)"
        ))),
        (Some(0), None) => Err(CliError::usage("--steps 0: the runs would do nothing (give at least 1)")),
        (Some(n), None) => {
            if let Some(e) = o.eval_every_examples {
                return Err(CliError::usage(format!(
                    "--eval-every-examples {e} goes with --examples; with --steps give --eval-every-steps K"
                )));
            }
            match o.eval_every_steps {
                Some(0) => Err(CliError::usage("--eval-every-steps 0: give at least 1")),
                Some(k) => Ok((Budget::Steps(n), EvalEvery::Steps(k))),
                None => Ok((Budget::Steps(n), EvalEvery::Steps((n / EVALS_PER_STEPS_RUN).max(1)))),
            }
        }
        (None, examples) => {
            if let Some(k) = o.eval_every_steps {
                return Err(CliError::usage(format!(
                    "--eval-every-steps {k} goes with --steps N; with --examples give --eval-every-examples"
                )));
            }
            let budget = examples.unwrap_or(if o.quick { QUICK_EXAMPLES } else { DEFAULT_EXAMPLES });
            if budget == 0 {
                return Err(CliError::usage("--examples 0: the runs would do nothing (give at least 1)"));
            }
            let evals = if o.quick { QUICK_EVALS_PER_RUN } else { EVALS_PER_RUN };
            let every = o.eval_every_examples.unwrap_or((budget / evals).max(1));
            if every == 0 {
                return Err(CliError::usage("--eval-every-examples 0: give at least 1"));
            }
            Ok((Budget::Examples(budget), EvalEvery::Examples(every)))
        }
    }
}

/// The budget as the plan line says it.
fn describe_budget(budget: Budget, evals: EvalEvery) -> String {
    let b = match budget {
        Budget::Examples(n) => format!("{n} training examples each"),
        Budget::Steps(n) => format!("{n} steps each"),
    };
    let e = match evals {
        EvalEvery::Examples(n) => format!("every ~{n} examples"),
        EvalEvery::Steps(k) => format!("every {k} steps"),
    };
    format!("{b}, test evaluation {e}")
}

/// The training loss's smoothing window, in examples: budget/[`SMOOTH_DIVISOR`]; with a steps
/// budget (the examples are not known before the runs) what the smallest batch sees in that share
/// of the steps.
pub(super) fn smoothing_window(budget: Budget, m_min: u32) -> u64 {
    match budget {
        Budget::Examples(b) => (b / SMOOTH_DIVISOR).max(1),
        Budget::Steps(n) => (n * m_min.max(1) as u64 / SMOOTH_DIVISOR).max(1),
    }
}

/// `CABS_REPRODUCE_STOP_AFTER_STEPS` ([`STOP_AFTER_ENV`]): a test's simulated kill, checked.
fn stop_after() -> CliResult<Option<u64>> {
    match std::env::var(STOP_AFTER_ENV) {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(k) if k > 0 => Ok(Some(k)),
            _ => Err(CliError::usage(format!("{STOP_AFTER_ENV}='{v}' is not a step ≥ 1"))),
        },
    }
}

/// The backend (`cpu` or `gpu`) the first existing record of these runs names, with its file:
/// what `--backend auto` means when runs are reused. None when no run has a record yet.
fn recorded_backend(runs_dir: &std::path::Path, specs: &[RunSpec]) -> CliResult<Option<(String, String)>> {
    for s in specs {
        let csv = runs_dir.join(format!("{}.csv", s.label()));
        if let Some(r) = record::read_record(&csv)? {
            if r.settings.backend == "cpu" || r.settings.backend == "gpu" {
                return Ok(Some((r.settings.backend, record::record_path(&csv).display().to_string())));
            }
        }
    }
    Ok(None)
}

/// Phase 1 of docs/STUDY.md: the budget B of every other run is the mean over the seeds of the
/// examples the CABS runs used in their N steps, rounded up to a multiple of 10,000. One line on
/// stdout, so that a script can read B (`sed -n 's/.* B = \([0-9]*\) .*/\1/p'`). Runs that
/// diverged or failed do not count (and are named); None when none finished.
pub(super) fn phase_two_budget(runs: &[Run], group: &Group, steps: u64, alpha: f64) -> Option<String> {
    let done: Vec<&Run> =
        group.iter().map(|&i| &runs[i]).filter(|r| r.failed.is_none() && r.diverged.is_none() && r.steps.len() as u64 >= steps).collect();
    let examples: Vec<u64> = done.iter().filter_map(|r| r.steps.last().map(|s| s.examples)).collect();
    if examples.is_empty() {
        return None;
    }
    let mean = examples.iter().sum::<u64>() as f64 / examples.len() as f64;
    let b = (mean / 10_000.0).ceil() as u64 * 10_000;
    let left_out: Vec<String> =
        group.iter().map(|&i| &runs[i]).filter(|r| !done.iter().any(|d| std::ptr::eq(*d, *r))).map(|r| r.spec.label()).collect();
    Some(format!(
        "cabs reproduce: mean examples at {steps} steps over the {} seed{} of CABS α = {}: {mean:.1} → B = {b} (rounded up to 10,000){}",
        examples.len(),
        if examples.len() == 1 { "" } else { "s" },
        plan::short_number(alpha),
        if left_out.is_empty() { String::new() } else { format!("; left out (diverged or failed): {}", left_out.join(", ")) }
    ))
}

#[cfg(test)]
mod tests;
