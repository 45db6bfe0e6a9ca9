//! The CABS rule (Balles, Romero, Hennig, UAI 2017): m = c·α·ξ̄/(ℒ̄+ε) from running averages of
//! the loss and ξ. Pure arithmetic, no GPU. The method is described in `docs/METHOD.md` ("The
//! rule"); defaults are the reference TensorFlow code's ("parity" defaults, see "Defaults, and
//! why" there). The other rules borrow [`CabsState`] for the `loss_avg` / `xi_avg` columns.

use super::{round_and_clip, Decision, RuleState};
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
        RuleState { loss_avg: self.loss_avg, xi_avg: self.xi_avg, t: self.t, ..RuleState::default() }
    }

    /// The rule with settings `cfg` continuing from `s` (its averages; the other rules' fields
    /// are not CABS's).
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
            let corr = super::bias_correction(mu, self.t);
            (self.loss_avg / corr, self.xi_avg / corr)
        } else {
            (self.loss_avg, self.xi_avg)
        };
        let m_raw = self.cfg.c * lr * x / (l + self.cfg.eps);
        Decision { m_raw, m_next: round_and_clip(m_raw, self.cfg.m_min, self.cfg.m_max), loss_avg: l, xi_avg: x }
    }
}
