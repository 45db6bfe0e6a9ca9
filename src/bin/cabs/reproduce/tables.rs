//! What the tables share: the experiments' run groups ([`Report`]), the run environment,
//! `summary.csv` / `all_runs.csv` (one row per run and seed), and cell formatting over seeds.

use super::metrics::{spread, Run, Spread};
use super::plan::{RunSpec, PLAIN_SEED};
use crate::error::{CliError, CliResult};
use std::fmt::Write as _;
use std::path::Path;

pub(super) fn command_line() -> String {
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

pub(super) fn write_file(path: &Path, text: &str) -> CliResult<()> {
    super::record::regular_or_absent(path)?;
    std::fs::write(path, text).map_err(|e| CliError::write(path, e))
}

// ---------------------------------------------------------------------------------------------
// Tables

/// One rule at one α: its runs, one per seed (indices into the run list, in seed order).
pub type Group = Vec<usize>;

/// The run groups, by experiment.
pub(super) struct Report {
    pub cabs: Option<Group>,
    pub best_fixed: Vec<Group>,
    pub decay: Vec<Group>,
    /// Per batch size: the groups of the α grid (in `--alphas` order) and the best one's position.
    pub grid: Vec<(u32, Vec<Group>, Option<usize>)>,
    /// Per α: the CABS group and the fixed-m groups (in `sensitivity_batches` order).
    pub sensitivity: Vec<(f64, Group, Vec<Group>)>,
    /// Per rule of `--rules`: the groups of the α grid (in `--alphas` order) and the best one's
    /// position (chosen as for the fixed batches).
    pub rules: Vec<(String, Vec<Group>, Option<usize>)>,
    /// How every best α above was chosen (`--select-by`).
    pub select_by: super::SelectBy,
}

impl Report {
    /// The main comparison: CABS, the best constant-α run and the decay run of every m. In a set
    /// of rules alone ([`Report::rules_only`]), each rule at its best α instead (role
    /// `best-alpha`), so that summary.csv, the main table and the figures over examples and time
    /// show the comparison rather than nothing.
    pub(super) fn reported(&self) -> Vec<(&Group, &'static str)> {
        if self.rules_only() {
            return self.best_rules().into_iter().map(|g| (g, "best-alpha")).collect();
        }
        let mut v: Vec<(&Group, &'static str)> = self.cabs.iter().map(|g| (g, "cabs")).collect();
        v.extend(self.best_fixed.iter().map(|g| (g, "best-fixed")));
        v.extend(self.decay.iter().map(|g| (g, "decay")));
        v
    }

    /// A comparison of `--rules` alone (`--only rules`): no CABS part, grid, decay or
    /// sensitivity study. Its page is about the rules, not the paper's claims.
    pub(super) fn rules_only(&self) -> bool {
        !self.rules.is_empty() && self.cabs.is_none() && self.grid.is_empty() && self.decay.is_empty() && self.sensitivity.is_empty()
    }

    /// Each rule of `--rules` at its best α, in `--rules` order (rules whose every α broke are
    /// left out).
    pub(super) fn best_rules(&self) -> Vec<&Group> {
        self.rules.iter().filter_map(|(_, row, best)| best.map(|b| &row[b])).collect()
    }
}

/// "1", "1–3", "1, 5, 9".
pub(super) fn seed_list(seeds: &[u64]) -> String {
    let contiguous = seeds.windows(2).all(|w| w[1] == w[0] + 1);
    match seeds {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if contiguous => format!("{first}–{last}"),
        _ => seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// The label of a group: its run's label with one seed, else the label without a seed suffix.
pub(super) fn group_label(runs: &[Run], g: &Group) -> String {
    match g.as_slice() {
        [one] => runs[*one].spec.label(),
        _ => g.first().map(|&i| RunSpec { seed: PLAIN_SEED, ..runs[i].spec.clone() }.label()).unwrap_or_default(),
    }
}

/// The spread of `f` over a group's runs.
pub(super) fn over(runs: &[Run], g: &Group, f: impl Fn(&Run) -> Option<f64>) -> Option<Spread> {
    spread(g.iter().map(|&i| f(&runs[i])))
}

/// "v" for one value (or several equal ones), "mean (min–max)" for several, each through `f`; "–" when none.
pub(super) fn spread_cell(s: Option<Spread>, f: impl Fn(f64) -> String) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n == 1 || s.min == s.max => f(s.mean),
        Some(s) => format!("{} ({}–{})", f(s.mean), f(s.min), f(s.max)),
    }
}

/// A figure of a group, with how many seeds lack it (diverged, failed, never reached).
pub(super) fn group_cell(runs: &[Run], g: &Group, f: impl Fn(&Run) -> Option<f64>, fmt: impl Fn(f64) -> String, missing: &str) -> String {
    let s = over(runs, g, f);
    let broken = g.iter().filter(|&&i| runs[i].broken()).count();
    if g.len() == 1 {
        let r = &runs[g[0]];
        if r.failed.is_some() {
            return "failed".into();
        }
        if r.diverged.is_some() {
            return format!("diverged (step {})", r.steps.len() + 1);
        }
        return s.map(|s| fmt(s.mean)).unwrap_or_else(|| missing.into());
    }
    let cell = spread_cell(s, &fmt);
    match s.map_or(g.len(), |s| s.missing) {
        0 => cell,
        k if k == g.len() && broken == k => format!("diverged or failed in all {k} seeds"),
        k if s.is_none() => format!("{missing} in all {k} seeds"),
        k if broken == k => format!("{cell} [{k} of {} seeds diverged or failed]", g.len()),
        k => format!("{cell} [{missing} in {k} of {} seeds]", g.len()),
    }
}

pub(super) struct Env {
    pub engine: String,
    pub data: String,
    pub model: String,
    pub seeds: Vec<u64>,
    /// Test examples: the binomial noise of test accuracy.
    pub n_test: usize,
    /// The test labels: McNemar's test and chance level.
    pub labels: Vec<u32>,
    /// Training examples per run; with a steps budget the most any run used.
    pub budget: u64,
    pub eval_every: u64,
    /// With `--steps N`: N and the evaluation period in steps (the runs' examples then differ).
    pub steps: Option<(u64, u64)>,
    /// With `--steps` and CABS runs: the phase-2 budget B line ([`super::phase_two_budget`]).
    pub phase_two: Option<String>,
    pub window: u64,
    pub target: f64,
    pub command: String,
    pub sens_batches: Vec<u32>,
    pub cabs_settings: String,
}

/// Header of summary.csv and all_runs.csv (then the extra columns, if any).
pub const SUMMARY_HEADER: &str = "label,role,rule,alpha,status,final_test_accuracy,final_test_loss,final_train_loss_smoothed,\
examples_to_target,seconds_to_target,steps,examples,wall_seconds,batch_at_25,batch_at_50,batch_at_75,batch_at_100";

pub(super) fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

pub(super) fn extra_names(runs: &[Run]) -> Vec<String> {
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

/// One row per (run index, role); `role` None: every role of the run, joined by `+`. After the
/// extra columns comes `final_train_subset_loss` when any run of the set measured it (the
/// study's measure of training loss, docs/STUDY.md).
pub(super) fn summary_csv(runs: &[Run], which: &[(usize, Option<&str>)], env: &Env, extra: &[String]) -> String {
    let mut s = String::from(SUMMARY_HEADER);
    for n in extra {
        s.push(',');
        s.push_str(n);
    }
    let subset = runs.iter().any(|r| r.final_subset_loss().is_some());
    if subset {
        s.push_str(",final_train_subset_loss");
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
        if subset {
            s.push(',');
            s.push_str(&opt(r.final_subset_loss()));
        }
        s.push('\n');
    }
    s
}

/// Header of best_alpha.csv: each grid row's chosen α, for scripts that run a tuned set next
/// (`part` is `grid` or `rules`; `value` is the statistic `selected_by` chose on, mean over seeds).
pub const BEST_ALPHA_HEADER: &str = "part,row,alpha,selected_by,value";

/// best_alpha.csv: one row per fixed batch size of the α grid (`const:M`) and per rule of
/// `--rules`, with the α that `--select-by` chose; α and value are empty where every α broke.
pub(super) fn best_alpha_csv(runs: &[Run], report: &Report, window: u64) -> String {
    use super::metrics::Candidate;
    use super::SelectBy;
    let by = report.select_by;
    let mut s = format!("{BEST_ALPHA_HEADER}\n");
    let rows = report.grid.iter().map(|(m, row, best)| ("grid", format!("const:{m}"), row, best));
    for (part, name, row, best) in rows.chain(report.rules.iter().map(|(r, row, best)| ("rules", r.clone(), row, best))) {
        let chosen = best.map(|b| &row[b]);
        let alpha = chosen.and_then(|g| g.first()).map(|&i| runs[i].spec.alpha.to_string()).unwrap_or_default();
        let value = chosen.map(|g| Candidate::of_group(runs, g, window)).and_then(|c| match by {
            SelectBy::Accuracy => c.accuracy,
            SelectBy::TrainSubsetLoss => c.subset_loss,
        });
        // No field is quoted: `--rules` is split on commas, so a rule holds none.
        let _ = writeln!(s, "{part},{name},{alpha},{},{}", by.flag(), opt(value));
    }
    s
}

pub(super) fn pct(v: Option<f64>) -> String {
    v.map(|a| format!("{:.2} %", a * 100.0)).unwrap_or_else(|| "–".into())
}

pub(super) fn f4(v: Option<f64>) -> String {
    v.map(|a| format!("{a:.4}")).unwrap_or_else(|| "–".into())
}

/// Seconds with about three significant digits.
pub(super) fn secs(x: f64) -> String {
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
