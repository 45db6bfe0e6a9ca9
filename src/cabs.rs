//! The CABS batch-size rule and the fixed-batch baselines: pure arithmetic on the step's
//! statistics, no GPU. The method is described in `docs/METHOD.md` ("The rule"); defaults are
//! the reference TensorFlow code's ("parity" defaults, see "Defaults, and why" there).

use crate::error::{config, Result};
use serde::{Deserialize, Serialize};

/// Settings of the CABS rule. `Default` gives the reference code's values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CabsConfig {
    /// Decay of the running averages of loss and ξ.
    pub mu: f64,
    /// Multiplier of the raw size (`c` in the paper's m = c·α·ξ/ℒ).
    pub c: f64,
    /// Added to the averaged loss in the denominator.
    pub eps: f64,
    pub m_min: u32,
    pub m_max: u32,
    /// Use the unbiased ξ·m/(m−1) instead of the reference code's biased ξ.
    pub unbiased: bool,
    /// Start both averages at 0 and divide by (1 − μᵗ) (Adam-style) instead of the reference
    /// code's ξ̄₀ = 0, ℒ̄₀ = 1 without correction.
    pub bias_correction: bool,
}

impl Default for CabsConfig {
    fn default() -> Self {
        CabsConfig { mu: 0.95, c: 1.0, eps: 0.0, m_min: 16, m_max: 2048, unbiased: false, bias_correction: false }
    }
}

impl CabsConfig {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.mu) {
            return config(format!("μ must be in [0, 1), got {}", self.mu));
        }
        if !(self.c.is_finite() && self.c > 0.0) {
            return config(format!("c must be a positive number, got {}", self.c));
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return config(format!("ε must be ≥ 0, got {}", self.eps));
        }
        if self.m_min == 0 || self.m_min > self.m_max {
            return config(format!("need 1 ≤ m_min ≤ m_max, got m_min = {}, m_max = {}", self.m_min, self.m_max));
        }
        Ok(())
    }
}

/// A learning-rate schedule for the fixed-batch baselines: α_t as a function of the step count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LrSchedule {
    Constant,
    /// α_t = α · factor^⌊t / every⌋.
    Step {
        every: u64,
        factor: f64,
    },
    /// α_t = α / (1 + k·t).
    InverseTime {
        k: f64,
    },
}

impl LrSchedule {
    /// α at (0-based) step `t`, from the base `lr`.
    pub fn lr_at(&self, lr: f64, t: u64) -> f64 {
        match *self {
            LrSchedule::Constant => lr,
            LrSchedule::Step { every, factor } => lr * factor.powi((t / every.max(1)) as i32),
            LrSchedule::InverseTime { k } => lr / (1.0 + k * t as f64),
        }
    }

    pub fn validate(&self) -> Result<()> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Step { every, factor } => {
                if every == 0 || !(factor > 0.0 && factor <= 1.0) {
                    config(format!("step decay needs every ≥ 1 and 0 < factor ≤ 1, got every = {every}, factor = {factor}"))
                } else {
                    Ok(())
                }
            }
            LrSchedule::InverseTime { k } => {
                if !(k.is_finite() && k >= 0.0) {
                    config(format!("inverse-time decay needs k ≥ 0, got {k}"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// How the batch size (and α) evolve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Rule {
    Cabs(CabsConfig),
    Constant { m: u32, schedule: LrSchedule },
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
        }
    }

    /// The largest batch this rule can ask for (buffers are sized for it).
    pub fn max_batch(&self) -> u32 {
        match self {
            Rule::Cabs(c) => c.m_max,
            Rule::Constant { m, .. } => *m,
        }
    }

    /// Whether the rule reads the variance of the per-example inner products g_iᵀḡ (the
    /// `inner:THETA` rule): the engines compute them only then, so other rules do not pay.
    pub fn needs_inner_products(&self) -> bool {
        false
    }

    pub fn unbiased(&self) -> bool {
        matches!(self, Rule::Cabs(c) if c.unbiased)
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
        }
    }

    /// Short human-readable name, e.g. `cabs` or `const:64`.
    pub fn label(&self) -> String {
        match self {
            Rule::Cabs(_) => "cabs".into(),
            Rule::Constant { m, schedule: LrSchedule::Constant } => format!("const:{m}"),
            Rule::Constant { m, .. } => format!("const:{m}+decay"),
        }
    }
}

/// What the rule decided after one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// c·α·ξ̄/(ℒ̄+ε) before rounding and clipping (for constant rules: the constant).
    pub m_raw: f64,
    /// The size of the next batch.
    pub m_next: u32,
    pub loss_avg: f64,
    pub xi_avg: f64,
}

/// The numbers [`CabsState`] carries from step to step (its settings come from the [`Rule`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleState {
    pub loss_avg: f64,
    pub xi_avg: f64,
    /// Steps fed so far (the exponent of the bias correction).
    pub t: u64,
}

/// The running state of the CABS rule.
#[derive(Clone, Debug)]
pub struct CabsState {
    cfg: CabsConfig,
    loss_avg: f64,
    xi_avg: f64,
    t: u64,
}

impl CabsState {
    pub fn new(cfg: CabsConfig) -> Self {
        let loss_avg = if cfg.bias_correction { 0.0 } else { 1.0 };
        CabsState { cfg, loss_avg, xi_avg: 0.0, t: 0 }
    }

    pub fn config(&self) -> &CabsConfig {
        &self.cfg
    }

    pub fn state(&self) -> RuleState {
        RuleState { loss_avg: self.loss_avg, xi_avg: self.xi_avg, t: self.t }
    }

    /// The rule with settings `cfg` continuing from `s`.
    pub fn from_state(cfg: CabsConfig, s: RuleState) -> Self {
        CabsState { cfg, loss_avg: s.loss_avg, xi_avg: s.xi_avg, t: s.t }
    }

    /// Feed one step's batch loss ℓ_B and ξ (already biased or unbiased as configured),
    /// with the α in force; returns the next batch size.
    pub fn update(&mut self, loss: f64, xi: f64, lr: f64) -> Decision {
        let mu = self.cfg.mu;
        self.t += 1;
        self.loss_avg = mu * self.loss_avg + (1.0 - mu) * loss;
        self.xi_avg = mu * self.xi_avg + (1.0 - mu) * xi;
        let (l, x) = if self.cfg.bias_correction {
            let corr = 1.0 - mu.powi(self.t.min(i32::MAX as u64) as i32);
            (self.loss_avg / corr, self.xi_avg / corr)
        } else {
            (self.loss_avg, self.xi_avg)
        };
        let m_raw = self.cfg.c * lr * x / (l + self.cfg.eps);
        Decision { m_raw, m_next: round_and_clip(m_raw, self.cfg.m_min, self.cfg.m_max), loss_avg: l, xi_avg: x }
    }
}

/// Round half to even, then clip to [m_min, m_max]. NaN (e.g. 0/0) goes to m_min.
pub fn round_and_clip(m_raw: f64, m_min: u32, m_max: u32) -> u32 {
    if m_raw.is_nan() {
        return m_min;
    }
    let r = m_raw.round_ties_even();
    r.clamp(m_min as f64, m_max as f64) as u32
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

/// Parse `cabs`, `const:M`, `const:M:step:EVERY:FACTOR`, `const:M:invtime:K`.
pub fn parse_rule(s: &str, cabs: CabsConfig) -> Result<Rule> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str, what: &str| -> Result<f64> {
        p.parse::<f64>().map_err(|_| crate::CabsError::Config(format!("{what} must be a number in rule '{s}', got '{p}'")))
    };
    let rule = match parts.as_slice() {
        ["cabs"] => Rule::Cabs(cabs),
        ["const", m, rest @ ..] => {
            let m: u32 =
                m.parse().map_err(|_| crate::CabsError::Config(format!("batch size in rule '{s}' must be a whole number, got '{m}'")))?;
            let schedule = match rest {
                [] => LrSchedule::Constant,
                ["step", every, factor] => {
                    // A whole number ≥ 1, refused as written (never cut: 2.7 is not 2).
                    let every = every.parse::<u64>().ok().filter(|&e| e >= 1).ok_or_else(|| {
                        crate::CabsError::Config(format!("step decay needs every ≥ 1, a whole number, in rule '{s}'; got '{every}'"))
                    })?;
                    LrSchedule::Step { every, factor: num(factor, "FACTOR")? }
                }
                ["invtime", k] => LrSchedule::InverseTime { k: num(k, "K")? },
                _ => return config(format!("unknown decay in rule '{s}': use const:M, const:M:step:EVERY:FACTOR or const:M:invtime:K")),
            };
            Rule::Constant { m, schedule }
        }
        _ => return config(format!("unknown rule '{s}': use cabs, const:M, const:M:step:EVERY:FACTOR or const:M:invtime:K")),
    };
    rule.validate()?;
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        assert_eq!(parse_rule("const:64", CabsConfig::default()).unwrap().label(), "const:64");
        assert!(matches!(
            parse_rule("const:8:step:100:0.5", CabsConfig::default()).unwrap(),
            Rule::Constant { m: 8, schedule: LrSchedule::Step { every: 100, .. } }
        ));
        assert!(parse_rule("const:x", CabsConfig::default()).is_err());
        assert!(parse_rule("adam", CabsConfig::default()).is_err());
        assert!(parse_rule("const:0", CabsConfig::default()).is_err());
    }

    #[test]
    fn schedules() {
        let s = LrSchedule::Step { every: 10, factor: 0.5 };
        assert_eq!(s.lr_at(1.0, 9), 1.0);
        assert_eq!(s.lr_at(1.0, 10), 0.5);
        assert_eq!(LrSchedule::InverseTime { k: 1.0 }.lr_at(1.0, 3), 0.25);
    }
}
