//! `results.md`: the environment and command, the main comparison, the tuning grid, the
//! sensitivity table (means and min–max over seeds), the verdicts and the list of figures.

use super::metrics::{Candidate, Run};
use super::options::{Options, SelectBy};
use super::tables::{f4, group_cell, group_label, over, pct, secs, seed_list, spread_cell, Env, Group, Report};
use std::fmt::Write as _;

fn acc_cell(runs: &[Run], g: &Group) -> String {
    group_cell(runs, g, |r| r.final_accuracy(), |a| pct(Some(a)), "–")
}

/// A cell of a tuning table: the final test accuracy, and with `--select-by train-subset-loss`
/// also the training-subset loss the choice is made on (mean over the seeds), so that the
/// choice can be checked from the table.
fn tuning_cell(runs: &[Run], g: &Group, o: &Options, env: &Env) -> String {
    match o.select_by {
        SelectBy::Accuracy => acc_cell(runs, g),
        SelectBy::TrainSubsetLoss => format!("{} · {}", acc_cell(runs, g), f4(Candidate::of_group(runs, g, env.window).subset_loss)),
    }
}

fn to_target_cell(runs: &[Run], g: &Group, target: f64) -> String {
    group_cell(runs, g, |r| r.examples_to(target), |x| format!("{x:.0}"), "never")
}

/// The comparison set of `--rules`: every rule over the α grid, then each at its best α, paired
/// by seed against the first rule of the list (the verdicts are in `verdicts.rs`).
fn rules(s: &mut String, runs: &[Run], rep: &Report, o: &Options, env: &Env) {
    if rep.rules.is_empty() {
        return;
    }
    let tp = format!("{:.4}", env.target * 100.0).trim_end_matches('0').trim_end_matches('.').to_string();
    let _ = writeln!(s, "\n## Rules compared (`--rules`)\n");
    let chosen = match o.select_by {
        SelectBy::Accuracy => {
            "final test accuracy (mean over the seeds), ties by the lower smoothed training loss; a rule that broke in any \
seed at an α cannot win there. The choice is made on the reported test set, for every rule alike"
                .to_string()
        }
        SelectBy::TrainSubsetLoss => format!(
            "{}; a rule that broke in any seed at an α cannot win there. Each cell shows the final test accuracy · that loss",
            o.select_by.words()
        ),
    };
    let _ = writeln!(
        s,
        "Every rule at every α of the same grid as the fixed batches (`--alphas`, the grid `reproduce` tunes the fixed batch sizes on), \
with the same seeds and budget of examples; each rule keeps its own parameters as given in `--rules`, only α is tuned. Each rule's \
best α (**bold**) is chosen as for the fixed batches: {chosen}.\n"
    );
    let mut head = String::from("| rule \\ α |");
    let mut sep = String::from("| --- |");
    for a in &o.alphas {
        let _ = write!(head, " {a} |");
        sep.push_str(" ---: |");
    }
    let _ = writeln!(s, "{head} best α |\n{sep} ---: |");
    for (rule, row, best) in &rep.rules {
        let _ = write!(s, "| `{rule}` |");
        for (j, g) in row.iter().enumerate() {
            let cell = tuning_cell(runs, g, o, env);
            let _ = if Some(j) == *best { write!(s, " **{cell}** |") } else { write!(s, " {cell} |") };
        }
        let _ = writeln!(s, " {} |", best.map(|b| o.alphas[b].to_string()).unwrap_or_else(|| "all diverged".into()));
    }
    let Some(first) = rep.rules.first().and_then(|(r, row, b)| b.map(|b| (r, &row[b]))) else { return };
    let _ = writeln!(
        s,
        "\nEach rule at its best α, and paired by seed against `{}` at its best α (the difference rule − it, mean [95 % t-interval] and \
the per-seed values; the verdict words as in the verdicts below; McNemar: the test digits only the rule / only `{}` got right, per seed):\n",
        first.0, first.0
    );
    let _ = writeln!(
        s,
        "| rule | α | final test accuracy | examples to {tp} % | batch at 25/50/75/100 % | training loss: rule − `{f}` | test accuracy (points): rule − `{f}` | McNemar per seed | examples to {tp} %: rule − `{f}`, per seed |\n| --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |",
        f = first.0
    );
    let int = |x: f64| format!("{x:.0}");
    for (rule, row, best) in &rep.rules {
        let Some(b) = best else { continue };
        let g = &row[*b];
        let bq = |q| spread_cell(over(runs, g, |r| r.batch_at(q).map(f64::from)), int);
        let (loss, acc, mc, to) = if std::ptr::eq(g, first.1) {
            ("–".to_string(), "–".to_string(), "–".to_string(), "–".to_string())
        } else {
            let p = super::verdicts::pair(runs, g, first.1, env);
            (p.loss.0, p.acc.0, p.mcnemar, p.to_target)
        };
        let _ = writeln!(
            s,
            "| `{rule}` | {} | {} | {} | {}/{}/{}/{} | {loss} | {acc} | {mc} | {to} |",
            o.alphas[*b],
            acc_cell(runs, g),
            to_target_cell(runs, g, env.target),
            bq(0.25),
            bq(0.5),
            bq(0.75),
            bq(1.0)
        );
    }
    let _ = writeln!(
        s,
        "\nFigure: [`figures/rules.svg`](figures/rules.svg) (each rule's batch size against training examples, at its best α{}).",
        if rep.rules_only() { "" } else { "; test accuracy in [`figures/rules_accuracy.svg`](figures/rules_accuracy.svg)" }
    );
}

/// Which builds trained the runs, from their records (`runs/<label>.json`): a page assembled
/// later by another build reads the runs back without retraining them, so the header's engine
/// (the one this binary selects) does not say what trained them; the records do. Only the
/// records enter, never this binary's own version, so that the page regenerates the same.
fn engine_builds(runs: &[Run], o: &Options) -> String {
    let mut builds: Vec<(String, usize)> = Vec::new();
    let (mut adopted, mut unrecorded) = (Vec::new(), 0usize);
    for r in runs {
        let csv = o.out.join("runs").join(format!("{}.csv", r.spec.label()));
        match super::record::read_record(&csv) {
            Ok(Some(rec)) => match (&rec.engine, &rec.adopted) {
                (Some(e), _) => {
                    let name = format!("cabs {}, engine sources `{}`, {}", e.crate_version, e.source_hash, e.device);
                    match builds.iter_mut().find(|b| b.0 == name) {
                        Some(b) => b.1 += 1,
                        None => builds.push((name, 1)),
                    }
                }
                (None, note) => adopted.push(note.clone().unwrap_or_default()),
            },
            _ => unrecorded += 1,
        }
    }
    let mut parts: Vec<String> = builds.iter().map(|(n, c)| format!("{n} ({c} run{})", if *c == 1 { "" } else { "s" })).collect();
    if !adopted.is_empty() {
        adopted.dedup();
        parts.push(format!(
            "{} run{} adopted without a record of their engine ({}: {})",
            adopted.len(),
            if adopted.len() == 1 { "" } else { "s" },
            super::record::ADOPT_ENV,
            adopted.join("; ")
        ));
    }
    if unrecorded > 0 {
        parts.push(format!("{unrecorded} run{} without a readable record", if unrecorded == 1 { "" } else { "s" }));
    }
    format!(
        "**Trained by:** {} — from the runs' records (`runs/<label>.json`). These tables are assembled from the run files (`--resume`): \
a later build reads them back and retrains nothing, so the engine named above is the one this command selects, and the records say \
which build trained each run.\n",
        parts.join("; ")
    )
}

/// The runs that did not learn, and the runs that are the same run under two labels.
fn flags(s: &mut String, runs: &[Run], env: &Env) {
    use super::paired::{chance, did_not_learn, identical_runs, LEARN_MARGIN};
    let ch = chance(&env.labels);
    let _ = writeln!(s, "\n## Flags\n");
    let stuck: Vec<String> = runs.iter().filter(|r| did_not_learn(r, ch)).map(|r| format!("`{}`", r.spec.label())).collect();
    let _ = writeln!(
        s,
        "**Did not learn** (diverged, or final test accuracy at most chance + {:.0} point, chance being the share of the most common test \
label, {:.2} %): {} of {} runs{}\n",
        LEARN_MARGIN * 100.0,
        ch * 100.0,
        stuck.len(),
        runs.len(),
        if stuck.is_empty() { ".".to_string() } else { format!(": {}.", stuck.join(", ")) }
    );
    let same = identical_runs(runs);
    let _ = writeln!(
        s,
        "**Identical runs** (the same batch, examples and loss at every step, bit for bit; for example a CABS run whose batch never left \
m_min and the fixed m_min run of its α and seed): {}\n",
        if same.is_empty() {
            "none.".to_string()
        } else {
            same.iter()
                .map(|g| g.iter().map(|&i| format!("`{}`", runs[i].spec.label())).collect::<Vec<_>>().join(" = "))
                .collect::<Vec<_>>()
                .join("; ")
                + "."
        }
    );
}

pub(super) fn results_md(runs: &[Run], rep: &Report, o: &Options, env: &Env, extra: &[String]) -> String {
    let t = env.target;
    let tp = format!("{:.4}", t * 100.0).trim_end_matches('0').trim_end_matches('.').to_string();
    let k = env.seeds.len();
    let mut s = String::new();
    let alone = rep.rules_only();
    let _ = writeln!(s, "{}", if alone { "# Batch-size rules compared: results\n" } else { "# CABS reproduction: results\n" });
    let _ = writeln!(
        s,
        "**Environment:** engine {}; data {}; model `{}`; seed{} {}; {}; CABS {}; {} runs, {:.1} s of run time (the runs' wall times summed).\n",
        env.engine,
        env.data,
        env.model,
        if k > 1 { "s" } else { "" },
        seed_list(&env.seeds),
        match env.steps {
            Some((n, every)) => format!(
                "budget {n} steps per run (at most {} training examples); test evaluation every {every} steps",
                env.budget
            ),
            None => format!("budget {} training examples per run; test evaluation every ~{} examples", env.budget, env.eval_every),
        },
        env.cabs_settings,
        runs.len(),
        runs.iter().map(|r| r.wall_s).sum::<f64>()
    );
    if alone {
        let _ = writeln!(s, "{}", engine_builds(runs, o));
    }
    let _ = writeln!(s, "**Command:** `{}`\n", env.command);
    let seeds_note = if k > 1 {
        format!(
            "Each rule and α ran once per seed ({}): a seed sets the initial weights and the data order, the same for every rule. \
Cells give the mean over the seeds and, in brackets, the min–max; runs that diverged or never reached the target are counted, not averaged. ",
            seed_list(&env.seeds)
        )
    } else {
        "One seed: every run starts from the same initial weights and sees the same data order. ".to_string()
    };
    let _ = writeln!(
        s,
        "{} {seeds_note}\
\"Examples to {tp} %\" is the first test evaluation at or above {tp} % test accuracy, linearly interpolated from the evaluation before it; \
seconds count training steps only (evaluations excluded), measured on this machine while the runs ran. \
The smoothed training loss is the mean batch loss over the last {} training examples, each batch weighted by its size. \
Batch at 25/50/75/100 % is the batch size of the step at that fraction of the run's steps.\n",
        if env.steps.is_some() {
            "Every run trains for the same number of steps, so the examples differ between runs: compared per example, a run that \
used fewer had less training (docs/STUDY.md's phase 1, which fixes the example budget of every other run)."
        } else {
            "Every run trains on the same number of examples."
        },
        env.window
    );
    if let Some(line) = &env.phase_two {
        let _ = writeln!(
            s,
            "## Phase-2 budget\n\nThe budget B of every other run (docs/STUDY.md): the mean over the seeds of the training examples CABS \
used in its steps, rounded up to a multiple of 10,000. As `cabs reproduce` printed it:\n\n```\n{line}\n```\n"
        );
    }

    if alone {
        let _ = writeln!(s, "## Each rule at its best α\n");
        let _ = writeln!(
            s,
            "Every rule of `--rules` at the α of the grid below that gave it {} (`summary.csv`; every run in \
`all_runs.csv`). CABS is tuned here like every other rule.\n",
            match o.select_by {
                SelectBy::Accuracy => "the highest final test accuracy",
                SelectBy::TrainSubsetLoss => "the lowest loss on the fixed training subset at the last evaluation",
            }
        );
    } else {
        let _ = writeln!(s, "## Main comparison\n");
        let _ = writeln!(
            s,
            "CABS at α = {} (not tuned); for each fixed batch m the best constant α of the grid below; and that α with inverse-time decay \
α/(1 + k·t), {}, so that α has halved after half the budget (the decay starts from the constant-α optimum; it was not tuned separately).\n",
            o.cabs_alpha,
            match env.steps {
                Some((n, _)) => format!("k = 2/{n} ({n} steps)"),
                None => "k = 2m/budget".to_string(),
            }
        );
    }
    let mut head = format!(
        "| run | role | rule | α | final test accuracy | final test loss | smoothed train loss | examples to {tp} % | seconds to {tp} % | steps | examples | wall s | batch at 25/50/75/100 % |"
    );
    let mut sep = String::from("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for n in extra {
        let _ = write!(head, " {n} |");
        sep.push_str(" --- |");
    }
    let _ = writeln!(s, "{head}\n{sep}");
    let int = |x: f64| format!("{x:.0}");
    for (g, role) in rep.reported() {
        let r = &runs[g[0]];
        let b = |q| spread_cell(over(runs, g, |r| r.batch_at(q).map(f64::from)), int);
        let _ = write!(
            s,
            "| {} | {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}/{}/{} |",
            group_label(runs, g),
            role,
            r.spec.rule(),
            r.spec.alpha,
            acc_cell(runs, g),
            group_cell(runs, g, |r| r.final_test_loss(), |v| f4(Some(v)), "–"),
            group_cell(runs, g, |r| r.final_train_loss(env.window), |v| f4(Some(v)), "–"),
            to_target_cell(runs, g, t),
            group_cell(runs, g, |r| r.seconds_to(t), secs, "never"),
            spread_cell(over(runs, g, |r| Some(r.steps_done() as f64)), int),
            spread_cell(over(runs, g, |r| r.steps.last().map(|l| l.examples as f64)), int),
            spread_cell(over(runs, g, |r| Some(r.wall_s)), secs),
            b(0.25),
            b(0.5),
            b(0.75),
            b(1.0)
        );
        // The conv-ξ columns: of the first seed's run.
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
            "Each cell is a full run with the whole budget. The best α per m (**bold**) is chosen by {} (CABS is not tuned).\n",
            match o.select_by {
                SelectBy::Accuracy => format!(
                    "final test accuracy{}, ties by the lower smoothed training loss; it is picked on the same test set that is reported, which \
favours the fixed-batch baselines",
                    if k > 1 { " (mean over the seeds)" } else { "" }
                ),
                SelectBy::TrainSubsetLoss => format!("{}; each cell shows the final test accuracy · that loss", o.select_by.words()),
            }
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
            for (j, g) in row.iter().enumerate() {
                let cell = tuning_cell(runs, g, o, env);
                if Some(j) == *best {
                    let _ = write!(s, " **{cell}** |");
                } else {
                    let _ = write!(s, " {cell} |");
                }
            }
            let _ = writeln!(s, " {} |", best.map(|b| runs[row[b][0]].spec.alpha.to_string()).unwrap_or_else(|| "all diverged".into()));
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
            let cell = |g: &Group| format!("{} / {}", acc_cell(runs, g), to_target_cell(runs, g, t));
            let _ = write!(s, "| {alpha} | {} |", cell(c));
            for g in fixed {
                let _ = write!(s, " {} |", cell(g));
            }
            s.push('\n');
        }
    }

    rules(&mut s, runs, rep, o, env);
    flags(&mut s, runs, env);
    s.push_str(&super::verdicts::verdicts(runs, rep, env));

    let _ = writeln!(s, "\n## Figures\n");
    if alone {
        for (f, what) in super::figures::RULES_ONLY_FIGURES {
            let _ = writeln!(s, "- {what}: [`figures/{f}.svg`](figures/{f}.svg)");
        }
        let _ = writeln!(s, "\nEvery rule at its best α. With several seeds the lines are {}.", super::figures::RULES_LINES);
        let _ = writeln!(
            s,
            "\nPer-step logs: `runs/<label>.csv` (or `.csv.gz`; the columns of `cabs train --csv`, plus `train_ms`, training time without \
evaluations, and `train_subset_loss`), each with its record `runs/<label>.json` (settings and engine) and final predictions \
`runs/<label>.pred` (one byte per test example); one row per run (and seed) in `all_runs.csv`, each rule at its best α in `summary.csv`."
        );
        return s;
    }
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
    if k > 1 {
        let _ = writeln!(s, "\nWith several seeds the lines are means over the seeds and the shaded bands their min–max.");
    }
    let _ = writeln!(
        s,
        "\nPer-step logs: `runs/<label>.csv` (the columns of `cabs train --csv`, plus `train_ms`, training time without evaluations); \
one row per run (and seed) in `all_runs.csv`, the main comparison in `summary.csv`."
    );
    s
}
