//! The inner-product test (Bollapragada, Byrd, Nocedal 2018, "Adaptive sampling strategies for
//! stochastic optimization", SIAM J. Optim. 28(4), eq. 3.6 with the sample variance of 3.9):
//! only the gradient's component along ḡ must be accurate, Var_i(g_iᵀḡ)/m ≤ θ²‖ḡ‖⁴, so the
//! smallest passing batch is Var_i(g_iᵀḡ)/(θ²‖ḡ‖⁴); the batch never shrinks. It needs the
//! per-example inner products g_iᵀḡ with the batch's own ḡ, a statistic the engine must compute
//! ([`super::StepInput::inner_product_var`]); a run without it is refused at construction.

use super::{check_bounds, grow_only, positive};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// `inner:THETA`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InnerTest {
    pub theta: f64,
    pub m_min: u32,
    pub m_max: u32,
}

impl InnerTest {
    pub fn validate(&self) -> Result<()> {
        positive("θ", self.theta)?;
        check_bounds(self.m_min, self.m_max)
    }

    /// Var_i(g_iᵀḡ) / (θ² · ‖ḡ‖⁴).
    pub fn m_raw(&self, inner_product_var: f64, grad_norm_sq: f64) -> f64 {
        inner_product_var / (self.theta * self.theta * grad_norm_sq * grad_norm_sq)
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
    fn the_inner_product_test_divides_the_variance_by_theta_squared_norm_to_the_fourth() {
        let r = InnerTest { theta: 0.9, m_min: 16, m_max: 2048 };
        // Var = 0.81, ‖ḡ‖² = 0.1: 0.81 / (0.81 · 0.01) = 100.
        let raw = r.m_raw(0.81, 0.1);
        assert!((raw - 100.0).abs() < 1e-9, "{raw}");
        assert_eq!(r.next(100.2, 40), 101);
        assert_eq!(r.next(30.0, 40), 40, "never shrinks");
        assert_eq!(r.next(5.0, 16), 16);
        assert!(InnerTest { theta: -0.9, ..r }.validate().is_err());
    }
}
