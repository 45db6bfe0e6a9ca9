//! The batch-size rules: CABS, the fixed-batch baselines, and the adaptive rules from the
//! literature beside them (the norm test, the inner-product test, the gradient noise scale,
//! AdaDamp, a growth schedule). Pure arithmetic on one step's statistics, no GPU; one rule per
//! file, each with its formula and citation. `docs/METHOD.md` describes every rule.
//!
//! Owns: the rule's settings ([`Rule`], parsed from text by [`parse_rule`]), its running state
//! ([`RuleRunner`], carried between engines as [`RuleState`]) and its decision ([`Decision`]).
//! Does not own: the statistics themselves (the engines compute ξ, ‖ḡ‖² and the loss; the
//! trainer feeds them in as a [`StepInput`]).

pub mod adadamp;
pub mod cabs;
pub mod fixed;
pub mod gns;
pub mod grow;
pub mod inner;
pub mod norm;

pub use adadamp::AdaDamp;
pub use cabs::{CabsConfig, CabsState};
pub use fixed::LrSchedule;
pub use gns::Gns;
pub use grow::Grow;
pub use inner::InnerTest;
pub use norm::NormTest;

use crate::error::{config, CabsError, Result};
use serde::{Deserialize, Serialize};

/// How the batch size (and α) evolve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Rule {
    Cabs(CabsConfig),
    Constant {
        m: u32,
        schedule: LrSchedule,
    },
    Norm(NormTest),
    Inner(InnerTest),
    Gns(Gns),
    #[serde(rename = "adadamp")]
    AdaDamp(AdaDamp),
    Grow(Grow),
}

impl Default for Rule {
    fn default() -> Self {
        Rule::Cabs(CabsConfig::default())
    }
}

impl Rule {
    /// The batch size of the first step.
    pub fn initial_batch(&self) -> u32 {
        match self {
            Rule::Cabs(c) => c.m_min,
            Rule::Constant { m, .. } => *m,
            Rule::Norm(r) => r.m_min,
            Rule::Inner(r) => r.m_min,
            Rule::Gns(r) => r.m_min,
            Rule::AdaDamp(r) => r.m0,
            Rule::Grow(r) => r.m0,
        }
    }

    /// The largest batch this rule can ask for (buffers are sized for it).
    pub fn max_batch(&self) -> u32 {
        match self {
            Rule::Cabs(c) => c.m_max,
            Rule::Constant { m, .. } => *m,
            Rule::Norm(r) => r.m_max,
            Rule::Inner(r) => r.m_max,
            Rule::Gns(r) => r.m_max,
            Rule::AdaDamp(r) => r.m_max,
            Rule::Grow(r) => r.m_max,
        }
    }

    /// Whether ξ is the unbiased ξ·m/(m−1). CABS as configured; the rules from the sampling
    /// literature (norm, inner, gns) are stated with the sample variance, so they always use it.
    pub fn unbiased(&self) -> bool {
        match self {
            Rule::Cabs(c) => c.unbiased,
            Rule::Norm(_) | Rule::Inner(_) | Rule::Gns(_) => true,
            Rule::Constant { .. } | Rule::AdaDamp(_) | Rule::Grow(_) => false,
        }
    }

    /// Whether the rule needs Var_i(g_iᵀḡ) ([`StepInput::inner_product_var`]) every step.
    pub fn needs_inner_products(&self) -> bool {
        matches!(self, Rule::Inner(_))
    }

    /// α at (0-based) step `t` from the base `lr`: a baseline's schedule; every other rule
    /// trains plain SGD at the run's α.
    pub fn lr_at(&self, lr: f64, t: u64) -> f64 {
        match self {
            Rule::Constant { schedule, .. } => schedule.lr_at(lr, t),
            _ => lr,
        }
    }

    pub fn validate(&self) -> Result<()> {
        match self {
            Rule::Cabs(c) => c.validate(),
            Rule::Constant { m, schedule } => {
                if *m == 0 {
                    return config("a constant batch size must be at least 1");
                }
                schedule.validate()
            }
            Rule::Norm(r) => r.validate(),
            Rule::Inner(r) => r.validate(),
            Rule::Gns(r) => r.validate(),
            Rule::AdaDamp(r) => r.validate(),
            Rule::Grow(r) => r.validate(),
        }
    }

    /// Short human-readable name, e.g. `cabs`, `const:64` or `norm:0.9`.
    pub fn label(&self) -> String {
        match self {
            Rule::Cabs(_) => "cabs".into(),
            Rule::Constant { m, schedule: LrSchedule::Constant } => format!("const:{m}"),
            Rule::Constant { m, .. } => format!("const:{m}+decay"),
            Rule::Norm(r) => format!("norm:{}", r.theta),
            Rule::Inner(r) => format!("inner:{}", r.theta),
            Rule::Gns(r) => format!("gns:{}", r.k),
            Rule::AdaDamp(r) => format!("adadamp:{}", r.m0),
            Rule::Grow(r) => format!("grow:{}:{}:{}", r.m0, r.every, r.factor),
        }
    }
}

/// What the rule decided after one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// The rule's raw size before rounding and clipping (CABS: c·α·ξ̄/(ℒ̄+ε); constant rules:
    /// the constant); the CSV's `m_raw`.
    pub m_raw: f64,
    /// The size of the next batch.
    pub m_next: u32,
    pub loss_avg: f64,
    pub xi_avg: f64,
}

/// One step's statistics, as the rule sees them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInput {
    /// Mean loss of the batch at the pre-update weights.
    pub loss: f64,
    /// ξ of the batch (unbiased where [`Rule::unbiased`]).
    pub xi: f64,
    /// ‖ḡ‖².
    pub grad_norm_sq: f64,
    /// This step's batch size.
    pub m: u32,
    /// α used for this step.
    pub lr: f64,
    /// Examples seen so far, this step included: those seen before the step the decision is for.
    pub examples_seen: u64,
    /// Var_i(g_iᵀḡ) over the batch, where the engine computes it (needed by `inner`).
    pub inner_product_var: Option<f64>,
}

/// The numbers a rule carries from step to step (its settings come from the [`Rule`]): what a
/// run state must hold to continue the rule exactly on another engine.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RuleState {
    /// ℒ̄ and ξ̄ (the `loss_avg` / `xi_avg` columns; CABS's, AdaDamp's and gns's averages).
    pub loss_avg: f64,
    pub xi_avg: f64,
    /// Steps fed so far (the exponent of the bias correction).
    pub t: u64,
    /// AdaDamp's ℒ̄₀, the loss average's first value (0 for other rules).
    pub first_loss_avg: f64,
    /// gns's running average of Ĝ² = ‖ḡ‖² − ξ/m, before bias correction (0 for other rules).
    pub g2_avg: f64,
}

/// A rule in motion: its settings and its running state.
#[derive(Clone, Debug)]
pub struct RuleRunner {
    rule: Rule,
    /// The loss and ξ averages. For CABS, the rule itself; for AdaDamp and gns their averages
    /// (bias-corrected, μ = 0.95); for the others only the `loss_avg` / `xi_avg` columns.
    averages: CabsState,
    first_loss_avg: f64,
    g2_avg: f64,
}

impl RuleRunner {
    /// The rule at its start. A rule that reads Var_i(g_iᵀḡ) (`inner`) gets it from the engine,
    /// which computes it when [`Rule::needs_inner_products`] says so.
    pub fn new(rule: &Rule) -> Result<RuleRunner> {
        rule.validate()?;
        let averages = CabsState::new(match rule {
            Rule::Cabs(c) => c.clone(),
            Rule::Gns(_) => CabsConfig { mu: gns::MU, bias_correction: true, ..CabsConfig::default() },
            Rule::AdaDamp(_) => CabsConfig { mu: adadamp::MU, bias_correction: true, ..CabsConfig::default() },
            _ => CabsConfig::default(),
        });
        Ok(RuleRunner { rule: rule.clone(), averages, first_loss_avg: 0.0, g2_avg: 0.0 })
    }

    /// The rule continuing from `s` (made by [`Self::state`] of a runner of the same rule).
    pub fn from_state(rule: &Rule, s: RuleState) -> Result<RuleRunner> {
        let mut r = RuleRunner::new(rule)?;
        r.averages = CabsState::from_state(r.averages.config().clone(), s);
        (r.first_loss_avg, r.g2_avg) = (s.first_loss_avg, s.g2_avg);
        Ok(r)
    }

    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    pub fn state(&self) -> RuleState {
        RuleState { first_loss_avg: self.first_loss_avg, g2_avg: self.g2_avg, ..self.averages.state() }
    }

    /// Feed one step; returns the next batch size. Fails only for `inner` without its statistic.
    pub fn update(&mut self, s: &StepInput) -> Result<Decision> {
        let d = self.averages.update(s.loss, s.xi, s.lr);
        let t = self.averages.state().t;
        let (m_raw, m_next) = match &self.rule {
            Rule::Cabs(_) => (d.m_raw, d.m_next),
            Rule::Constant { m, .. } => (*m as f64, *m),
            Rule::Norm(r) => {
                let raw = r.m_raw(s.xi, s.grad_norm_sq);
                (raw, r.next(raw, s.m))
            }
            Rule::Inner(r) => {
                let Some(var) = s.inner_product_var else {
                    return config(format!("rule '{}' was fed a step without Var_i(g_iᵀḡ)", self.rule.label()));
                };
                let raw = r.m_raw(var, s.grad_norm_sq);
                (raw, r.next(raw, s.m))
            }
            Rule::Gns(r) => {
                self.g2_avg = gns::MU * self.g2_avg + (1.0 - gns::MU) * Gns::g2_sample(s.xi, s.grad_norm_sq, s.m);
                let raw = r.m_raw(d.xi_avg, self.g2_avg / bias_correction(gns::MU, t));
                (raw, round_and_clip(raw, r.m_min, r.m_max))
            }
            Rule::AdaDamp(r) => {
                if t == 1 {
                    self.first_loss_avg = d.loss_avg;
                }
                let raw = r.m_raw(self.first_loss_avg, d.loss_avg);
                (raw, ceil_and_clip(raw, r.m_min, r.m_max))
            }
            Rule::Grow(r) => {
                let raw = r.m_raw(s.examples_seen);
                (raw, round_and_clip(raw, r.m_min, r.m_max))
            }
        };
        Ok(Decision { m_raw, m_next, ..d })
    }
}

/// 1 − μᵗ, the divisor that makes an average started at 0 unbiased. Once μᵗ < e⁻⁴⁰ (< 2⁻⁵⁴)
/// the difference rounds to exactly 1, so 1 is returned without computing μᵗ: the same value,
/// and no subnormal arithmetic (tens of times slower) in long runs.
pub(crate) fn bias_correction(mu: f64, t: u64) -> f64 {
    if t as f64 * mu.ln() < -40.0 {
        return 1.0;
    }
    1.0 - mu.powi(t.min(i32::MAX as u64) as i32)
}

/// Round half to even, then clip to [m_min, m_max]. NaN (e.g. 0/0) goes to m_min.
pub fn round_and_clip(m_raw: f64, m_min: u32, m_max: u32) -> u32 {
    if m_raw.is_nan() {
        return m_min;
    }
    let r = m_raw.round_ties_even();
    r.clamp(m_min as f64, m_max as f64) as u32
}

/// Round up, then clip to [m_min, m_max]. NaN goes to m_min.
pub fn ceil_and_clip(m_raw: f64, m_min: u32, m_max: u32) -> u32 {
    if m_raw.is_nan() {
        return m_min;
    }
    m_raw.ceil().clamp(m_min as f64, m_max as f64) as u32
}

/// max(m, ⌈m_raw⌉), clipped to [m_min, m_max]: the tests of the sampling literature never
/// shrink the batch. NaN keeps m.
pub fn grow_only(m_raw: f64, m: u32, m_min: u32, m_max: u32) -> u32 {
    let up = if m_raw.is_nan() { m as f64 } else { m_raw.ceil().max(m as f64) };
    up.clamp(m_min as f64, m_max as f64) as u32
}

/// ξ from the two sums the kernels produce: (1/m)Σ‖g_i‖² − ‖ḡ‖², optionally times m/(m−1).
/// For m = 1 the unbiased estimate is undefined; it is reported as 0 (no spread observed).
pub fn xi_from_sums(sum_sq_norms: f64, mean_grad_sq: f64, m: u32, unbiased: bool) -> f64 {
    let biased = sum_sq_norms / m as f64 - mean_grad_sq;
    if !unbiased {
        biased
    } else if m <= 1 {
        0.0
    } else {
        biased * m as f64 / (m as f64 - 1.0)
    }
}

fn positive(what: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        config(format!("{what} must be a positive number, got {v}"))
    }
}

fn check_bounds(m_min: u32, m_max: u32) -> Result<()> {
    if m_min == 0 || m_min > m_max {
        return config(format!("need 1 ≤ m_min ≤ m_max, got m_min = {m_min}, m_max = {m_max}"));
    }
    Ok(())
}

fn check_start(m0: u32, m_min: u32, m_max: u32) -> Result<()> {
    if m0 < m_min || m0 > m_max {
        return config(format!("M0 must be within [m_min, m_max] = [{m_min}, {m_max}], got {m0}"));
    }
    Ok(())
}

/// The rules' grammar, for error messages.
pub const RULE_SYNTAX: &str = "cabs, const:M, const:M:step:EVERY:FACTOR, const:M:invtime:K, norm:THETA, inner:THETA, gns[:K], \
                               adadamp:M0 or grow:M0:EVERY:FACTOR";

/// Parse `cabs`, `const:M`, `const:M:step:EVERY:FACTOR`, `const:M:invtime:K`, `norm:THETA`,
/// `inner:THETA`, `gns[:K]`, `adadamp:M0`, `grow:M0:EVERY:FACTOR`. The adaptive rules take
/// their bounds m_min and m_max from `cabs`. Every refusal quotes the rule and the bad part.
pub fn parse_rule(s: &str, cabs: CabsConfig) -> Result<Rule> {
    let bad = |msg: String| CabsError::Config(msg);
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str, what: &str| -> Result<f64> {
        p.parse::<f64>().map_err(|_| bad(format!("{what} must be a number in rule '{s}', got '{p}'")))
    };
    // θ and K: finite and > 0, refused as written ("inf", "-1", "0").
    let pos = |p: &str, what: &str| -> Result<f64> {
        let v = num(p, what)?;
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(bad(format!("{what} must be a positive number in rule '{s}', got '{p}'")))
        }
    };
    // A whole number ≥ 1, refused as written (never cut: 2.7 is not 2).
    let whole = |p: &str, what: &str| -> Result<u64> {
        p.parse::<u64>().ok().filter(|&e| e >= 1).ok_or_else(|| bad(format!("{what} must be a whole number ≥ 1 in rule '{s}', got '{p}'")))
    };
    let (m_min, m_max) = (cabs.m_min, cabs.m_max);
    let start = |p: &str| -> Result<u32> {
        let m0 = whole(p, "M0")?;
        if m0 < m_min as u64 || m0 > m_max as u64 {
            return Err(bad(format!("M0 must be within [m_min, m_max] = [{m_min}, {m_max}] in rule '{s}', got '{p}'")));
        }
        Ok(m0 as u32)
    };
    let rule = match parts.as_slice() {
        ["cabs"] => Rule::Cabs(cabs),
        ["const", m, rest @ ..] => {
            let m: u32 = m.parse().map_err(|_| bad(format!("batch size in rule '{s}' must be a whole number, got '{m}'")))?;
            let schedule = match rest {
                [] => LrSchedule::Constant,
                ["step", every, factor] => {
                    let every = every
                        .parse::<u64>()
                        .ok()
                        .filter(|&e| e >= 1)
                        .ok_or_else(|| bad(format!("step decay needs every ≥ 1, a whole number, in rule '{s}'; got '{every}'")))?;
                    LrSchedule::Step { every, factor: num(factor, "FACTOR")? }
                }
                ["invtime", k] => LrSchedule::InverseTime { k: num(k, "K")? },
                _ => return config(format!("unknown decay in rule '{s}': use const:M, const:M:step:EVERY:FACTOR or const:M:invtime:K")),
            };
            Rule::Constant { m, schedule }
        }
        ["norm", theta] => Rule::Norm(NormTest { theta: pos(theta, "THETA")?, m_min, m_max }),
        ["inner", theta] => Rule::Inner(InnerTest { theta: pos(theta, "THETA")?, m_min, m_max }),
        ["gns"] => Rule::Gns(Gns { k: 1.0, m_min, m_max }),
        ["gns", k] => Rule::Gns(Gns { k: pos(k, "K")?, m_min, m_max }),
        ["adadamp", m0] => Rule::AdaDamp(AdaDamp { m0: start(m0)?, m_min, m_max }),
        ["grow", m0, every, factor] => {
            let (m0, every) = (start(m0)?, whole(every, "EVERY")?);
            let f = num(factor, "FACTOR")?;
            if !(f.is_finite() && f >= 1.0) {
                return config(format!("FACTOR must be a number ≥ 1 in rule '{s}' (it multiplies the batch), got '{factor}'"));
            }
            Rule::Grow(Grow { m0, every, factor: f, m_min, m_max })
        }
        [name @ ("norm" | "inner" | "gns" | "adadamp" | "grow"), ..] => {
            let form = match *name {
                "norm" => "norm:THETA",
                "inner" => "inner:THETA",
                "gns" => "gns or gns:K",
                "adadamp" => "adadamp:M0",
                _ => "grow:M0:EVERY:FACTOR",
            };
            return config(format!("rule '{s}' has the wrong number of parts: use {form}"));
        }
        _ => return config(format!("unknown rule '{s}': use {RULE_SYNTAX}")),
    };
    rule.validate()?;
    Ok(rule)
}

#[cfg(test)]
mod tests;
