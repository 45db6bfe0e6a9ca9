//! `cabs study --out DIR`: the paper-scale study of docs/STUDY.md assembled from its sets, laid
//! out as `scripts/study.sh` makes them: the phase-1 set (CABS α = 0.1 for a number of steps) in
//! DIR, each phase-2 set in a folder of DIR. Writes `DIR/study.md` and `DIR/study.csv`:
//! - claims 1 and 2: CABS α = 0.1 against each fixed batch at its tuned α and with its tuned
//!   decay, paired by seed (the training-subset loss and test accuracy at the end: mean difference,
//!   95 % t-interval, verdict; McNemar per seed; examples to the target, per seed);
//! - claim 3: per seed, the spread (max − min over α ∈ {0.05, 0.1, 0.2}) of the final
//!   training-subset loss, CABS against m = 256, paired by seed;
//! - the flags (runs that did not learn, identical runs).
//!
//! A comparison whose sets are not complete yet is listed as waiting, with what it waits for, so
//! the page can be made while the study runs. Nothing is trained here.

use super::metrics::Run;
use super::paired::{better, chance, did_not_learn, identical_runs, t_interval, Interval, Verdict};
use super::paired::{ACCURACY_MARGIN, LOSS_MARGIN};
use super::plan::{Kind, RunSpec};
use super::record::{read_record, Record};
use super::tables::{write_file, Env, Group};
use super::verdicts::{final_loss, interval_text, pair};
use crate::args::Args;
use crate::error::{CliError, CliResult};
use crate::session::Budget;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The baselines of claims 1 and 2: (claim, set folder).
const BASELINES: [(u8, &str); 4] = [(1, "fixed-m64"), (1, "fixed-m256"), (2, "decay-m64"), (2, "decay-m256")];
/// The seeds of the primary comparisons and of claim 3 (docs/STUDY.md).
const MAIN_SEEDS: u64 = 5;
const SPREAD_SEEDS: u64 = 3;
/// Claim 3's α grid.
const SPREAD_ALPHAS: [f64; 3] = [0.05, 0.1, 0.2];
/// CABS's α in the primary comparison.
const CABS_ALPHA: f64 = 0.1;
/// The accuracy whose examples-to are reported (the main sets' `--target-accuracy`).
const TARGET: f64 = 0.98;
pub const STUDY_HEADER: &str = "claim,subject,baseline,measure,seeds,mean,lo,hi,verdict";

/// The complete runs of one set folder, read back (a run still working, or stopped with its
/// checkpoint, is left out), with their records.
fn load_set(dir: &Path, runs: &mut Vec<Run>, records: &mut Vec<Record>) -> CliResult<Vec<usize>> {
    let runs_dir = dir.join("runs");
    let Ok(entries) = std::fs::read_dir(&runs_dir) else { return Ok(Vec::new()) };
    let mut names: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    names.sort();
    let mut loaded = Vec::new();
    for json in names {
        let csv = json.with_extension("csv");
        let Some(rec) = read_record(&csv)? else { continue };
        if json.with_extension("ckpt").exists() || json.with_extension("lock").exists() {
            continue; // stopped mid-run, or working now
        }
        let s = &rec.settings;
        let budget = match (s.steps, s.examples) {
            (Some(n), _) => Budget::Steps(n),
            (None, Some(n)) => Budget::Examples(n),
            (None, None) => return Err(CliError::Io(format!("{}: the record names no budget", json.display()))),
        };
        let spec = RunSpec { kind: Kind::of_rule(&s.rule), alpha: s.alpha, seed: s.seed };
        if let Some(run) = super::run::load_run(&csv, &spec, budget, s.test_examples, rec.diverged.as_deref())? {
            loaded.push(runs.len());
            runs.push(run);
            records.push(rec);
        }
    }
    Ok(loaded)
}

/// A set's runs of one rule and α, by seed 1..=n; None unless every seed is there.
fn group(runs: &[Run], records: &[Record], set: &[usize], rule: &str, alpha: f64, n: u64) -> Option<Group> {
    (1..=n)
        .map(|seed| {
            set.iter().copied().find(|&i| records[i].settings.rule == rule && runs[i].spec.alpha == alpha && runs[i].spec.seed == seed)
        })
        .collect()
}

/// The rule and α of a phase-2 set whose runs share one (the compared sets), over its seeds.
fn rule_of(records: &[Record], set: &[usize]) -> Option<(String, f64)> {
    set.first().map(|&i| (records[i].settings.rule.clone(), records[i].settings.alpha))
}

/// "`cabs` α = 0.05, 0.2": a set's rules, each with its α, in the order they first appear.
fn rules_text(records: &[Record], set: &[usize]) -> String {
    let mut rules: Vec<(String, Vec<f64>)> = Vec::new();
    for &i in set {
        let (r, a) = (&records[i].settings.rule, records[i].settings.alpha);
        match rules.iter_mut().find(|(x, _)| x == r) {
            Some((_, alphas)) if !alphas.contains(&a) => alphas.push(a),
            Some(_) => {}
            None => rules.push((r.clone(), vec![a])),
        }
    }
    if rules.is_empty() {
        return "–".into();
    }
    rules
        .iter()
        .map(|(r, a)| format!("`{r}` α = {}", a.iter().map(f64::to_string).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One comparison's row of study.csv.
fn csv_row(s: &mut String, claim: &str, subject: &str, baseline: &str, measure: &str, iv: Option<&Interval>, v: Option<Verdict>) {
    let n = iv.map_or(0, |iv| iv.diffs.len());
    let num = |x: Option<f64>| x.filter(|x| x.is_finite()).map(|x| format!("{x}")).unwrap_or_default();
    let _ = writeln!(
        s,
        "{claim},{subject},{baseline},{measure},{n},{},{},{},{}",
        num(iv.map(|i| i.mean)),
        num(iv.map(|i| i.lo)),
        num(iv.map(|i| i.hi)),
        v.map_or("", Verdict::word)
    );
}

/// Per-seed differences f(a) − f(b), a and b aligned by seed.
fn diffs(runs: &[Run], a: &Group, b: &Group, f: impl Fn(&Run) -> Option<f64>) -> Option<Vec<f64>> {
    a.iter().zip(b).map(|(&i, &j)| Some(f(&runs[i])? - f(&runs[j])?)).collect()
}

pub fn study(a: Args) -> CliResult<()> {
    if let Some(flag) = a.seen.iter().find(|f| *f != "out") {
        return Err(CliError::usage(format!("study takes only --out DIR (the study's folder), not --{flag}")));
    }
    let dir = a.repro.out.clone();
    let (mut runs, mut records) = (Vec::new(), Vec::new());
    let phase1 = load_set(&dir, &mut runs, &mut records)?;
    let cabs = group(&runs, &records, &phase1, "cabs", CABS_ALPHA, MAIN_SEEDS).ok_or_else(|| {
        CliError::Io(format!(
            "{}: phase 1 is not complete (CABS α = {CABS_ALPHA}, seeds 1–{MAIN_SEEDS}): run bash scripts/study.sh {} first",
            dir.display(),
            dir.display()
        ))
    })?;
    // The test labels (McNemar, chance) from the data set the runs name.
    let first = records[cabs[0]].settings.clone();
    let mut a = a;
    a.settings.data = first.data.clone();
    let labels = crate::dataset::dataset(&a)?.test.labels;
    let window = super::smoothing_window(Budget::Steps(first.steps.unwrap_or(1)), first.m_min);
    let env = Env {
        engine: String::new(),
        data: first.data.clone(),
        model: first.model.clone(),
        seeds: (1..=MAIN_SEEDS).collect(),
        n_test: labels.len(),
        labels,
        budget: 0,
        eval_every: 0,
        steps: None,
        phase_two: None,
        window,
        target: TARGET,
        command: String::new(),
        sens_batches: Vec::new(),
        cabs_settings: String::new(),
    };
    let sets: Vec<(&str, Vec<usize>)> = ["fixed-m64", "fixed-m256", "decay-m64", "decay-m256", "cabs-alphas", "sensitivity-m256"]
        .iter()
        .map(|name| Ok((*name, load_set(&dir.join(name), &mut runs, &mut records)?)))
        .collect::<CliResult<_>>()?;
    let set = |name: &str| sets.iter().find(|(n, _)| *n == name).map(|(_, s)| s.as_slice()).unwrap_or(&[]);

    let mut md = format!(
        "# The paper-scale study: results\n\n`{}` on `{}`, the design of [docs/STUDY.md](../docs/STUDY.md) (fixed before any run). \
Made by `cabs study --out {}` from the sets `scripts/study.sh` made; every comparison is paired by seed, every number \
also in `study.csv`.\n\n",
        env.model,
        env.data,
        dir.display()
    );
    let mut csv = format!("{STUDY_HEADER}\n");
    let _ = writeln!(md, "## Sets\n\n| set | complete runs | rule and α |\n| --- | --- | --- |");
    let _ = writeln!(md, "| phase 1 | {} | CABS α = {CABS_ALPHA}, {} steps |", phase1.len(), first.steps.unwrap_or(0));
    for (name, s) in &sets {
        let _ = writeln!(md, "| `{name}` | {} | {} |", s.len(), rules_text(&records, s));
    }
    let ex: Vec<String> = cabs.iter().map(|&i| runs[i].steps.last().map_or(0, |s| s.examples).to_string()).collect();
    let _ = writeln!(
        md,
        "\nCABS α = {CABS_ALPHA}'s examples in its {} steps, seeds 1–{MAIN_SEEDS}: {}.",
        first.steps.unwrap_or(0),
        ex.join(", ")
    );

    // Claims 1 and 2.
    for claim in [1u8, 2] {
        let title = if claim == 1 {
            "Claim 1: CABS against each fixed batch at its tuned α"
        } else {
            "Claim 2: CABS against each fixed batch with its tuned decay"
        };
        let _ = writeln!(
            md,
            "\n## {title}\n\n| compared with | training-subset loss: CABS − it | test accuracy (points): CABS − it | McNemar per seed (digits only CABS / only it got right) | examples to {} %: CABS − it, per seed |\n| --- | --- | --- | --- | --- |",
            TARGET * 100.0
        );
        for (_, name) in BASELINES.iter().filter(|(c, _)| *c == claim) {
            let s = set(name);
            let base =
                rule_of(&records, s).and_then(|(rule, alpha)| Some((group(&runs, &records, s, &rule, alpha, MAIN_SEEDS)?, rule, alpha)));
            let Some((b, rule, alpha)) = base else {
                let _ = writeln!(md, "| `{name}` | waiting: {} of {MAIN_SEEDS} runs complete | | | |", s.len());
                continue;
            };
            let who = format!("`{rule}` α = {alpha}");
            let p = pair(&runs, &cabs, &b, &env);
            let _ = writeln!(md, "| {who} | {} | {} | {} | {} |", p.loss.0, p.acc.0, p.mcnemar, p.to_target);
            let loss = diffs(&runs, &cabs, &b, |r| final_loss(r, window)).and_then(|d| t_interval(&d));
            let acc = diffs(&runs, &cabs, &b, |r| r.final_accuracy()).and_then(|d| t_interval(&d));
            let claim = claim.to_string();
            csv_row(&mut csv, &claim, "cabs", &rule, "train_subset_loss", loss.as_ref(), p.loss.1);
            csv_row(&mut csv, &claim, "cabs", &rule, "test_accuracy", acc.as_ref(), p.acc.1);
        }
        let _ = writeln!(
            md,
            "\n\"At least as good\": **supported** when the interval lies below +{:.0} % of the baseline's mean loss (above −{:.1} points), \
**not supported** when it lies wholly on the baseline's side of zero, **not shown** otherwise.",
            LOSS_MARGIN * 100.0,
            ACCURACY_MARGIN * 100.0
        );
    }

    // Claim 3: the spread over α, per seed.
    let _ = writeln!(md, "\n## Claim 3: CABS's final training-subset loss varies less over α than m = 256's\n");
    let cabs_at = |alpha: f64| -> Option<Group> {
        if alpha == CABS_ALPHA {
            Some(cabs[..SPREAD_SEEDS as usize].to_vec())
        } else {
            group(&runs, &records, set("cabs-alphas"), "cabs", alpha, SPREAD_SEEDS)
        }
    };
    let fixed_at = |alpha: f64| -> Option<Group> {
        group(&runs, &records, set("sensitivity-m256"), "const:256", alpha, SPREAD_SEEDS)
            .or_else(|| group(&runs, &records, set("fixed-m256"), "const:256", alpha, SPREAD_SEEDS))
    };
    let spreads = |at: &dyn Fn(f64) -> Option<Group>| -> Option<Vec<f64>> {
        let groups: Vec<Group> = SPREAD_ALPHAS.iter().map(|&a| at(a)).collect::<Option<_>>()?;
        (0..SPREAD_SEEDS as usize)
            .map(|s| {
                let v: Vec<f64> = groups.iter().map(|g| final_loss(&runs[g[s]], window)).collect::<Option<_>>()?;
                Some(v.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - v.iter().cloned().fold(f64::INFINITY, f64::min))
            })
            .collect()
    };
    match (spreads(&cabs_at), spreads(&fixed_at)) {
        (Some(c), Some(f)) => {
            let d: Vec<f64> = c.iter().zip(&f).map(|(x, y)| x - y).collect();
            let iv = t_interval(&d);
            let v = iv.as_ref().map(|iv| better(iv, true));
            let per = |v: &[f64]| v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                md,
                "Spread (max − min over α ∈ {{0.05, 0.1, 0.2}}) per seed 1–{SPREAD_SEEDS}: CABS {}; m = 256 {}.\n\nCABS − m = 256: {} **{}** \
(with {SPREAD_SEEDS} seeds only large, consistent differences can be shown).",
                per(&c),
                per(&f),
                iv.as_ref().map_or("–".into(), |iv| interval_text(iv, 1.0, 4)),
                v.map_or("not judged", Verdict::word)
            );
            csv_row(&mut csv, "3", "cabs", "const:256", "spread_train_subset_loss", iv.as_ref(), v);
        }
        _ => {
            let _ = writeln!(md, "Waiting: CABS at α 0.05 and 0.2 (`cabs-alphas`) and m = 256 at α 0.05, 0.1, 0.2 (`sensitivity-m256`, `fixed-m256`), seeds 1–{SPREAD_SEEDS}.");
        }
    }

    // Flags.
    let ch = chance(&env.labels);
    let not_learnt: Vec<String> = (0..runs.len()).filter(|&i| did_not_learn(&runs[i], ch)).map(|i| records[i].label.clone()).collect();
    let same: Vec<String> =
        identical_runs(&runs).iter().map(|g| g.iter().map(|&i| records[i].label.clone()).collect::<Vec<_>>().join(" = ")).collect();
    let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join("; ") };
    let _ = writeln!(
        md,
        "\n## Flags\n\n- Did not learn (diverged, or final test accuracy at most chance {:.2} % + 1 point): {}.\n- Identical runs: {}.",
        ch * 100.0,
        list(&not_learnt),
        list(&same)
    );
    write_file(&dir.join("study.md"), &md)?;
    write_file(&dir.join("study.csv"), &csv)?;
    println!("cabs study: {} runs read; {} and study.csv", runs.len(), dir.join("study.md").display());
    Ok(())
}
