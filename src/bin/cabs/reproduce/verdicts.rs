//! The verdicts section of `results.md`: the paper's three claims judged from the runs, on the
//! training loss (the paper's measure: CABS is about optimisation) and on test accuracy, each
//! with its noise level. A difference counts only when it exceeds twice the combined standard
//! error of the two sides; a claim the data do not support is written "not supported".

use super::metrics::{accuracy_se, best_candidate, Candidate, Run};
use super::tables::{over, Env, Group, Report};
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

/// Final test accuracy of a group; None if any seed diverged or failed.
pub fn test_accuracy(runs: &[Run], g: &Group, n_test: usize) -> Option<Measured> {
    if g.iter().any(|&i| runs[i].broken()) {
        return None;
    }
    let s = over(runs, g, |r| r.final_accuracy())?;
    // Every seed is scored on the same test digits: that noise does not average down.
    Some(combine(s.mean, accuracy_se(s.mean, n_test), s.sd, s.n))
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

/// "CABS 0.1203 ± 0.0040 vs 0.0886 ± 0.0031: behind by 0.0317 (noise 0.0101)".
fn cell(a: Option<Measured>, b: Option<Measured>, pct: bool, lower_is_better: bool) -> (String, Option<Outcome>) {
    let (Some(a), Some(b)) = (a, b) else { return ("– (a run diverged or failed)".into(), None) };
    let (o, d, noise) = compare(a, b, lower_is_better);
    let scale = if pct { 100.0 } else { 1.0 };
    let unit = if pct { " points" } else { "" };
    let p = if pct { 2 } else { 4 };
    let what = match o {
        Outcome::Ahead => format!("**ahead** by {:.p$}{unit}", (d * scale).abs()),
        Outcome::Behind => format!("**behind** by {:.p$}{unit}", (d * scale).abs()),
        Outcome::Within => format!("within noise (Δ {:+.p$}{unit})", d * scale),
    };
    (format!("{} vs {}: {what}; 2σ = {:.p$}{unit}", show(a, pct), show(b, pct), noise * scale), Some(o))
}

/// The verdict on one measure of a claim that the subject is at least as good as every
/// comparator.
fn at_least_as_good(outcomes: &[(String, Option<Outcome>)]) -> String {
    let behind: Vec<&str> = outcomes.iter().filter(|o| o.1 == Some(Outcome::Behind)).map(|o| o.0.as_str()).collect();
    let judged = outcomes.iter().filter(|o| o.1.is_some()).count();
    if judged == 0 {
        "not judged (no comparable runs)".into()
    } else if !behind.is_empty() {
        format!("**not supported**: behind {} beyond the noise", behind.join(", "))
    } else if outcomes.iter().all(|o| o.1 == Some(Outcome::Ahead)) {
        "**supported**: ahead of every comparator beyond the noise".into()
    } else {
        "**consistent, not shown**: behind none beyond the noise, but within the noise of some".into()
    }
}

/// The table and verdicts of claim 1 for one CABS group against every best fixed batch.
fn against_best_fixed(s: &mut String, runs: &[Run], rep: &Report, env: &Env, c: &Group) {
    let w = env.window;
    let _ = writeln!(s, "| compared with | final training loss: CABS vs it | final test accuracy: CABS vs it |\n| --- | --- | --- |");
    let (mut on_loss, mut on_acc) = (Vec::new(), Vec::new());
    for g in &rep.best_fixed {
        let n = name(runs, g);
        let l = cell(train_loss(runs, c, w), train_loss(runs, g, w), false, true);
        let a = cell(test_accuracy(runs, c, env.n_test), test_accuracy(runs, g, env.n_test), true, false);
        let _ = writeln!(s, "| {n} | {} | {} |", l.0, a.0);
        on_loss.push((n.clone(), l.1));
        on_acc.push((n, a.1));
    }
    let alpha = runs[c[0]].spec.alpha;
    let _ = writeln!(s, "\n- CABS α = {alpha}, on the training loss: {}.", at_least_as_good(&on_loss));
    let _ = writeln!(s, "- CABS α = {alpha}, on test accuracy: {}.\n", at_least_as_good(&on_acc));
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
    let _ = writeln!(
        s,
        "Generated from the runs above. **Noise levels:** a test accuracy p measured on {n} test examples has a binomial standard error \
√(p(1−p)/{n}): {a90:.2} points at 90 %, {a95:.2} at 95 %, {a97:.2} at 97 %. The smoothed training loss's standard error is estimated from \
the scatter of the batch losses in its window of {w} examples. {seeds} Every figure below is written value ± standard error; a difference \
counts only when it exceeds twice the combined standard error of the two sides (2σ), otherwise it is \"within noise\". \
\"Examples to target\" is resolved only to about one evaluation interval (~{ev} examples), so the verdicts do not use it.\n",
        n = env.n_test,
        a90 = 100.0 * accuracy_se(0.90, env.n_test),
        a95 = 100.0 * accuracy_se(0.95, env.n_test),
        a97 = 100.0 * accuracy_se(0.97, env.n_test),
        seeds = if k == 1 {
            "**One seed**: the spread between seeds (initial weights, data order) is unknown and not included, so every verdict \
holds for this seed only and the real noise is larger."
                .to_string()
        } else {
            format!("{k} seeds: the values are means over the seeds, and the errors include the seed spread (standard error of the mean).")
        },
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
            "At equal training examples (the budget), CABS at α = {} (not tuned) against each fixed batch with its best α (tuned on the \
reported test set, which favours the baselines).\n",
            runs[c[0]].spec.alpha
        );
        against_best_fixed(&mut s, runs, rep, env, c);
        // The baselines' α was picked on the test set; pick CABS's from its sensitivity runs the
        // same way, so that the two sides are tuned alike.
        let cands: Vec<Candidate> = rep.sensitivity.iter().map(|r| Candidate::of_group(runs, &r.1, w)).collect();
        if let Some(b) = best_candidate(&cands).filter(|&b| rep.sensitivity[b].0 != runs[c[0]].spec.alpha) {
            let _ = writeln!(
                s,
                "CABS tuned like the baselines: the best α of its sensitivity runs (α = {}, by the same rule: final test accuracy, mean \
over the seeds, on the reported test set).\n",
                rep.sensitivity[b].0
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
            "| decayed run | training loss: CABS vs it | test accuracy: CABS vs it | training loss: decay vs constant α | test accuracy: decay vs constant α |\n| --- | --- | --- | --- | --- |"
        );
        let (mut on_loss, mut on_acc, mut helped, mut hurt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for d in &rep.decay {
            let n = name(runs, d);
            let m = runs[d[0]].spec.batch();
            let constant = rep.best_fixed.iter().find(|g| runs[g[0]].spec.batch() == m);
            let l = cell(train_loss(runs, c, w), train_loss(runs, d, w), false, true);
            let a = cell(test_accuracy(runs, c, env.n_test), test_accuracy(runs, d, env.n_test), true, false);
            let (dl, da) = match constant {
                Some(g) => (
                    cell(train_loss(runs, d, w), train_loss(runs, g, w), false, true),
                    cell(test_accuracy(runs, d, env.n_test), test_accuracy(runs, g, env.n_test), true, false),
                ),
                None => (("– (no constant-α run reported)".into(), None), ("–".into(), None)),
            };
            let _ = writeln!(s, "| {n} | {} | {} | {} | {} |", l.0, a.0, dl.0, da.0);
            if dl.1 == Some(Outcome::Ahead) || da.1 == Some(Outcome::Ahead) {
                helped.push(format!("m = {}", m.unwrap_or(0)));
            }
            if dl.1 == Some(Outcome::Behind) || da.1 == Some(Outcome::Behind) {
                hurt.push(format!("m = {}", m.unwrap_or(0)));
            }
            on_loss.push((n.clone(), l.1));
            on_acc.push((n, a.1));
        }
        let _ = writeln!(s, "\n- CABS against the decayed runs, training loss: {}.", at_least_as_good(&on_loss));
        let _ = writeln!(s, "- CABS against the decayed runs, test accuracy: {}.", at_least_as_good(&on_acc));
        let _ = writeln!(s, "- Decay helped a fixed batch beyond the noise (on either measure) for: {}.", none_or_list(&helped));
        let _ = writeln!(s, "- Decay hurt a fixed batch beyond the noise (on either measure) for: {}.\n", none_or_list(&hurt));
    }

    if !rep.sensitivity.is_empty() {
        sensitivity(&mut s, runs, rep, env);
    }
    s
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
    let mut less = Vec::new();
    let mut not = Vec::new();
    let mut no_learning = Vec::new();
    for (j, m) in env.sens_batches.iter().enumerate() {
        let fixed_range = range(j + 1);
        let _ = writeln!(
            s,
            "- m = {m}: {}{}.",
            fixed_range.map_or("unbounded (a run diverged or failed)".into(), |r| format!("{:.4}", r.0)),
            note(j + 1)
        );
        match (cabs_range, fixed_range) {
            _ if stuck(j + 1) => no_learning.push(format!("m = {m}")),
            (Some(_), None) => less.push(format!("m = {m}")),
            (Some((c, nc)), Some((f, nf))) if f - c > (nc * nc + nf * nf).sqrt() => less.push(format!("m = {m}")),
            _ => not.push(format!("m = {m}")),
        }
    }
    let _ = writeln!(
        s,
        "\nOn the training loss at equal examples, CABS is less sensitive to α beyond the noise than: {}; **not supported** against: {}{}. \
Where the fixed batch is larger, read this with the equal-steps table above: a spread caused by too few steps is not a sensitivity to α.\n",
        none_or_list(&less),
        none_or_list(&not),
        if no_learning.is_empty() { String::new() } else { format!("; not judged against {} (no learning at any α)", no_learning.join(", ")) }
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
    let judge = |(c, nc): (f64, f64), (f, nf): (f64, f64)| -> (Outcome, String) {
        let noise = (nc * nc + nf * nf).sqrt();
        let o = if f - c > noise {
            Outcome::Ahead
        } else if c - f > noise {
            Outcome::Behind
        } else {
            Outcome::Within
        };
        let what = match o {
            Outcome::Ahead => "CABS less sensitive",
            Outcome::Behind => "CABS more sensitive",
            Outcome::Within => "within noise",
        };
        (o, format!("CABS {c:.4}, fixed {f:.4}: {what} (noise {noise:.4})"))
    };
    let _ = writeln!(s, "Spread (max − min) of the training loss over the α at which both rules learnt in every seed:\n");
    let (mut less, mut confounded, mut not) = (Vec::new(), Vec::new(), Vec::new());
    for (j, m) in env.sens_batches.iter().enumerate() {
        let rows: Vec<&(f64, Group, Vec<Group>)> = rep.sensitivity.iter().filter(|r| all_learnt(&r.1) && all_learnt(&r.2[j])).collect();
        let alphas = rows.iter().map(|r| r.0.to_string()).collect::<Vec<_>>().join(", ");
        if rows.len() < 2 {
            let _ = writeln!(s, "- m = {m}: fewer than two such α ({}): not judged.", if alphas.is_empty() { "none" } else { &alphas });
            continue;
        }
        let final_loss = |g: &Group| train_loss(runs, g, w);
        let at_steps = |c: &Group, g: &Group| -> Option<(Measured, Measured)> {
            let at = common_steps(runs, c, g);
            Some((loss_at_step(runs, c, at, w)?, loss_at_step(runs, g, at, w)?))
        };
        let examples: Option<(Vec<Measured>, Vec<Measured>)> =
            rows.iter().map(|r| Some((final_loss(&r.1)?, final_loss(&r.2[j])?))).collect::<Option<Vec<_>>>().map(|v| v.into_iter().unzip());
        let steps: Option<(Vec<Measured>, Vec<Measured>)> =
            rows.iter().map(|r| at_steps(&r.1, &r.2[j])).collect::<Option<Vec<_>>>().map(|v| v.into_iter().unzip());
        let (Some((ce, fe)), Some((cs, fs))) = (examples, steps) else { continue };
        let (oe, te) = judge(loss_spread(&ce), loss_spread(&fe));
        let (os, ts) = judge(loss_spread(&cs), loss_spread(&fs));
        let _ = writeln!(s, "- against m = {m}, over α = {alphas}: at equal examples {te}; at equal steps {ts}.");
        match (oe, os) {
            (Outcome::Ahead, Outcome::Ahead) => less.push(format!("m = {m}")),
            (Outcome::Ahead, _) => confounded.push(format!("m = {m}")),
            _ => not.push(format!("m = {m}")),
        }
    }
    let _ = writeln!(
        s,
        "\nOver the α where both learnt, CABS is less sensitive beyond the noise, at equal examples and at equal steps, than: {}; \
at equal examples only (the fixed batch's spread is a want of steps), **not shown** against: {}; **not supported** against: {}.\n",
        none_or_list(&less),
        none_or_list(&confounded),
        none_or_list(&not),
    );
}
