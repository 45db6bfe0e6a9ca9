//! The verdicts section of `results.md`: the paper's three claims judged from the runs, on the
//! training loss (the paper's measure: CABS is about optimisation) and on test accuracy. Every
//! verdict comes from the per-seed differences and their 95 % t-interval (`paired.rs`), in one
//! vocabulary: "supported", "not shown", and "not supported" only for evidence against. The
//! tables of values ± standard error are descriptive.

use super::metrics::{accuracy_se, best_candidate, Candidate, Run};
use super::paired::{at_least_as_good, better, identical_runs, mcnemar, t95, t_interval, Interval, Verdict, ACCURACY_MARGIN, LOSS_MARGIN};
use super::tables::{over, Env, Group, Report};
use super::SelectBy;
use std::fmt::Write as _;

/// A group's final figure: the mean over its seeds and the standard error of that mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    pub value: f64,
    pub se: f64,
}

/// Combine the within-run noise with the seed spread (standard error of the mean over k
/// seeds; unknown, so left out, with one seed).
fn combine(value: f64, within: f64, sd: Option<f64>, k: usize) -> Measured {
    let seed = sd.map_or(0.0, |sd| sd / (k as f64).sqrt());
    Measured { value, se: (within * within + seed * seed).sqrt() }
}

/// Final smoothed training loss of a group; None if any seed diverged or failed.
pub fn train_loss(runs: &[Run], g: &Group, window: u64) -> Option<Measured> {
    if g.iter().any(|&i| runs[i].broken()) {
        return None;
    }
    let s = over(runs, g, |r| r.final_train_loss(window))?;
    // Different seeds see different batches: their window noise averages down.
    let within = over(runs, g, |r| r.final_train_loss_se(window)).map_or(0.0, |w| w.mean / (s.n as f64).sqrt());
    Some(combine(s.mean, within, s.sd, s.n))
}

/// The smoothed training loss of a group after `step` steps; None if a seed has fewer steps.
pub fn loss_at_step(runs: &[Run], g: &Group, step: u64, window: u64) -> Option<Measured> {
    let v: Vec<(f64, Option<f64>)> = g.iter().map(|&i| runs[i].train_loss_at_step(step, window)).collect::<Option<_>>()?;
    let s = super::metrics::spread(v.iter().map(|p| Some(p.0)))?;
    let within = v.iter().map(|p| p.1.unwrap_or(0.0)).sum::<f64>() / v.len() as f64 / (v.len() as f64).sqrt();
    Some(combine(s.mean, within, s.sd, s.n))
}

/// How `a` compares with `b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// `a` is better beyond the noise.
    Ahead,
    /// `b` is better beyond the noise.
    Behind,
    Within,
}

/// Compare two measurements; `lower_is_better` for losses. Returns the outcome, a − b and the
/// threshold (2 × the combined standard error).
pub fn compare(a: Measured, b: Measured, lower_is_better: bool) -> (Outcome, f64, f64) {
    let d = a.value - b.value;
    let noise = 2.0 * (a.se * a.se + b.se * b.se).sqrt();
    let outcome = if d.abs() <= noise {
        Outcome::Within
    } else if (d < 0.0) == lower_is_better {
        Outcome::Ahead
    } else {
        Outcome::Behind
    };
    (outcome, d, noise)
}

/// One side of a comparison: a loss or an accuracy in percent, with its standard error.
fn show(m: Measured, pct: bool) -> String {
    if pct {
        format!("{:.2} ± {:.2} %", 100.0 * m.value, 100.0 * m.se)
    } else {
        format!("{:.4} ± {:.4}", m.value, m.se)
    }
}

/// The training loss a verdict uses for one run: the loss on the fixed training subset at the
/// last evaluation when the run measured it, else the smoothed batch loss at the end.
pub fn final_loss(run: &Run, window: u64) -> Option<f64> {
    if run.broken() {
        return None;
    }
    run.evals.last().and_then(|e| e.train_subset_loss).or_else(|| run.final_train_loss(window))
}

/// Per-seed differences f(a) − f(b), the two groups paired by seed; None if a seed is missing on
/// either side or a value is.
pub fn paired_diffs(runs: &[Run], a: &Group, b: &Group, f: impl Fn(&Run) -> Option<f64>) -> Option<Vec<f64>> {
    a.iter()
        .map(|&i| {
            let j = b.iter().find(|&&j| runs[j].spec.seed == runs[i].spec.seed)?;
            Some(f(&runs[i])? - f(&runs[*j])?)
        })
        .collect()
}

/// "−0.0082 [−0.0201, +0.0037] (seeds: −0.0090, −0.0030, −0.0125)", scaled by `scale`.
pub(super) fn interval_text(iv: &Interval, scale: f64, p: usize) -> String {
    let each = iv.diffs.iter().map(|d| format!("{:+.p$}", d * scale)).collect::<Vec<_>>().join(", ");
    let bound = |x: f64| {
        if x.is_finite() {
            format!("{:+.p$}", x * scale)
        } else if x < 0.0 {
            "−∞".into()
        } else {
            "∞".into()
        }
    };
    format!("{:+.p$} [{}, {}] (seeds: {each})", iv.mean * scale, bound(iv.lo), bound(iv.hi))
}

/// McNemar per seed pair, "s1: 23 vs 41, p = 0.030; …", or why there is none.
fn mcnemar_text(runs: &[Run], a: &Group, b: &Group, labels: &[u32]) -> String {
    let v: Option<Vec<String>> = a
        .iter()
        .map(|&i| {
            let j = *b.iter().find(|&&j| runs[j].spec.seed == runs[i].spec.seed)?;
            let m = mcnemar(runs[i].predictions.as_deref()?, runs[j].predictions.as_deref()?, labels)?;
            Some(format!("s{}: {} vs {}, p = {}", runs[i].spec.seed, m.only_a, m.only_b, p_text(m.p)))
        })
        .collect();
    v.map_or("– (predictions not kept)".into(), |v| v.join("; "))
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// One paired comparison of `a` against `b` ("at least as good"): training loss (margin 5 % of
/// b's mean loss) and test accuracy (margin 0.2 points), as table cells and verdicts.
pub(super) struct Pair {
    pub loss: (String, Option<Verdict>),
    pub acc: (String, Option<Verdict>),
    pub mcnemar: String,
    pub to_target: String,
}

pub(super) fn pair(runs: &[Run], a: &Group, b: &Group, env: &Env) -> Pair {
    let w = env.window;
    let none = || ("– (a run diverged or failed)".to_string(), None);
    let loss = paired_diffs(runs, a, b, |r| final_loss(r, w)).and_then(|d| t_interval(&d)).map_or_else(none, |iv| {
        let base = over(runs, b, |r| final_loss(r, w)).map_or(0.0, |s| s.mean);
        let v = at_least_as_good(&iv, true, LOSS_MARGIN * base);
        (format!("{} **{}**", interval_text(&iv, 1.0, 4), v.word()), Some(v))
    });
    let acc = paired_diffs(runs, a, b, |r| r.final_accuracy()).and_then(|d| t_interval(&d)).map_or_else(none, |iv| {
        let v = at_least_as_good(&iv, false, ACCURACY_MARGIN);
        (format!("{} **{}**", interval_text(&iv, 100.0, 2), v.word()), Some(v))
    });
    let to_target = paired_diffs(runs, a, b, |r| r.examples_to(env.target))
        .map(|d| d.iter().map(|x| format!("{x:+.0}")).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "– (a run never reached it)".into());
    Pair { loss, acc, mcnemar: mcnemar_text(runs, a, b, &env.labels), to_target }
}

/// The verdict line of one measure over several comparators: each verdict word with the
/// comparators it holds for.
fn verdict_line(items: &[(String, Option<Verdict>)]) -> String {
    let mut parts = Vec::new();
    for v in [Verdict::Supported, Verdict::NotShown, Verdict::NotSupported] {
        let names: Vec<&str> = items.iter().filter(|i| i.1 == Some(v)).map(|i| i.0.as_str()).collect();
        if !names.is_empty() {
            parts.push(format!("**{}** against {}", v.word(), names.join(", ")));
        }
    }
    if parts.is_empty() {
        "not judged (no comparable runs)".into()
    } else {
        parts.join("; ")
    }
}

/// The table and verdicts of claim 1 for one CABS group against every best fixed batch.
fn against_best_fixed(s: &mut String, runs: &[Run], rep: &Report, env: &Env, c: &Group) {
    let tp = env.target * 100.0;
    let _ = writeln!(
        s,
        "| compared with | training loss: CABS − it | test accuracy (points): CABS − it | McNemar per seed (digits only CABS / only it got right) | examples to {tp} %: CABS − it, per seed |\n| --- | --- | --- | --- | --- |"
    );
    let (mut on_loss, mut on_acc) = (Vec::new(), Vec::new());
    for g in &rep.best_fixed {
        let n = name(runs, g);
        let p = pair(runs, c, g, env);
        let _ = writeln!(s, "| {n} | {} | {} | {} | {} |", p.loss.0, p.acc.0, p.mcnemar, p.to_target);
        on_loss.push((n.clone(), p.loss.1));
        on_acc.push((n, p.acc.1));
    }
    let alpha = runs[c[0]].spec.alpha;
    let _ = writeln!(s, "\n- CABS α = {alpha}, on the training loss: {}.", verdict_line(&on_loss));
    let _ = writeln!(s, "- CABS α = {alpha}, on test accuracy: {}.\n", verdict_line(&on_acc));
}

fn name(runs: &[Run], g: &Group) -> String {
    runs[g[0]].spec.legend()
}

/// The whole "Verdicts" section.
pub(super) fn verdicts(runs: &[Run], rep: &Report, env: &Env) -> String {
    let mut s = String::new();
    let w = env.window;
    let k = env.seeds.len();
    let _ = writeln!(s, "\n## Verdicts\n");
    // In a set of rules alone the subject of every comparison is a rule, against the first.
    let d = match (rep.rules_only(), rep.rules.first()) {
        (true, Some((first, _, _))) => format!("rule − `{first}`"),
        _ => "CABS − baseline".to_string(),
    };
    let _ = writeln!(
        s,
        "Generated from the runs above. **How a verdict is reached.** Every comparison is paired by seed: the two runs of a seed share \
initial weights, data order and test examples, so the statistic is the mean of the per-seed differences d = {d} with its \
two-sided 95 % t-interval ({k} seed{ps}: t = {t}). The words are one vocabulary: **supported** when the interval lies wholly on the claim's \
side; **not supported** only for evidence against (the interval wholly on the other side of zero); **not shown** for anything else, where \
the noise decides and nothing is claimed either way. For \"at least as good\", the claim's side is below a margin of {lm} % of the \
baseline's mean training loss, or above −{am} points of test accuracy. {few} The training loss is the loss on the fixed training subset \
at the last evaluation where the runs measured it, else the smoothed batch loss over the last {w} examples. When both runs kept their final \
predictions, McNemar's exact test per seed pair says whether that seed's accuracy difference is beyond the test set's noise (it does not \
decide the verdict). A test accuracy p on {n} test examples has a binomial standard error of {a95:.2} points at 95 %. \"Examples to \
target\" is resolved only to one evaluation interval (~{ev} examples); it is reported per seed, and no verdict uses it.\n",
        ps = if k == 1 { "" } else { "s" },
        t = if k < 2 { "none (one seed: every interval is unbounded)".to_string() } else { format!("{:.2}", t95(k - 1)) },
        lm = LOSS_MARGIN * 100.0,
        am = ACCURACY_MARGIN * 100.0,
        few = if k == 1 {
            "**One seed**: the spread between seeds is unknown, so no interval can be formed and every verdict is \"not shown\"."
                .to_string()
        } else if k <= 3 {
            format!("With {k} seeds only large, consistent differences can leave \"not shown\"; a sign test could not go below p = {:.2}.", 2.0 * 0.5f64.powi(k as i32))
        } else {
            String::new()
        },
        n = env.n_test,
        a95 = 100.0 * accuracy_se(0.95, env.n_test),
        ev = env.eval_every,
    );
    if let Some(c) = &rep.cabs {
        let top = c.iter().filter_map(|&i| runs[i].steps.iter().map(|s| s.batch).max()).max().unwrap_or(0);
        let steps = over(runs, c, |r| Some(r.steps_done() as f64)).map_or(0.0, |s| s.mean);
        let _ = writeln!(
            s,
            "**Horizon:** CABS took {steps:.0} steps and its batch reached at most {top}{}\n",
            if top < 100 {
                "; the regime the paper's claims are about (8,000 steps, batches in the hundreds) was not reached, so these verdicts are about \
CABS's early phase only."
            } else {
                "."
            }
        );
    }

    // 1. Per example, against tuned constant-α fixed batches.
    if let (Some(c), false) = (&rep.cabs, rep.best_fixed.is_empty()) {
        let _ = writeln!(s, "### 1. \"Per training example, CABS is at least as fast as fixed-batch SGD with a tuned α\"\n");
        let _ = writeln!(
            s,
            "At equal training examples (the budget), CABS at α = {} (not tuned) against each fixed batch with its best α ({}).\n",
            runs[c[0]].spec.alpha,
            match rep.select_by {
                SelectBy::Accuracy => "tuned on the reported test set, which favours the baselines",
                SelectBy::TrainSubsetLoss => "tuned by the loss on the fixed training subset",
            }
        );
        against_best_fixed(&mut s, runs, rep, env, c);
        // The baselines' α was picked on the test set; pick CABS's from its sensitivity runs the
        // same way, so that the two sides are tuned alike.
        let cands: Vec<Candidate> = rep.sensitivity.iter().map(|r| Candidate::of_group(runs, &r.1, w)).collect();
        if let Some(b) = best_candidate(&cands, rep.select_by).filter(|&b| rep.sensitivity[b].0 != runs[c[0]].spec.alpha) {
            let _ = writeln!(
                s,
                "CABS tuned like the baselines: the best α of its sensitivity runs (α = {}, by the same rule: {}).\n",
                rep.sensitivity[b].0,
                match rep.select_by {
                    SelectBy::Accuracy => "final test accuracy, mean over the seeds, on the reported test set",
                    SelectBy::TrainSubsetLoss => rep.select_by.words(),
                }
            );
            against_best_fixed(&mut s, runs, rep, env, &rep.sensitivity[b].1);
        }
    }

    // 2. No schedule: CABS at constant α against the decayed fixed batches; and whether decay
    // helped the fixed batches at all.
    if let (Some(c), false) = (&rep.cabs, rep.decay.is_empty()) {
        let _ = writeln!(s, "### 2. \"CABS needs no learning-rate schedule\"\n");
        let _ = writeln!(
            s,
            "CABS at constant α against each fixed batch with inverse-time decay (from its best constant α, not tuned further), and \
whether the decay helped that fixed batch at all (decayed vs constant α).\n"
        );
        let _ = writeln!(
            s,
            "| decayed run | training loss: CABS − it | test accuracy (points): CABS − it | McNemar per seed (only CABS / only it) | training loss: decay − constant α | test accuracy (points): decay − constant α |\n| --- | --- | --- | --- | --- | --- |"
        );
        let (mut on_loss, mut on_acc, mut helped, mut hurt, mut unclear) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for d in &rep.decay {
            let n = name(runs, d);
            let m = runs[d[0]].spec.batch();
            let constant = rep.best_fixed.iter().find(|g| runs[g[0]].spec.batch() == m);
            let p = pair(runs, c, d, env);
            // Did the decay help its fixed batch? A strict comparison, decayed − constant.
            let (dl, da) = match constant {
                Some(g) => {
                    let judge = |f: &dyn Fn(&Run) -> Option<f64>, lower: bool, scale: f64, p: usize| {
                        paired_diffs(runs, d, g, f).and_then(|x| t_interval(&x)).map_or(("–".to_string(), None), |iv| {
                            let v = better(&iv, lower);
                            (format!("{} ({})", interval_text(&iv, scale, p), v.word()), Some(v))
                        })
                    };
                    (judge(&|r| final_loss(r, w), true, 1.0, 4), judge(&|r| r.final_accuracy(), false, 100.0, 2))
                }
                None => (("– (no constant-α run reported)".into(), None), ("–".into(), None)),
            };
            let _ = writeln!(s, "| {n} | {} | {} | {} | {} | {} |", p.loss.0, p.acc.0, p.mcnemar, dl.0, da.0);
            let mm = format!("m = {}", m.unwrap_or(0));
            if dl.1 == Some(Verdict::Supported) || da.1 == Some(Verdict::Supported) {
                helped.push(mm.clone());
            }
            if dl.1 == Some(Verdict::NotSupported) || da.1 == Some(Verdict::NotSupported) {
                hurt.push(mm.clone());
            }
            if dl.1 == Some(Verdict::NotShown) && da.1 == Some(Verdict::NotShown) {
                unclear.push(mm);
            }
            on_loss.push((n.clone(), p.loss.1));
            on_acc.push((n, p.acc.1));
        }
        let _ = writeln!(s, "\n- CABS against the decayed runs, training loss: {}.", verdict_line(&on_loss));
        let _ = writeln!(s, "- CABS against the decayed runs, test accuracy: {}.", verdict_line(&on_acc));
        let _ = writeln!(
            s,
            "- Decay helped a fixed batch (interval wholly on the better side, either measure) for: {}.",
            none_or_list(&helped)
        );
        let _ = writeln!(s, "- Decay hurt a fixed batch (interval wholly on the worse side, either measure) for: {}.", none_or_list(&hurt));
        let _ = writeln!(s, "- Neither shown, on both measures, for: {}.\n", none_or_list(&unclear));
    }

    if !rep.sensitivity.is_empty() {
        sensitivity(&mut s, runs, rep, env);
    }
    rules(&mut s, runs, rep, env);
    s
}

/// Where `a` and `b` are the same runs, seed for seed (bit for bit, [`identical_runs`]): their
/// interval is [0, 0] by construction, and the page says so rather than let it pass as evidence.
fn same_runs(runs: &[Run], a: &Group, b: &Group) -> bool {
    let same = identical_runs(runs);
    a.iter().all(|&i| {
        let Some(&j) = b.iter().find(|&&j| runs[j].spec.seed == runs[i].spec.seed) else { return false };
        i == j || same.iter().any(|g| g.contains(&i) && g.contains(&j))
    })
}

/// The rules of `--rules` against the first of the list, each at its best α: "at least as good"
/// on the training loss and on test accuracy (the vocabulary and margins of claim 1), and which
/// side is ahead beyond the noise, if either; then what the seeds can and cannot show.
fn rules(s: &mut String, runs: &[Run], rep: &Report, env: &Env) {
    let Some((first, first_g)) = rep.rules.first().and_then(|(r, row, b)| b.map(|b| (r, &row[b]))) else {
        if let Some((first, _, _)) = rep.rules.first() {
            let _ = writeln!(s, "### The rules against `{first}`\n\nNot judged: `{first}` broke at every α of the grid.\n");
        }
        return;
    };
    let k = env.seeds.len();
    let first_alpha = runs[first_g[0]].spec.alpha;
    let _ = writeln!(s, "### The rules against `{first}`, each at its best α\n");
    let _ = writeln!(
        s,
        "The claim judged for each rule is \"at least as good as `{first}`\" (d = rule − `{first}`, `{first}` at α = {first_alpha}), on the \
training loss and on test accuracy, with the margins above; the last two columns say which side is ahead beyond the noise (the \
interval wholly on one side of zero), if either. Every rule, `{first}` included, is tuned alike: its best α of the same grid, picked \
on the reported test set, so every rule's best-of-grid figures are optimistic by the same selection.\n"
    );
    let _ = writeln!(
        s,
        "| rule | α | at least as good: training loss | at least as good: test accuracy | ahead on training loss | ahead on test accuracy |\n| --- | ---: | --- | --- | --- | --- |"
    );
    let w = env.window;
    let (mut on_loss, mut on_acc, mut twins) = (Vec::new(), Vec::new(), Vec::new());
    let (mut acc_half, mut loss_half) = (Vec::new(), Vec::new());
    for (rule, row, best) in rep.rules.iter().skip(1) {
        let name = format!("`{rule}`");
        let Some(b) = best else {
            let _ = writeln!(s, "| {name} | – | not judged (broke at every α) | not judged | – | – |");
            continue;
        };
        let g = &row[*b];
        let p = pair(runs, g, first_g, env);
        let word = |v: Option<Verdict>| v.map_or("not judged (a run diverged or failed)".to_string(), |v| format!("**{}**", v.word()));
        let ahead = |f: &dyn Fn(&Run) -> Option<f64>, lower: bool, half: &mut Vec<f64>| -> String {
            let Some(iv) = paired_diffs(runs, g, first_g, f).and_then(|d| t_interval(&d)) else { return "–".into() };
            half.push((iv.hi - iv.lo) / 2.0);
            match better(&iv, lower) {
                Verdict::Supported => format!("`{rule}`"),
                Verdict::NotSupported => format!("`{first}`"),
                Verdict::NotShown => "neither".into(),
            }
        };
        // The same runs have a [0, 0] interval: left out of the half-widths quoted below.
        let twin = same_runs(runs, g, first_g);
        let (mut lh, mut ah) = (Vec::new(), Vec::new());
        let al = ahead(&|r| final_loss(r, w), true, &mut lh);
        let aa = ahead(&|r| r.final_accuracy(), false, &mut ah);
        if !twin {
            loss_half.extend(lh);
            acc_half.extend(ah);
        }
        if twin {
            twins.push(name.clone());
        }
        let _ = writeln!(
            s,
            "| {name}{} | {} | {} | {} | {al} | {aa} |",
            if twin { " (the same runs as `".to_string() + first + "`)" } else { String::new() },
            runs[g[0]].spec.alpha,
            word(p.loss.1),
            word(p.acc.1)
        );
        on_loss.push((name.clone(), p.loss.1));
        on_acc.push((name, p.acc.1));
    }
    let _ = writeln!(s, "\n- At least as good as `{first}` on the training loss: {}.", verdict_for(&on_loss));
    let _ = writeln!(s, "- At least as good as `{first}` on test accuracy: {}.", verdict_for(&on_acc));
    if !twins.is_empty() {
        let _ = writeln!(
            s,
            "- {} trained the same runs as `{first}`, step for step (see Flags): their \"supported\" is an identity, not evidence.",
            twins.join(", ")
        );
    }
    let range = |v: &[f64], scale: f64, p: usize| -> String {
        let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        if !lo.is_finite() || !hi.is_finite() {
            "unbounded".into()
        } else if (hi - lo).abs() < 0.5 * 10f64.powi(-(p as i32)) / scale {
            format!("{:.p$}", lo * scale)
        } else {
            format!("{:.p$}–{:.p$}", lo * scale, hi * scale)
        }
    };
    let noise = if k < 2 {
        "With one seed no interval can be formed (the spread between seeds is unknown): every verdict is \"not shown\". ".to_string()
    } else {
        let widths = if acc_half.is_empty() {
            String::new()
        } else {
            format!(
                "The half-widths of the 95 % intervals above are {} points of test accuracy and {} of training loss: a difference \
smaller than that cannot be told from zero. ",
                range(&acc_half, 100.0, 2),
                range(&loss_half, 1.0, 4)
            )
        };
        format!(
            "With {k} seeds the interval is the mean difference ± t·sd/√{k} with t = {:.2}: it excludes zero only when the mean exceeds \
{:.2} standard deviations of the per-seed differences; a sign test over {k} seeds could not go below p = {:.2}. {widths}",
            t95(k - 1),
            t95(k - 1) / (k as f64).sqrt(),
            2.0 * 0.5f64.powi(k as i32)
        )
    };
    let _ = writeln!(
        s,
        "\n**What {k} seed{} can and cannot show.** {noise}So **not shown** means the comparison is too small to decide, not that two \
rules are equal. The comparison can show a rule behind or ahead of `{first}` when the difference is large and has the same sign in \
every seed, and it shows each rule's batch-size path (a path is a property of one run, not an average needing many seeds). It cannot \
rank rules whose intervals straddle zero, tell whether a rule's paper-default parameters (not tuned here, only α was) are its best, \
or say anything beyond this model, data set, budget, batch range and α grid.\n",
        if k == 1 { "" } else { "s" },
    );
}

/// Each verdict word with the subjects it holds for: "**supported** for `a`, `b`; **not shown**
/// for `c`".
fn verdict_for(items: &[(String, Option<Verdict>)]) -> String {
    let mut parts = Vec::new();
    for v in [Verdict::Supported, Verdict::NotShown, Verdict::NotSupported] {
        let names: Vec<&str> = items.iter().filter(|i| i.1 == Some(v)).map(|i| i.0.as_str()).collect();
        if !names.is_empty() {
            parts.push(format!("**{}** for {}", v.word(), names.join(", ")));
        }
    }
    let unjudged: Vec<&str> = items.iter().filter(|i| i.1.is_none()).map(|i| i.0.as_str()).collect();
    if !unjudged.is_empty() {
        parts.push(format!("not judged for {} (a run diverged or failed)", unjudged.join(", ")));
    }
    if parts.is_empty() {
        "not judged (no other rule)".into()
    } else {
        parts.join("; ")
    }
}

/// 3. Sensitivity to α, at equal examples and at equal steps.
fn sensitivity(s: &mut String, runs: &[Run], rep: &Report, env: &Env) {
    let w = env.window;
    let _ = writeln!(s, "### 3. \"CABS is less sensitive to α than fixed batches\"\n");
    let steps = |g: &Group| over(runs, g, |r| Some(r.steps_done() as f64)).map_or(0, |s| s.mean.round() as u64);
    let first = &rep.sensitivity[0];
    let mut plan = format!("CABS: {} steps at α = {}", steps(&first.1), first.0);
    for (m, g) in env.sens_batches.iter().zip(&first.2) {
        let _ = write!(plan, "; m = {m}: {}", steps(g));
    }
    let _ = writeln!(
        s,
        "Every rule at the same α, none tuned. At equal examples a larger fixed batch also takes fewer steps ({plan}), so part of its \
sensitivity is too few steps, not α; the second table compares CABS and each fixed batch after the same number of steps (the \
smaller of the two runs' step counts) instead.\n"
    );
    let mut head = String::from("| α | CABS |");
    let mut sep = String::from("| ---: | ---: |");
    for m in &env.sens_batches {
        let _ = write!(head, " m = {m} |");
        sep.push_str(" ---: |");
    }
    let loss_cell = |m: Option<Measured>| m.map_or("diverged or failed".into(), |m| show(m, false));
    let _ = writeln!(s, "Final training loss (equal examples):\n\n{head}\n{sep}");
    for (alpha, c, fixed) in &rep.sensitivity {
        let _ = write!(s, "| {alpha} | {} |", loss_cell(train_loss(runs, c, w)));
        for g in fixed {
            let _ = write!(s, " {} |", loss_cell(train_loss(runs, g, w)));
        }
        s.push('\n');
    }
    let fixed_head: String = env.sens_batches.iter().map(|m| format!(" m = {m} |")).collect();
    let _ = writeln!(s, "\nTraining loss at equal steps, CABS vs the fixed batch (after the step count shown):\n\n| α |{fixed_head}");
    let _ = writeln!(s, "| ---: |{}", " --- |".repeat(env.sens_batches.len()));
    for (alpha, c, fixed) in &rep.sensitivity {
        let _ = write!(s, "| {alpha} |");
        for g in fixed {
            let at = common_steps(runs, c, g);
            let text = match (loss_at_step(runs, c, at, w), loss_at_step(runs, g, at, w)) {
                (Some(a), Some(b)) => {
                    let (o, _, _) = compare(a, b, true);
                    let who = match o {
                        Outcome::Ahead => "CABS lower",
                        Outcome::Behind => "CABS higher",
                        Outcome::Within => "within noise",
                    };
                    format!("step {at}: {} vs {} ({who})", show(a, false), show(b, false))
                }
                _ => "– (a run diverged or failed)".into(),
            };
            let _ = write!(s, " {text} |");
        }
        s.push('\n');
    }
    learnt_table(s, runs, rep, env);
    // The spread over α of each rule's final training loss; a divergence is an unbounded spread.
    let range = |col: usize| -> Option<(f64, f64)> {
        let v: Vec<Measured> = rep.sensitivity.iter().map(|row| train_loss(runs, pick(row, col), w)).collect::<Option<_>>()?;
        Some(loss_spread(&v))
    };
    let cabs_range = range(0);
    let _ = writeln!(
        s,
        "\nSpread of the final training loss over α = {}: CABS {}.",
        rep.sensitivity.iter().map(|r| r.0.to_string()).collect::<Vec<_>>().join(", "),
        cabs_range.map_or("unbounded (a run diverged or failed)".into(), |r| format!("{:.4}", r.0))
    );
    // A rule whose loss stayed near where it started at every α learnt nothing: a small spread
    // there is not robustness.
    let stuck = |col: usize| -> bool {
        rep.sensitivity.iter().all(|row| {
            pick(row, col).iter().all(|&i| match (runs[i].final_train_loss(w), runs[i].initial_loss()) {
                (Some(end), Some(start)) => end > 0.9 * start,
                _ => false,
            })
        })
    };
    let note = |col: usize| {
        if stuck(col) {
            " — its loss stayed within 10 % of where it started at every α: it did not learn, so its small spread says nothing about robustness"
        } else {
            ""
        }
    };
    if stuck(0) {
        let _ = writeln!(s, "  CABS{}.", note(0));
    }
    let mut no_learning = Vec::new();
    for (j, m) in env.sens_batches.iter().enumerate() {
        let fixed_range = range(j + 1);
        let _ = writeln!(
            s,
            "- m = {m}: {}{}.",
            fixed_range.map_or("unbounded (a run diverged or failed)".into(), |r| format!("{:.4}", r.0)),
            note(j + 1)
        );
        if stuck(j + 1) {
            no_learning.push(format!("m = {m}"));
        }
    }
    // Over every α these spreads are set by where each rule breaks down (a run at chance level
    // has the loss it started with): descriptive only; the verdict uses the α where both learnt.
    let _ = writeln!(
        s,
        "\nThese spreads include the α at which a rule did not learn (see the table above), so they measure where each rule breaks \
down, not its sensitivity within the α that work; the verdict below uses only the α at which both rules learnt in every seed{}.\n",
        if no_learning.is_empty() {
            String::new()
        } else {
            format!(" (not judged against {}: no learning at any α)", no_learning.join(", "))
        }
    );
    stable_spreads(s, runs, rep, env);
}

/// One group of a sensitivity row: column 0 is CABS, column j + 1 the j-th fixed batch.
fn pick(row: &(f64, Group, Vec<Group>), col: usize) -> &Group {
    if col == 0 {
        &row.1
    } else {
        &row.2[col - 1]
    }
}

/// "none", or the items joined by commas.
fn none_or_list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The spread of a rule's losses over α, max − min, and the noise of that difference: 2√2 ×
/// the largest standard error.
fn loss_spread(v: &[Measured]) -> (f64, f64) {
    let lo = v.iter().map(|m| m.value).fold(f64::INFINITY, f64::min);
    let hi = v.iter().map(|m| m.value).fold(f64::NEG_INFINITY, f64::max);
    (hi - lo, 2.0 * 2f64.sqrt() * v.iter().map(|m| m.se).fold(0.0, f64::max))
}

/// A run learnt: it neither diverged nor failed, and its final smoothed training loss is below
/// 90 % of its initial loss (a run stuck at its start, or blown up to chance level, did not).
pub fn learnt(run: &Run, window: u64) -> bool {
    matches!((run.final_train_loss(window), run.initial_loss()), (Some(end), Some(start)) if end <= 0.9 * start)
}

/// The step count both groups reached in every seed: adaptive runs take a different number of
/// steps per seed, and a comparison "at equal steps" needs every seed at that step.
pub fn common_steps(runs: &[Run], a: &Group, b: &Group) -> u64 {
    a.iter().chain(b).map(|&i| runs[i].steps_done()).min().unwrap_or(0)
}

/// Per α and rule, how many seeds learnt: where each rule breaks down, at small α (too few
/// steps to leave the initial plateau) or at large α (blown up).
fn learnt_table(s: &mut String, runs: &[Run], rep: &Report, env: &Env) {
    let head: String = env.sens_batches.iter().map(|m| format!(" m = {m} |")).collect();
    let _ = writeln!(
        s,
        "\nSeeds that learnt (final training loss below 90 % of the initial loss; a run left on the initial plateau or blown up to \
chance level did not):\n\n| α | CABS |{head}\n| ---: | ---: |{}",
        " ---: |".repeat(env.sens_batches.len())
    );
    for (alpha, c, fixed) in &rep.sensitivity {
        let count = |g: &Group| format!("{} of {}", g.iter().filter(|&&i| learnt(&runs[i], env.window)).count(), g.len());
        let cells: String = fixed.iter().map(|g| format!(" {} |", count(g))).collect();
        let _ = writeln!(s, "| {alpha} | {} |{cells}", count(c));
    }
}

/// The spread over α of the training loss, CABS against each fixed batch, over only the α at
/// which both learnt in every seed: the breakdown points are in the table above, and one blow-up
/// would otherwise decide the spread alone. Judged at equal examples (the final loss) and at
/// equal steps (both at the fewer steps of the two, per α), because a fixed batch that takes
/// fewer steps spreads more over α for want of steps alone: CABS counts as less sensitive only
/// when it is so on both.
fn stable_spreads(s: &mut String, runs: &[Run], rep: &Report, env: &Env) {
    let w = env.window;
    let all_learnt = |g: &Group| g.iter().all(|&i| learnt(&runs[i], w));
    let _ = writeln!(
        s,
        "Paired by seed, the spread (max − min) of the training loss over the α at which both rules learnt in every seed, CABS − fixed, \
at equal examples and at equal steps (both at the fewer steps of the two, per α):\n"
    );
    let (mut both, mut examples_only) = (Vec::new(), Vec::new());
    for (j, m) in env.sens_batches.iter().enumerate() {
        let rows: Vec<&(f64, Group, Vec<Group>)> = rep.sensitivity.iter().filter(|r| all_learnt(&r.1) && all_learnt(&r.2[j])).collect();
        let alphas = rows.iter().map(|r| r.0.to_string()).collect::<Vec<_>>().join(", ");
        if rows.len() < 2 {
            let _ = writeln!(s, "- m = {m}: fewer than two such α ({}): not judged.", if alphas.is_empty() { "none" } else { &alphas });
            continue;
        }
        let at_examples = |col: usize| seed_spreads(&rows, col, &|_, i| final_loss(&runs[i], w));
        let at_steps = |col: usize| {
            seed_spreads(&rows, col, &|row, i| runs[i].train_loss_at_step(common_steps(runs, &row.1, &row.2[j]), w).map(|l| l.0))
        };
        let ie = at_examples(0).zip(at_examples(j + 1)).and_then(|(c, f)| diff_interval(&c, &f));
        let is = at_steps(0).zip(at_steps(j + 1)).and_then(|(c, f)| diff_interval(&c, &f));
        let (Some(ie), Some(is)) = (ie, is) else { continue };
        let (ve, vs) = (better(&ie, true), better(&is, true));
        let _ = writeln!(
            s,
            "- against m = {m}, over α = {alphas}: at equal examples {} ({}); at equal steps {} ({}).",
            interval_text(&ie, 1.0, 4),
            ve.word(),
            interval_text(&is, 1.0, 4),
            vs.word()
        );
        let mm = format!("m = {m}");
        // Less sensitive only when it holds at equal steps too: at equal examples alone the
        // fixed batch's spread can be a want of steps.
        let v = match (ve, vs) {
            (Verdict::Supported, Verdict::Supported) => Verdict::Supported,
            (Verdict::Supported, _) => {
                examples_only.push(mm.clone());
                Verdict::NotShown
            }
            (Verdict::NotSupported, Verdict::NotSupported) => Verdict::NotSupported,
            _ => Verdict::NotShown,
        };
        both.push((mm, Some(v)));
    }
    let _ = writeln!(
        s,
        "\nOver the α where both learnt, CABS is less sensitive to α (at equal examples and at equal steps): {}{}.\n",
        verdict_line(&both),
        if examples_only.is_empty() {
            String::new()
        } else {
            format!(" (at equal examples only, the fixed batch's spread being a want of steps: {})", examples_only.join(", "))
        }
    );
}

/// One row of the sensitivity study: α, the CABS group, the fixed-batch groups.
type SensRow = (f64, Group, Vec<Group>);

/// Per seed (position in the groups), the spread max − min over `rows` of `value(row, run)` for
/// column `col` of each row (0: CABS, j + 1: the j-th fixed batch); None if a value is missing.
fn seed_spreads(rows: &[&(f64, Group, Vec<Group>)], col: usize, value: &dyn Fn(&SensRow, usize) -> Option<f64>) -> Option<Vec<f64>> {
    let n = rows.first().map_or(0, |r| pick(r, col).len());
    (0..n)
        .map(|k| {
            let v: Vec<f64> = rows.iter().map(|r| value(r, *pick(r, col).get(k)?)).collect::<Option<_>>()?;
            Some(v.iter().copied().fold(f64::NEG_INFINITY, f64::max) - v.iter().copied().fold(f64::INFINITY, f64::min))
        })
        .collect()
}

/// The interval of the per-seed differences a − b.
fn diff_interval(a: &[f64], b: &[f64]) -> Option<Interval> {
    (a.len() == b.len()).then(|| a.iter().zip(b).map(|(x, y)| x - y).collect::<Vec<_>>()).and_then(|d| t_interval(&d))
}
