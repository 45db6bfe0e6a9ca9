//! "Don't decay the learning rate, increase the batch size" (Smith, Kindermans, Ying, Le, ICLR
//! 2018, §2–3): a schedule, not a test. Where a step schedule would multiply α by 1/FACTOR, the
//! batch is multiplied by FACTOR instead: m = M0 · FACTOR^⌊n / EVERY⌋, n the examples seen
//! before the step that uses m. It mirrors `const:M:step:EVERY:FACTOR`, but EVERY counts
//! examples (an epoch-based schedule, as in the paper) and FACTOR ≥ 1 multiplies the batch.

use super::{check_bounds, check_start};
use crate::error::{config, Result};
use serde::{Deserialize, Serialize};

/// `grow:M0:EVERY:FACTOR`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grow {
    pub m0: u32,
    /// Examples between two growths.
    pub every: u64,
    pub factor: f64,
    pub m_min: u32,
    pub m_max: u32,
}

impl Grow {
    pub fn validate(&self) -> Result<()> {
        check_bounds(self.m_min, self.m_max)?;
        check_start(self.m0, self.m_min, self.m_max)?;
        if self.every == 0 {
            return config("grow needs EVERY ≥ 1 examples, got 0");
        }
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            return config(format!("grow needs a FACTOR ≥ 1 (it multiplies the batch), got {}", self.factor));
        }
        Ok(())
    }

    /// M0 · FACTOR^⌊examples / EVERY⌋ for the step that comes after `examples` examples.
    pub fn m_raw(&self, examples: u64) -> f64 {
        let k = (examples / self.every).min(i32::MAX as u64) as i32;
        self.m0 as f64 * self.factor.powi(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_multiplies_the_batch_every_so_many_examples() {
        let r = Grow { m0: 16, every: 1000, factor: 5.0, m_min: 16, m_max: 2048 };
        assert_eq!(r.m_raw(0), 16.0);
        assert_eq!(r.m_raw(999), 16.0);
        assert_eq!(r.m_raw(1000), 80.0);
        assert_eq!(r.m_raw(2500), 400.0);
        assert_eq!(r.m_raw(u64::MAX), f64::INFINITY, "clipped to m_max by the caller");
        assert!(Grow { factor: 0.5, ..r.clone() }.validate().is_err());
        assert!(Grow { every: 0, ..r }.validate().is_err());
    }
}
