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
//! engines (auto times both on software adapters, and timings vary).

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
mod tables;
mod verdicts;

pub use options::{check_alpha, parse_alphas, parse_batches, parse_rules, Options, Parts};

use crate::args::Args;
use crate::dataset::dataset;
use crate::error::{CliError, CliResult};
use markdown::results_md;
use metrics::{best_candidate, Candidate, Run};
use options::*;
use plan::*;
use run::{engine_name, Cache, Ctx};
use std::collections::HashMap;
use std::time::Instant;
use tables::{command_line, extra_names, seed_list, summary_csv, write_file, Env, Group, Report};

pub fn reproduce(a: Args) -> CliResult<()> {
    for (flag, instead) in NOT_HERE {
        if a.seen.iter().any(|s| s == flag) {
            return Err(CliError::usage(format!("--{flag} does not apply to reproduce ({instead})")));
        }
    }
    let o = a.repro.clone();
    let budget = a.examples.unwrap_or(if o.quick { QUICK_EXAMPLES } else { DEFAULT_EXAMPLES });
    if budget == 0 {
        return Err(CliError::usage("--examples 0: the runs would do nothing (give at least 1)"));
    }
    let evals = if o.quick { QUICK_EVALS_PER_RUN } else { EVALS_PER_RUN };
    let eval_every = o.eval_every_examples.unwrap_or((budget / evals).max(1));
    if eval_every == 0 {
        return Err(CliError::usage("--eval-every-examples 0: give at least 1"));
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
    for p in ["summary.csv", "all_runs.csv", "results.md"]
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
    let window = (budget / SMOOTH_DIVISOR).max(1);
    let mut ctx = Ctx {
        settings: settings.clone(),
        data,
        budget,
        eval_every,
        runs_dir,
        // A job (--run) never retrains a finished run: rerunning a jobs file is free.
        resume: o.resume || o.assemble_only || o.run.is_some(),
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
        "cabs: reproduce: {} runs planned, {budget} training examples each, test evaluation every ~{eval_every} examples; data {}, model {}, seed{} {} → {}",
        planned,
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
        // Refuse before anything trains: a run file made under other flags would otherwise be
        // found only when its turn comes, hours in.
        for s in &independent {
            run::check_resume(&ctx, s)?;
        }
    }
    let t_all = Instant::now();
    let mut cache = Cache { runs: Vec::new(), index: HashMap::new() };
    let mut report =
        Report { cabs: None, best_fixed: Vec::new(), decay: Vec::new(), grid: Vec::new(), sensitivity: Vec::new(), rules: Vec::new() };
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
            let best = best_candidate(&cands);
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
            best.iter().filter_map(|&(m, a)| a.map(|alpha| specs(Kind::Decay { m, k: invtime_k(m, budget) }, alpha))).flatten().collect();
        if o.assemble_only {
            refuse_missing(&ctx, &decays)?;
        }
        cache.prefetch(&mut ctx, &decays, o.jobs);
        for (m, alpha) in best {
            match alpha {
                Some(alpha) => report.decay.push(group(&mut cache, &mut ctx, Kind::Decay { m, k: invtime_k(m, budget) }, alpha, "decay")),
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
            let best = best_candidate(&cands);
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
        budget,
        eval_every,
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
    write_file(&o.out.join("results.md"), &results_md(runs, &report, &o, &env, &extra_names))?;
    figures::figures(&fig_dir, runs, &report, &o, &env)?;
    println!(
        "cabs reproduce: {} runs in {:.1} s; results in {} (also summary.csv, all_runs.csv, runs/*.csv, figures/*.svg)",
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
        if let Some(b) = best_candidate(&cands) {
            v.extend(seeds.iter().map(|&seed| RunSpec { kind: Kind::Decay { m, k: invtime_k(m, ctx.budget) }, alpha: o.alphas[b], seed }));
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
    let args: Vec<String> = std::env::args().collect();
    jobs::write_jobs(file, &args, &ctx.settings.backend, &o.out, &specs)?;
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
                candidates.extend(seeds.iter().map(|&seed| RunSpec { kind: Kind::Decay { m, k: invtime_k(m, ctx.budget) }, alpha, seed }));
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

#[cfg(test)]
mod tests;
