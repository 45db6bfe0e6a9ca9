//! The tables: `summary.csv`, `all_runs.csv` and `results.md`.

use super::metrics::Run;
use super::options::Options;
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
    std::fs::write(path, text).map_err(|e| CliError::write(path, e))
}

// ---------------------------------------------------------------------------------------------
// Tables

/// Indices into the run list, by experiment.
pub(super) struct Report {
    pub cabs: Option<usize>,
    pub best_fixed: Vec<usize>,
    pub decay: Vec<usize>,
    /// Per batch size: the runs of the α grid (in `--alphas` order) and the best one.
    pub grid: Vec<(u32, Vec<usize>, Option<usize>)>,
    /// Per α: the CABS run and the fixed-m runs (in `sensitivity_batches` order).
    pub sensitivity: Vec<(f64, usize, Vec<usize>)>,
}

impl Report {
    /// The main comparison: CABS, the best constant-α run and the decay run of every m.
    pub(super) fn reported(&self) -> Vec<(usize, &'static str)> {
        let mut v: Vec<(usize, &'static str)> = self.cabs.iter().map(|&i| (i, "cabs")).collect();
        v.extend(self.best_fixed.iter().map(|&i| (i, "best-fixed")));
        v.extend(self.decay.iter().map(|&i| (i, "decay")));
        v
    }
}

pub(super) struct Env {
    pub engine: String,
    pub data: String,
    pub model: String,
    pub seed: u64,
    pub budget: u64,
    pub eval_every: u64,
    pub window: u64,
    pub target: f64,
    pub command: String,
    pub total_s: f64,
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

/// One row per (run index, role); `role` None: every role of the run, joined by `+`.
pub(super) fn summary_csv(runs: &[Run], which: &[(usize, Option<&str>)], env: &Env, extra: &[String]) -> String {
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

pub(super) fn acc_cell(r: &Run) -> String {
    if r.failed.is_some() {
        return "failed".into();
    }
    match (&r.diverged, r.final_accuracy()) {
        (Some(_), _) => format!("diverged (step {})", r.steps.len() + 1),
        (None, a) => pct(a),
    }
}

pub(super) fn to_target_cell(r: &Run, target: f64) -> String {
    r.examples_to(target).map(|x| format!("{:.0}", x)).unwrap_or_else(|| "never".into())
}

pub(super) fn results_md(runs: &[Run], rep: &Report, o: &Options, env: &Env, extra: &[String]) -> String {
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
