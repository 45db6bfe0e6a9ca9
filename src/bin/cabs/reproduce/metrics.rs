//! What the tables and figures read from a run: its steps and evaluations, the smoothed
//! training loss, the first crossing of a target accuracy, the choice of the best α.

use super::options::SelectBy;
use super::plan::RunSpec;

/// One step, as much as the tables and figures need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepPoint {
    pub step: u64,
    pub examples: u64,
    pub batch: u32,
    pub loss: f64,
    /// Seconds of training (evaluations excluded) up to the end of this step.
    pub train_s: f64,
    /// The conv layers' part of ξ, (exact, approximate), with `--conv-norms both`.
    pub conv_xi: Option<(f64, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalPoint {
    pub examples: u64,
    pub train_s: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// The loss on the fixed training subset (`probes.rs`); None in runs made before it was kept.
    pub train_subset_loss: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct Run {
    pub spec: RunSpec,
    /// `Some(message)` if training produced NaN/∞ (the rows before it are kept).
    pub diverged: Option<String>,
    /// `Some(message)` if the run could not be trained or written (engine, file); the others
    /// go on, and the reproduction exits non-zero at the end.
    pub failed: Option<String>,
    pub steps: Vec<StepPoint>,
    pub evals: Vec<EvalPoint>,
    /// Seconds from the start of the run to its end, evaluations and CSV writing included.
    pub wall_s: f64,
    /// Columns from [`conv_xi_columns`].
    pub extra: Vec<(String, String)>,
    /// What the run is used for: `cabs`, `tuning`, `best-fixed`, `decay`, `sensitivity`.
    pub roles: Vec<&'static str>,
    /// The final predicted class of every test example (`runs/<label>.pred`); None in runs made
    /// before predictions were kept, and in diverged runs.
    pub predictions: Option<Vec<u8>>,
}

impl Run {
    /// A run with no steps yet.
    pub fn new(spec: RunSpec) -> Run {
        Run {
            spec,
            diverged: None,
            failed: None,
            steps: Vec::new(),
            evals: Vec::new(),
            wall_s: 0.0,
            extra: Vec::new(),
            roles: Vec::new(),
            predictions: None,
        }
    }

    /// Diverged or failed: no final figures.
    pub fn broken(&self) -> bool {
        self.diverged.is_some() || self.failed.is_some()
    }

    pub fn final_eval(&self) -> Option<&EvalPoint> {
        if self.broken() {
            None
        } else {
            self.evals.last()
        }
    }

    /// The loss on the fixed training subset at the last evaluation that measured it (None in
    /// runs made before it was kept).
    pub fn final_subset_loss(&self) -> Option<f64> {
        self.evals.iter().rev().find_map(|e| e.train_subset_loss)
    }

    pub fn final_accuracy(&self) -> Option<f64> {
        self.final_eval().map(|e| e.test_accuracy).filter(|a| a.is_finite())
    }

    pub fn final_test_loss(&self) -> Option<f64> {
        self.final_eval().map(|e| e.test_loss).filter(|a| a.is_finite())
    }

    pub fn final_train_loss(&self, window: u64) -> Option<f64> {
        if self.broken() {
            return None;
        }
        let last = self.steps.last()?;
        smoothed_loss_at(&self.steps, self.steps.len() - 1, last.examples, window)
    }

    /// The batch size of the step at fraction `q` of the steps (1-based step ⌈q·steps⌉).
    pub fn batch_at(&self, q: f64) -> Option<u32> {
        let n = self.steps.len();
        if n == 0 {
            return None;
        }
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        Some(self.steps[i].batch)
    }

    pub fn examples_to(&self, target: f64) -> Option<f64> {
        first_crossing(&self.evals.iter().map(|e| (e.examples as f64, e.test_accuracy)).collect::<Vec<_>>(), target)
    }

    pub fn seconds_to(&self, target: f64) -> Option<f64> {
        first_crossing(&self.evals.iter().map(|e| (e.train_s, e.test_accuracy)).collect::<Vec<_>>(), target)
    }

    pub(super) fn status(&self) -> String {
        match (&self.failed, &self.diverged) {
            (Some(_), _) => "failed".into(),
            (None, None) => "ok".into(),
            (None, Some(_)) => format!("diverged at step {}", self.steps.len() + 1),
        }
    }
}

/// Where the test accuracy first reaches `target`: the x of the first evaluation at or above
/// it, linearly interpolated from the evaluation before it (when there is one, below target).
/// `points` are (x, accuracy) in training order. None if never reached.
pub fn first_crossing(points: &[(f64, f64)], target: f64) -> Option<f64> {
    let i = points.iter().position(|&(_, a)| a >= target)?;
    let (x1, a1) = points[i];
    if i == 0 {
        return Some(x1);
    }
    let (x0, a0) = points[i - 1];
    if !(a0.is_finite() && a1 > a0) {
        return Some(x1);
    }
    Some(x0 + (target - a0) / (a1 - a0) * (x1 - x0))
}

/// A candidate for the best α of one batch size: its final test accuracy (None for a diverged
/// run), smoothed final training loss, and loss on the fixed training subset at its last
/// evaluation (None where not measured).
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub accuracy: Option<f64>,
    pub train_loss: Option<f64>,
    pub subset_loss: Option<f64>,
}

impl Candidate {
    /// A group of seeds as a candidate: its means over the seeds; a group that broke in any seed
    /// never wins.
    pub fn of_group(runs: &[Run], g: &[usize], window: u64) -> Candidate {
        let all_ok = g.iter().all(|&i| !runs[i].broken());
        let acc = spread(g.iter().map(|&i| runs[i].final_accuracy()));
        let loss = spread(g.iter().map(|&i| runs[i].final_train_loss(window)));
        // The subset loss only where every seed measured it (runs made before it was kept have none).
        let subsets: Vec<Option<f64>> = g.iter().map(|&i| runs[i].final_subset_loss()).collect();
        let subset = spread(subsets.iter().copied()).filter(|_| subsets.iter().all(Option::is_some));
        Candidate {
            accuracy: acc.filter(|_| all_ok).map(|s| s.mean),
            train_loss: loss.map(|s| s.mean),
            subset_loss: subset.map(|s| s.mean),
        }
    }
}

/// The best candidate by `by`. [`SelectBy::Accuracy`]: highest final test accuracy; ties go to
/// the lower final training loss, then to the earlier candidate (the smaller α, as the grid is
/// sorted). [`SelectBy::TrainSubsetLoss`]: lowest training-subset loss, ties to the earlier; a
/// candidate without one never wins. Diverged runs never win; None if none can.
pub fn best_candidate(c: &[Candidate], by: SelectBy) -> Option<usize> {
    if by == SelectBy::TrainSubsetLoss {
        let loss = |x: &Candidate| x.subset_loss.filter(|l| l.is_finite() && x.accuracy.is_some_and(f64::is_finite));
        let mut best: Option<usize> = None;
        for (i, x) in c.iter().enumerate() {
            if let Some(l) = loss(x) {
                if best.is_none_or(|b| l < loss(&c[b]).unwrap_or(f64::INFINITY)) {
                    best = Some(i);
                }
            }
        }
        return best;
    }
    let mut best: Option<usize> = None;
    for (i, x) in c.iter().enumerate() {
        let Some(acc) = x.accuracy.filter(|a| a.is_finite()) else { continue };
        let better = match best {
            None => true,
            Some(b) => {
                let (ba, bl) = (c[b].accuracy.unwrap_or(f64::NEG_INFINITY), c[b].train_loss.unwrap_or(f64::INFINITY));
                let l = x.train_loss.filter(|l| l.is_finite()).unwrap_or(f64::INFINITY);
                acc > ba || (acc == ba && l < bl)
            }
        };
        if better {
            best = Some(i);
        }
    }
    best
}

/// The mean batch loss over the trailing `window` training examples ending at `x` examples,
/// each batch weighted by its size, taken over the steps up to index `i` whose examples lie in
/// (x − window, x]; step `i` always counts. None if any loss in it is not finite.
pub fn smoothed_loss_at(steps: &[StepPoint], i: usize, x: u64, window: u64) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0.0);
    for (j, s) in steps[..=i].iter().enumerate().rev() {
        if j != i && s.examples + window <= x {
            break;
        }
        sum += s.loss * s.batch as f64;
        n += s.batch as f64;
    }
    let v = sum / n;
    v.is_finite().then_some(v)
}

/// The smoothed training loss at about `points` evenly spaced example counts from `window` on:
/// (examples, training seconds, loss) at the last step at or before each.
pub fn smoothed_curve(steps: &[StepPoint], window: u64, points: usize) -> Vec<(f64, f64, f64)> {
    let Some(last) = steps.last() else { return Vec::new() };
    let start = window.min(last.examples);
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    let mut prev = usize::MAX;
    for k in 0..=points {
        let x = start + (last.examples - start) * k as u64 / points.max(1) as u64;
        let i = steps.partition_point(|s| s.examples <= x);
        if i == 0 || i - 1 == prev {
            continue;
        }
        prev = i - 1;
        let s = &steps[prev];
        if let Some(l) = smoothed_loss_at(steps, prev, s.examples, window) {
            out.push((s.examples as f64, s.train_s, l));
        }
    }
    out
}

/// With `--conv-norms both`: the conv layers' part of ξ, exact and approximated, on the same
/// batches, averaged over the run, and the median of approx / exact per step.
/// Nothing without those figures (these become the extra table columns of `Run::extra`).
pub(super) fn conv_xi_columns(conv_xi: &[(f64, f64)]) -> Vec<(String, String)> {
    if conv_xi.is_empty() {
        return Vec::new();
    }
    let n = conv_xi.len() as f64;
    let mean = |f: fn(&(f64, f64)) -> f64| conv_xi.iter().map(f).sum::<f64>() / n;
    let mut ratios: Vec<f64> = conv_xi.iter().filter(|(e, _)| *e > 0.0).map(|(e, a)| a / e).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).map_or(String::new(), |r| format!("{r:.3}"));
    vec![
        ("conv_xi_exact_mean".into(), format!("{:.5}", mean(|p| p.0))),
        ("conv_xi_approx_mean".into(), format!("{:.5}", mean(|p| p.1))),
        ("conv_xi_approx_over_exact_median".into(), median),
    ]
}

/// Mean, range and spread of one figure over the seeds of a run (missing values: diverged or
/// failed runs, or a target never reached, are counted, not averaged).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation over the seeds; None with fewer than two values.
    pub sd: Option<f64>,
    /// Values present.
    pub n: usize,
    /// Values missing.
    pub missing: usize,
}

/// The spread of the values that exist; None if none does.
pub fn spread(values: impl IntoIterator<Item = Option<f64>>) -> Option<Spread> {
    let all: Vec<Option<f64>> = values.into_iter().collect();
    let v: Vec<f64> = all.iter().flatten().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let sd = (n >= 2).then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
    let (min, max) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    Some(Spread { mean, min, max, sd, n, missing: all.len() - n })
}

/// The standard error of a test accuracy `p` measured on `n` test examples (binomial).
pub fn accuracy_se(p: f64, n: usize) -> f64 {
    (p * (1.0 - p) / n.max(1) as f64).sqrt()
}

impl Run {
    /// The standard error of [`Run::final_train_loss`] from the scatter of the batch losses in
    /// its window: the size-weighted variance of the batch means over the number of batches
    /// (a trend inside the window inflates it: conservative). None with fewer than 2 batches.
    pub fn final_train_loss_se(&self, window: u64) -> Option<f64> {
        if self.broken() {
            return None;
        }
        let last = self.steps.last()?;
        self.loss_se_at(self.steps.len() - 1, last.examples, window)
    }

    fn loss_se_at(&self, i: usize, x: u64, window: u64) -> Option<f64> {
        let mean = smoothed_loss_at(&self.steps, i, x, window)?;
        let (mut w, mut var, mut k) = (0.0, 0.0, 0usize);
        for (j, s) in self.steps[..=i].iter().enumerate().rev() {
            if j != i && s.examples + window <= x {
                break;
            }
            w += s.batch as f64;
            var += s.batch as f64 * (s.loss - mean).powi(2);
            k += 1;
        }
        (k >= 2).then(|| (var / w / (k - 1) as f64).sqrt())
    }

    /// The smoothed training loss after `step` steps (the same trailing window of examples),
    /// and its standard error: for comparisons at equal steps. None past the run's end.
    pub fn train_loss_at_step(&self, step: u64, window: u64) -> Option<(f64, Option<f64>)> {
        if self.failed.is_some() || step == 0 {
            return None;
        }
        let i = usize::try_from(step - 1).ok().filter(|&i| i < self.steps.len())?;
        let x = self.steps[i].examples;
        Some((smoothed_loss_at(&self.steps, i, x, window)?, self.loss_se_at(i, x, window)))
    }

    /// The mean batch loss of the first 10 steps: where training started from.
    pub fn initial_loss(&self) -> Option<f64> {
        let first = &self.steps[..self.steps.len().min(10)];
        (!first.is_empty()).then(|| first.iter().map(|s| s.loss).sum::<f64>() / first.len() as f64)
    }

    /// Steps taken (0 for a failed run).
    pub fn steps_done(&self) -> u64 {
        self.steps.last().map_or(0, |s| s.step)
    }
}
