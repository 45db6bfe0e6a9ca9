//! The norm test (Byrd, Chin, Nocedal, Wu 2012, "Sample size selection in optimization methods
//! for machine learning", Math. Program. 134; the same test drives De et al.'s Big Batch SGD,
//! AISTATS 2017): grow the batch until the mean gradient's variance is at most θ² of its squared
//! norm, Var(ḡ) = ξ/m ≤ θ²‖ḡ‖². The smallest m that passes is ξ/(θ²‖ḡ‖²); the batch never
//! shrinks. Uses ξ and ‖ḡ‖² of the current batch only (no averages) and ignores α.

use super::{check_bounds, grow_only, positive};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// `norm:THETA`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormTest {
    /// θ: the allowed ratio of the mean gradient's standard error to its norm.
    pub theta: f64,
    pub m_min: u32,
    pub m_max: u32,
}

impl NormTest {
    pub fn validate(&self) -> Result<()> {
        positive("θ", self.theta)?;
        check_bounds(self.m_min, self.m_max)
    }

    /// ξ / (θ² · ‖ḡ‖²): the batch at which this batch's ξ and ‖ḡ‖² would just pass the test.
    pub fn m_raw(&self, xi: f64, grad_norm_sq: f64) -> f64 {
        xi / (self.theta * self.theta * grad_norm_sq)
    }

    /// max(m, ⌈m_raw⌉), clipped to [m_min, m_max].
    pub fn next(&self, m_raw: f64, m: u32) -> u32 {
        grow_only(m_raw, m, self.m_min, self.m_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_norm_test_asks_for_xi_over_theta_squared_norm_and_never_shrinks() {
        let r = NormTest { theta: 0.5, m_min: 16, m_max: 2048 };
        // ξ = 3, ‖ḡ‖² = 0.25: 3 / (0.25 · 0.25) = 48.
        assert_eq!(r.m_raw(3.0, 0.25), 48.0);
        assert_eq!(r.next(48.0, 16), 48);
        assert_eq!(r.next(48.01, 16), 49, "rounded up: the test must pass");
        assert_eq!(r.next(20.0, 64), 64, "never shrinks");
        assert_eq!(r.next(1e9, 64), 2048);
        assert_eq!(r.next(f64::INFINITY, 64), 2048, "‖ḡ‖² = 0 asks for the largest batch");
        assert_eq!(r.next(f64::NAN, 64), 64, "0/0 keeps the batch");
        assert!(NormTest { theta: 0.0, ..r.clone() }.validate().is_err());
    }
}
