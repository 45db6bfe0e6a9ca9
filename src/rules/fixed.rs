//! The fixed-batch baselines' learning-rate schedules (`const:M[:step:EVERY:FACTOR|:invtime:K]`):
//! α_t as a function of the step count. The batch size of a `const:` rule never changes.

use crate::error::{config, Result};
use serde::{Deserialize, Serialize};

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
