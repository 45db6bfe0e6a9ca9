//! The SVG figures of a reproduction. A set of rules alone (`--only rules`) gets the figures over
//! examples and time for each rule at its best α, and `rules.svg`: every rule's batch size
//! against training examples, the figure that shows how the rules differ.

use super::metrics::{smoothed_curve, Run};
use super::options::Options;
use super::plan::{Kind, RunSpec};
use super::tables::{over, seed_list, Env, Group, Report};
use crate::error::CliResult;
use crate::plot::{self, LegendEntry, Panel, Series, Style};
use plotters::style::RGBColor;
use std::path::Path;

pub(super) fn style_of(spec: &RunSpec, o: &Options) -> Style {
    let batches = &o.batches;
    match spec.kind {
        Kind::Cabs if spec.alpha == o.cabs_alpha => Style::cabs(),
        Kind::Cabs => Style::cabs_other(o.sensitivity.iter().filter(|&&a| a < spec.alpha && a != o.cabs_alpha).count()),
        Kind::Fixed { m } => Style::fixed(batches.iter().position(|&b| b == m).unwrap_or(0), false),
        Kind::Decay { m, .. } => Style::fixed(batches.iter().position(|&b| b == m).unwrap_or(0), true),
        // After the fixed batches' colours, in `--rules` order.
        Kind::Rule(ref r) => Style::fixed(batches.len() + o.rules.iter().position(|x| x == r).unwrap_or(0), false),
    }
}

/// The figures of a set of rules alone, with what each shows (results.md lists them).
pub(super) const RULES_ONLY_FIGURES: [(&str, &str); 6] = [
    ("rules", "batch size against training examples, every rule at its best α (log-scale batch axis)"),
    ("loss_vs_examples", "smoothed training loss against training examples"),
    ("accuracy_vs_examples", "test accuracy against training examples"),
    ("loss_vs_time", "smoothed training loss against training time"),
    ("accuracy_vs_time", "test accuracy against training time"),
    ("batch_vs_steps", "batch size against steps"),
];

/// What the lines and bands of those figures are, with several seeds.
pub(super) const RULES_LINES: &str =
    "means over the seeds (the batch size in `rules.svg`: the median, the middle seed with three) and the shaded bands their min–max";

/// A rule's style in a comparison of rules: `cabs` black and thick at any α (as CABS is in every
/// figure), every other rule a colour of its own by its place in `--rules`, every second one
/// dashed (two of the palette's blues are close at a column's width).
pub(super) fn rule_style(spec: &RunSpec, o: &Options) -> Style {
    if spec.kind == Kind::Cabs {
        return Style::cabs();
    }
    let rule = spec.rule();
    let others: Vec<&String> = o.rules.iter().filter(|r| r.as_str() != "cabs").collect();
    let i = others.iter().position(|r| **r == rule).unwrap_or(others.len());
    Style::fixed(i, i % 2 == 1)
}

/// A rule's name in a legend: what it is and its parameters in words, then α
/// ("norm test θ=0.9, α=0.2"); a rule string this does not know is shown as given.
pub(super) fn rule_legend(spec: &RunSpec) -> String {
    let a = super::plan::short_number(spec.alpha);
    let rule = spec.rule();
    let parts: Vec<&str> = rule.split(':').collect();
    let name = match parts.as_slice() {
        ["cabs"] => "CABS".to_string(),
        ["norm", t] => format!("norm test θ={t}"),
        ["inner", t] => format!("inner-product test θ={t}"),
        ["gns"] => "noise scale (GNS), K=1".to_string(),
        ["gns", k] => format!("noise scale (GNS), K={k}"),
        ["adadamp", m0] => format!("AdaDamp M0={m0}"),
        ["grow", m0, every, factor] => format!("grow {m0}, ×{factor} per {} ex.", plot::tick(every.parse().unwrap_or(0.0))),
        ["const", m] => format!("m={m}"),
        _ => rule.clone(),
    };
    format!("{name}, α={a}")
}

/// Each run's batch size at about `n` evenly spaced training-example counts up to `budget`: the
/// batch of the step that trained the x-th example (a run that ended earlier keeps its last).
fn batch_by_examples(run: &Run, budget: u64, n: usize) -> Vec<(f64, f64)> {
    let Some(first) = run.steps.first() else { return Vec::new() };
    let x0 = first.examples;
    let x1 = budget.max(x0);
    (0..=n)
        .map(|k| {
            let x = x0 + (x1 - x0) * k as u64 / n.max(1) as u64;
            let i = run.steps.partition_point(|s| s.examples < x).min(run.steps.len() - 1);
            (x as f64, run.steps[i].batch as f64)
        })
        .collect()
}

/// The median over curves that share their x values, with their min–max; one curve: itself.
pub(super) fn median_band(curves: &[Vec<(f64, f64)>]) -> (Vec<(f64, f64)>, Band) {
    let Some(first) = curves.first() else { return (Vec::new(), Vec::new()) };
    if curves.len() == 1 {
        return (first.clone(), Vec::new());
    }
    let (mut mid, mut band) = (Vec::new(), Vec::new());
    for (j, &(x, _)) in first.iter().enumerate() {
        let mut v: Vec<f64> = curves.iter().filter_map(|c| c.get(j).filter(|p| p.0 == x).map(|p| p.1)).collect();
        if v.len() != curves.len() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        mid.push((x, if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }));
        band.push((x, v[0], v[n - 1]));
    }
    (mid, band)
}

/// (x, low, high) points of a shaded band.
pub(super) type Band = Vec<(f64, f64, f64)>;

/// The mean over the seeds' curves and their min–max, on the first seed's x values (each other
/// curve read at its last point at or before x, or its first point), only where every seed has a
/// value. One curve: itself. `hold_after_end`: a curve that has ended keeps its last value (right
/// for examples and time, where every run ends near the same budget or keeps its final figures);
/// otherwise it has none there (steps: a run that spent its budget in fewer steps takes no more,
/// and holding its last batch size would draw steps that never happened).
pub(super) fn mean_band(curves: &[Vec<(f64, f64)>], hold_after_end: bool) -> (Vec<(f64, f64)>, Band) {
    let Some(first) = curves.first() else { return (Vec::new(), Vec::new()) };
    if curves.len() == 1 {
        return (first.clone(), Vec::new());
    }
    let at = |c: &[(f64, f64)], x: f64| -> Option<f64> {
        if !hold_after_end && c.last().is_some_and(|p| x > p.0) {
            return None;
        }
        let i = c.partition_point(|p| p.0 <= x);
        c.get(i.saturating_sub(1)).map(|p| p.1)
    };
    let (mut mean, mut band) = (Vec::new(), Vec::new());
    for &(x, _) in first {
        let v: Vec<f64> = curves.iter().filter_map(|c| at(c, x)).filter(|y| y.is_finite()).collect();
        if v.len() == curves.len() {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| (a.min(y), b.max(y)));
            mean.push((x, v.iter().sum::<f64>() / v.len() as f64));
            band.push((x, lo, hi));
        }
    }
    (mean, band)
}

pub(super) fn figures(dir: &Path, runs: &[Run], rep: &Report, o: &Options, env: &Env) -> CliResult<()> {
    let main: Vec<&Group> = rep.reported().into_iter().map(|(g, _)| g).collect();
    let alone = rep.rules_only();
    let st = |r: &Run| if alone { rule_style(&r.spec, o) } else { style_of(&r.spec, o) };
    let legend = |ids: &[&Group]| -> Vec<LegendEntry> {
        ids.iter()
            .map(|g| LegendEntry {
                label: if alone { rule_legend(&runs[g[0]].spec) } else { runs[g[0]].spec.legend() },
                style: st(&runs[g[0]]),
            })
            .collect()
    };
    let k = env.seeds.len();
    let seeds_note = if k > 1 { format!(" Lines: means over {k} seeds; bands: their min–max.") } else { String::new() };
    let smooth_note = format!(
        "Training loss: mean batch loss over the trailing {} training examples (each batch weighted by its size). Same budget ({} examples) and seeds for every run.{seeds_note}",
        env.window, env.budget
    );
    let curves: Vec<Vec<(f64, f64, f64)>> = runs.iter().map(|r| smoothed_curve(&r.steps, env.window, 300)).collect();
    // One series per group: the mean over its seeds with a min–max band.
    let series_held = |ids: &[&Group], f: &dyn Fn(usize) -> Vec<(f64, f64)>, markers: bool, hold: bool| -> Vec<Series> {
        ids.iter()
            .map(|g| {
                let (points, band) = mean_band(&g.iter().map(|&i| f(i)).collect::<Vec<_>>(), hold);
                Series { style: st(&runs[g[0]]), points, markers, band }
            })
            .collect()
    };
    let series = |ids: &[&Group], f: &dyn Fn(usize) -> Vec<(f64, f64)>, markers: bool| series_held(ids, f, markers, true);
    let title_env = format!(
        "{} · {} · seed{} {}",
        env.model,
        env.data.split(' ').next().unwrap_or(""),
        if k > 1 { "s" } else { "" },
        seed_list(&env.seeds)
    );
    let acc_note = format!("Test accuracy at the evaluations (about every {} examples).{seeds_note}", env.eval_every);

    let loss_ex = series(&main, &|i| curves[i].iter().map(|&(x, _, l)| (x, l)).collect(), false);
    plot::figure(
        &dir.join("loss_vs_examples.svg"),
        &format!("Training loss vs examples — {title_env}"),
        &[Panel {
            x_label: "training examples".into(),
            y_label: "training loss (smoothed)".into(),
            x_log: false,
            y_log: true,
            series: loss_ex,
            y_range: None,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &smooth_note,
    )?;
    let acc_ex = series(&main, &|i| runs[i].evals.iter().map(|e| (e.examples as f64, e.test_accuracy)).collect(), true);
    plot::figure(
        &dir.join("accuracy_vs_examples.svg"),
        &format!("Test accuracy vs examples — {title_env}"),
        &[Panel {
            x_label: "training examples".into(),
            y_label: "test accuracy".into(),
            x_log: false,
            y_log: false,
            y_range: accuracy_range(&acc_ex),
            series: acc_ex,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &acc_note,
    )?;
    let loss_t = series(&main, &|i| curves[i].iter().map(|&(_, t, l)| (t, l)).collect(), false);
    plot::figure(
        &dir.join("loss_vs_time.svg"),
        &format!("Training loss vs time — {title_env}"),
        &[Panel {
            x_label: "training time [s] (log scale, evaluations excluded)".into(),
            y_label: "training loss (smoothed)".into(),
            x_log: true,
            y_log: true,
            series: loss_t,
            y_range: None,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &format!("{smooth_note} Engine: {}.", env.engine),
    )?;
    let acc_t = series(&main, &|i| runs[i].evals.iter().map(|e| (e.train_s, e.test_accuracy)).collect(), true);
    plot::figure(
        &dir.join("accuracy_vs_time.svg"),
        &format!("Test accuracy vs time — {title_env}"),
        &[Panel {
            x_label: "training time [s] (log scale, evaluations excluded)".into(),
            y_label: "test accuracy".into(),
            x_log: true,
            y_log: false,
            y_range: accuracy_range(&acc_t),
            series: acc_t,
            x_ticks: None,
            y_ticks: None,
        }],
        &legend(&main),
        &format!("{acc_note} Engine: {}.", env.engine),
    )?;
    // Batch sizes: every CABS run (the sensitivity α too: the batch scales with α) and the
    // best fixed runs as reference lines.
    let mut ids: Vec<&Group> = rep.cabs.iter().collect();
    for (_, c, _) in &rep.sensitivity {
        if !ids.contains(&c) {
            ids.push(c);
        }
    }
    ids.extend(rep.best_fixed.iter());
    if alone {
        ids = rep.best_rules();
    }
    let batch = series_held(&ids, &|i| thin(runs[i].steps.iter().map(|s| (s.step as f64, s.batch as f64)).collect(), 400), false, false);
    plot::figure(
        &dir.join("batch_vs_steps.svg"),
        &format!("Batch size vs steps — {title_env}"),
        &[Panel {
            x_label: "step (log scale)".into(),
            y_label: "batch size m (log scale)".into(),
            x_log: true,
            y_log: true,
            series: batch,
            y_range: None,
            x_ticks: None,
            y_ticks: Some((0..16).map(|k| f64::from(1u32 << k)).collect()),
        }],
        &legend(&ids),
        &format!(
            "The batch size each step used. {}{seeds_note}{}",
            if alone {
                "Every rule at its best α; rounded and clipped to [m_min, m_max]."
            } else {
                "CABS: m = α·ξ̄/ℒ̄, rounded and clipped; fixed-batch runs for reference."
            },
            if k > 1 {
                " A mean ends where its first seed ends (the seeds of an adaptive rule take different numbers of steps)."
            } else {
                ""
            }
        ),
    )?;
    // The comparison set of --rules, each at its best α: the batch paths against training
    // examples (at equal examples the rules are compared; steps differ by rule), on a log batch
    // axis; the median over the seeds, which is one seed's value, not a batch no run used.
    let best_rules = rep.best_rules();
    if !best_rules.is_empty() {
        let rl = |g: &Group| LegendEntry { label: rule_legend(&runs[g[0]].spec), style: rule_style(&runs[g[0]].spec, o) };
        let batch: Vec<Series> = best_rules
            .iter()
            .map(|g| {
                let (points, band) = median_band(&g.iter().map(|&i| batch_by_examples(&runs[i], env.budget, 400)).collect::<Vec<_>>());
                Series { style: rule_style(&runs[g[0]].spec, o), points, markers: false, band }
            })
            .collect();
        let top = best_rules.iter().flat_map(|g| g.iter()).filter_map(|&i| runs[i].steps.iter().map(|s| s.batch).max()).max().unwrap_or(1);
        plot::figure(
            &dir.join("rules.svg"),
            &format!("Batch size of each rule at its best α — {title_env}"),
            &[Panel {
                x_label: "training examples".into(),
                y_label: "batch size m (log scale)".into(),
                x_log: false,
                y_log: true,
                series: batch,
                y_range: Some((f64::from(first_batch(runs, &best_rules)).max(1.0) / 1.3, f64::from(top) * 1.3)),
                x_ticks: None,
                y_ticks: Some((0..16).map(|k| f64::from(1u32 << k)).collect()),
            }],
            &best_rules.iter().map(|g| rl(g)).collect::<Vec<_>>(),
            &format!(
                "The batch size that trained each example: every rule of --rules at its best α of the same grid, same budget ({} examples) \
and seeds, clipped to [m_min, m_max].{}",
                env.budget,
                if k > 1 { format!(" Lines: medians over {k} seeds; bands: their min–max.") } else { String::new() }
            ),
        )?;
        if !alone {
            let acc = series(&best_rules, &|i| runs[i].evals.iter().map(|e| (e.examples as f64, e.test_accuracy)).collect(), true);
            plot::figure(
                &dir.join("rules_accuracy.svg"),
                &format!("Test accuracy of each rule at its best α — {title_env}"),
                &[Panel {
                    x_label: "training examples".into(),
                    y_label: "test accuracy".into(),
                    x_log: false,
                    y_log: false,
                    y_range: accuracy_range(&acc),
                    series: acc,
                    x_ticks: None,
                    y_ticks: None,
                }],
                &best_rules.iter().map(|g| rl(g)).collect::<Vec<_>>(),
                &format!(
                    "Every rule of --rules at its best α of the same grid, same budget ({} examples) and seeds.{seeds_note}",
                    env.budget
                ),
            )?;
        }
    }
    // The conv layers' ξ, exact against the reference approximation, on the CABS run's batches.
    // (Of the first seed's run.)
    if let Some(c) = rep.cabs.as_ref().map(|g| g[0]).filter(|&c| runs[c].steps.iter().any(|s| s.conv_xi.is_some())) {
        let xi: Vec<(f64, f64, f64)> =
            runs[c].steps.iter().filter_map(|s| s.conv_xi.map(|(e, a)| (s.step as f64, e, a))).filter(|p| p.1 > 0.0 && p.2 > 0.0).collect();
        // Per-step values are noisy: a centred moving average over 25 steps.
        let smooth = |f: &dyn Fn(&(f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
            (0..xi.len())
                .map(|i| {
                    let w = &xi[i.saturating_sub(12)..(i + 13).min(xi.len())];
                    (xi[i].0, w.iter().map(f).sum::<f64>() / w.len() as f64)
                })
                .collect()
        };
        let exact = Style::cabs();
        let approx = Style { colour: RGBColor(213, 94, 0), width: 2, dash: Some((8, 5)), z: 2 };
        let ratio = Style { colour: RGBColor(0, 114, 178), width: 2, dash: None, z: 2 };
        let one = Style { colour: RGBColor(150, 150, 150), width: 1, dash: Some((3, 3)), z: 1 };
        let last = xi.last().map_or(1.0, |p| p.0);
        plot::figure(
            &dir.join("conv_xi.svg"),
            &format!("Conv layers' ξ: exact vs the reference approximation — CABS α = {}, {title_env}", runs[c].spec.alpha),
            &[
                Panel {
                    x_label: "step".into(),
                    y_label: "ξ of the conv filters and biases (log scale)".into(),
                    x_log: false,
                    y_log: true,
                    series: vec![
                        Series::line(exact.clone(), smooth(&|p| p.1), false),
                        Series::line(approx.clone(), smooth(&|p| p.2), false),
                    ],
                    y_range: None,
                    x_ticks: None,
                    y_ticks: None,
                },
                Panel {
                    x_label: "step".into(),
                    y_label: "approximate / exact (log scale)".into(),
                    x_log: false,
                    y_log: true,
                    series: vec![
                        Series::line(one.clone(), vec![(1.0, 1.0), (last, 1.0)], false),
                        Series::line(ratio.clone(), smooth(&|p| p.2 / p.1), false),
                    ],
                    y_range: None,
                    x_ticks: None,
                    y_ticks: None,
                },
            ],
            &[
                LegendEntry { label: "exact (Σ over conv tensors)".into(), style: exact },
                LegendEntry { label: "reference approximation".into(), style: approx },
                LegendEntry { label: "ratio approx / exact".into(), style: ratio },
            ],
            "Both computed on the same batches of the CABS run (--conv-norms both); exact drives the rule. Centred 25-step moving averages.",
        )?;
    }
    if alone {
        // No sensitivity study in a set of rules alone: no empty figure either.
        return Ok(());
    }
    // Sensitivity: one series per rule over the α list, a band over the seeds.
    let mut loss_series = Vec::new();
    let mut acc_series = Vec::new();
    let mut ex_series = Vec::new();
    let mut entries = Vec::new();
    if !rep.sensitivity.is_empty() {
        let ncol = rep.sensitivity[0].2.len() + 1;
        for col in 0..ncol {
            let pick = |row: &(f64, Group, Vec<Group>)| -> Group {
                if col == 0 {
                    row.1.clone()
                } else {
                    row.2[col - 1].clone()
                }
            };
            let first = &runs[pick(&rep.sensitivity[0])[0]];
            let style = if col == 0 { Style::cabs() } else { st(first) };
            let label = match first.spec.kind {
                Kind::Cabs => "CABS".to_string(),
                _ => format!("m={}", first.spec.batch().unwrap_or(0)),
            };
            let over_alpha = |f: &dyn Fn(&Run) -> Option<f64>| -> Series {
                let (mut points, mut band) = (Vec::new(), Vec::new());
                for row in &rep.sensitivity {
                    if let Some(sp) = over(runs, &pick(row), f) {
                        points.push((row.0, sp.mean));
                        if k > 1 {
                            band.push((row.0, sp.min, sp.max));
                        }
                    }
                }
                Series { style: style.clone(), points, markers: true, band }
            };
            loss_series.push(over_alpha(&|r| r.final_train_loss(env.window)));
            acc_series.push(over_alpha(&|r| r.final_accuracy()));
            ex_series.push(over_alpha(&|r| r.examples_to(env.target)));
            entries.push(LegendEntry { label, style: style.clone() });
        }
    }
    plot::figure(
        &dir.join("sensitivity.svg"),
        &format!("Sensitivity to α (same α for all, not tuned) — {title_env}"),
        &[
            Panel {
                x_label: "learning rate α (log scale)".into(),
                y_label: "final training loss (smoothed, log scale)".into(),
                x_log: true,
                y_log: true,
                y_range: None,
                series: loss_series,
                x_ticks: Some(o.sensitivity.clone()),
                y_ticks: None,
            },
            Panel {
                x_label: "learning rate α (log scale)".into(),
                y_label: "final test accuracy".into(),
                x_log: true,
                y_log: false,
                y_range: accuracy_range(&acc_series),
                series: acc_series,
                x_ticks: Some(o.sensitivity.clone()),
                y_ticks: None,
            },
            Panel {
                x_label: "learning rate α (log scale)".into(),
                y_label: format!("examples to {} % test accuracy", env.target * 100.0),
                x_log: true,
                y_log: false,
                series: ex_series,
                y_range: Some((0.0, env.budget as f64)),
                x_ticks: Some(o.sensitivity.clone()),
                y_ticks: None,
            },
        ],
        &entries,
        &format!(
            "A missing point means the run diverged (or, right, never reached the target within the budget). At equal examples a larger m also takes fewer steps.{seeds_note}"
        ),
    )?;
    Ok(())
}

/// A y range for accuracies: the data padded by 4 %, at least 0.05 wide (so that differences
/// of a few test examples do not fill the plot), within [0, 1].
pub(super) fn accuracy_range(series: &[Series]) -> Option<(f64, f64)> {
    let v = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|a| a.is_finite());
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| (l.min(a), h.max(a)));
    if lo > hi {
        return None;
    }
    let pad = ((hi - lo) * 0.04).max((0.05 - (hi - lo)) / 2.0);
    let (mut lo, mut hi) = (lo - pad, hi + pad);
    // Shift, not clip, at the ends of [0, 1], so that the span is kept.
    if lo < 0.0 {
        hi = (hi - lo).min(1.0);
        lo = 0.0;
    }
    if hi > 1.0 {
        lo = (lo - (hi - 1.0)).max(0.0);
        hi = 1.0;
    }
    Some((lo, hi))
}

/// The smallest batch any of the groups' runs used.
fn first_batch(runs: &[Run], groups: &[&Group]) -> u32 {
    groups.iter().flat_map(|g| g.iter()).filter_map(|&i| runs[i].steps.iter().map(|s| s.batch).min()).min().unwrap_or(1)
}

/// At most about `n` points, keeping the first and last and every point where y changes.
pub(super) fn thin(points: Vec<(f64, f64)>, n: usize) -> Vec<(f64, f64)> {
    if points.len() <= n {
        return points;
    }
    let every = points.len().div_ceil(n);
    let last = points.len() - 1;
    points.iter().enumerate().filter(|&(i, p)| i == 0 || i == last || i % every == 0 || p.1 != points[i - 1].1).map(|(_, p)| *p).collect()
}

#[cfg(test)]
mod rules_figure_tests {
    use super::super::metrics::StepPoint;
    use super::*;

    fn run(batches: &[u32]) -> Run {
        let mut r = Run::new(RunSpec { kind: Kind::Cabs, alpha: 0.1, seed: 1 });
        let mut examples = 0;
        for (i, &b) in batches.iter().enumerate() {
            examples += u64::from(b);
            r.steps.push(StepPoint { step: i as u64 + 1, examples, batch: b, loss: 1.0, train_s: 0.0, conv_xi: None });
        }
        r
    }

    #[test]
    fn the_batch_at_an_example_count_is_the_batch_that_trained_that_example() {
        // Steps of 16, 16, 32, 64: examples 1–16, 17–32, 33–64, 65–128.
        let r = run(&[16, 16, 32, 64]);
        let at = |x: f64| batch_by_examples(&r, 128, 112).iter().find(|p| p.0 == x).map(|p| p.1);
        assert_eq!(at(16.0), Some(16.0));
        assert_eq!(at(33.0), Some(32.0));
        assert_eq!(at(64.0), Some(32.0));
        assert_eq!(at(65.0), Some(64.0));
        assert_eq!(at(128.0), Some(64.0));
        assert!(batch_by_examples(&run(&[]), 128, 10).is_empty());
    }

    #[test]
    fn the_median_of_three_seeds_is_the_middle_one_and_the_band_their_range() {
        let c = |y: f64| vec![(0.0, y), (1.0, 2.0 * y)];
        let (mid, band) = median_band(&[c(16.0), c(64.0), c(20.0)]);
        assert_eq!(mid, vec![(0.0, 20.0), (1.0, 40.0)]);
        assert_eq!(band, vec![(0.0, 16.0, 64.0), (1.0, 32.0, 128.0)]);
        // Two seeds: the mean of the two; one: itself, no band.
        assert_eq!(median_band(&[c(16.0), c(32.0)]).0[0], (0.0, 24.0));
        assert_eq!(median_band(&[c(16.0)]), (c(16.0), Vec::new()));
    }

    #[test]
    fn rules_are_named_in_words_with_their_parameters() {
        let named = |rule: &str| rule_legend(&RunSpec { kind: Kind::of_rule(rule), alpha: 0.2, seed: 1 });
        assert_eq!(named("cabs"), "CABS, α=0.2");
        assert_eq!(named("norm:0.9"), "norm test θ=0.9, α=0.2");
        assert_eq!(named("inner:0.9"), "inner-product test θ=0.9, α=0.2");
        assert_eq!(named("gns"), "noise scale (GNS), K=1, α=0.2");
        assert_eq!(named("adadamp:16"), "AdaDamp M0=16, α=0.2");
        assert_eq!(named("grow:16:20000:5"), "grow 16, ×5 per 20k ex., α=0.2");
        assert_eq!(named("const:64"), "m=64, α=0.2");
        assert_eq!(named("const:64:step:1000:0.5"), "const:64:step:1000:0.5, α=0.2");
    }
}
