//! Comparisons paired by seed, and the flags every results page carries.
//!
//! Two runs of the same seed share initial weights, data order and test examples (and an
//! adaptive rule equals SGD at m_min until its batch first grows), so they are not independent
//! samples: each comparison takes the per-seed differences d_s and reports their mean with a
//! two-sided 95 % t-interval (n − 1 degrees of freedom). When both runs kept their final
//! predictions, an exact two-sided McNemar test per seed pair says whether that seed's accuracy
//! difference is beyond the test set's noise. The verdict words are one vocabulary:
//! "supported", "not shown", and "not supported" only for evidence against ([`Verdict`]).
//!
//! Also here: "did not learn" (final accuracy at most chance + [`LEARN_MARGIN`]) and identical
//! runs (the same statistics at every step), which the tables name.
//! Not here: the tables that print these (`verdicts.rs`, `markdown.rs`).

use super::metrics::Run;

/// Two-sided 95 % quantiles of Student's t for 1–30 degrees of freedom; beyond, the normal's.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
    2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// t such that P(|T| ≤ t) = 0.95 with `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        d if d <= 30 => T95[d - 1],
        _ => 1.960,
    }
}

/// The mean of per-seed differences with its 95 % t-interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    pub diffs: Vec<f64>,
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The mean of `d` and its two-sided 95 % t-interval; None when `d` is empty. With one value the
/// interval is unbounded (nothing can be shown from one seed).
pub fn t_interval(d: &[f64]) -> Option<Interval> {
    let n = d.len();
    if n == 0 || d.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let half = if n < 2 {
        f64::INFINITY
    } else {
        let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        t95(n - 1) * sd / (n as f64).sqrt()
    };
    Some(Interval { diffs: d.to_vec(), mean, lo: mean - half, hi: mean + half })
}

/// McNemar's test on one seed pair: the test examples only `a` got right, only `b` got right, and
/// the exact two-sided binomial p-value of that split (Bin(n, ½), n the discordant examples).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct McNemar {
    pub only_a: u64,
    pub only_b: u64,
    pub p: f64,
}

/// McNemar's exact test from two runs' predictions and the labels; None if the lengths differ.
pub fn mcnemar(a: &[u8], b: &[u8], labels: &[u32]) -> Option<McNemar> {
    if a.len() != labels.len() || b.len() != labels.len() {
        return None;
    }
    let (mut only_a, mut only_b) = (0u64, 0u64);
    for ((&pa, &pb), &l) in a.iter().zip(b).zip(labels) {
        match (pa as u32 == l, pb as u32 == l) {
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            _ => {}
        }
    }
    Some(McNemar { only_a, only_b, p: binomial_two_sided(only_a.min(only_b), only_a + only_b) })
}

/// P(X ≤ k or X ≥ n − k) for X ~ Bin(n, ½), k ≤ n/2: twice the lower tail, at most 1. Summed in
/// logarithms, so that it is exact to rounding for any n (½ⁿ underflows past n ≈ 1074).
pub fn binomial_two_sided(k: u64, n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let ln2n = n as f64 * std::f64::consts::LN_2;
    // ln C(n, i), built up from ln C(n, 0) = 0.
    let (mut ln_c, mut tail) = (0.0f64, 0.0f64);
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_c - ln2n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// The verdict vocabulary of every claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The interval lies wholly on the claim's side.
    Supported,
    /// The interval lies wholly against the claim: evidence against it.
    NotSupported,
    /// Anything else; nothing is claimed either way.
    NotShown,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not supported",
            Verdict::NotShown => "not shown",
        }
    }
}

/// A claim "the subject is at least as good", judged on the interval of d = subject − baseline.
/// `better_is_lower` for losses. `margin` ≥ 0 is how much worse still counts as "as good", in
/// d's units. Evidence against (the whole interval on the worse side of zero) is checked first:
/// a difference beyond the noise is never called support, even inside the margin.
pub fn at_least_as_good(iv: &Interval, better_is_lower: bool, margin: f64) -> Verdict {
    // In "higher is worse" terms.
    let (lo, hi) = if better_is_lower { (iv.lo, iv.hi) } else { (-iv.hi, -iv.lo) };
    if lo > 0.0 {
        Verdict::NotSupported
    } else if hi < margin {
        Verdict::Supported
    } else {
        Verdict::NotShown
    }
}

/// A claim "the subject is better" (strictly): supported when the interval lies wholly on the
/// better side of zero, not supported when wholly on the worse side.
pub fn better(iv: &Interval, better_is_lower: bool) -> Verdict {
    let (lo, hi) = if better_is_lower { (iv.lo, iv.hi) } else { (-iv.hi, -iv.lo) };
    if hi < 0.0 {
        Verdict::Supported
    } else if lo > 0.0 {
        Verdict::NotSupported
    } else {
        Verdict::NotShown
    }
}

/// "At least as good" on the training loss: worse by less than this share of the baseline's
/// mean loss (docs/STUDY.md).
pub const LOSS_MARGIN: f64 = 0.05;
/// "At least as good" on test accuracy: worse by less than 0.2 points.
pub const ACCURACY_MARGIN: f64 = 0.002;

/// How far above chance a final test accuracy must be to count as learnt: 1 point.
pub const LEARN_MARGIN: f64 = 0.01;

/// Chance on a test set: the share of its most common label (predicting that label always).
pub fn chance(labels: &[u32]) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for &l in labels {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    counts.values().copied().max().unwrap_or(0) as f64 / labels.len().max(1) as f64
}

/// A run did not learn: it diverged, or its final test accuracy is at most chance +
/// [`LEARN_MARGIN`]. A failed run (never trained) is not judged.
pub fn did_not_learn(run: &Run, chance: f64) -> bool {
    if run.failed.is_some() {
        return false;
    }
    run.diverged.is_some() || run.final_accuracy().is_none_or(|a| a <= chance + LEARN_MARGIN)
}

/// Groups of runs (indices into `runs`, at least two each, in run order) whose every step has
/// the same batch, examples and loss, bit for bit: for example a CABS run whose batch never left
/// m_min and the fixed m_min run of the same α and seed.
pub fn identical_runs(runs: &[Run]) -> Vec<Vec<usize>> {
    // Every step's (examples, batch, loss bits): equal keys are the same run.
    type Key = Vec<(u64, u32, u64)>;
    let key = |r: &Run| -> Key { r.steps.iter().map(|s| (s.examples, s.batch, s.loss.to_bits())).collect() };
    let mut groups: Vec<(Key, Vec<usize>)> = Vec::new();
    let mut by_hash: std::collections::HashMap<Key, usize> = std::collections::HashMap::new();
    for (i, r) in runs.iter().enumerate() {
        if r.failed.is_some() || r.steps.is_empty() {
            continue;
        }
        let k = key(r);
        match by_hash.get(&k) {
            Some(&g) => groups[g].1.push(i),
            None => {
                by_hash.insert(k.clone(), groups.len());
                groups.push((k, vec![i]));
            }
        }
    }
    groups.into_iter().map(|g| g.1).filter(|g| g.len() > 1).collect()
}
