//! The gradient noise scale as a batch size (McCandlish, Kaplan, Amodei et al. 2018, "An
//! empirical model of large-batch training", eq. 2.8 for B_simple = tr(Σ)/|G|², appendix A.1 for
//! the unbiased |G|² and the running averages): m = K · B̂ with B̂ = ξ̄ / Ĝ².
//!
//! From one batch, E‖ḡ‖² = |G|² + tr(Σ)/m, so Ĝ² = ‖ḡ‖² − ξ/m is unbiased when ξ is (the rule
//! runs with the unbiased ξ·m/(m−1)). As McCandlish et al. advise, the numerator and the
//! denominator are averaged *separately* (their ratio is biased and noisy per step): ξ̄ and the
//! average of Ĝ² are exponential moving averages with μ = [`MU`], started at 0 and divided by
//! 1 − μᵗ, so the first step's values are the first batch's. The averaged Ĝ² can be ≤ 0 (noise
//! dominates); it is floored at [`G2_FLOOR`], which sends the batch to m_max.
//!
//! The `noise_scale` column stays the plug-in ξ/‖ḡ‖² of each batch (biased: ‖ḡ‖² includes the
//! noise), the quantity the logging tools report; this rule's B̂ is `m_raw / K`.

use super::{check_bounds, positive};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Decay of the two running averages (CABS's μ; McCandlish et al. give no value).
pub const MU: f64 = 0.95;
/// The smallest Ĝ² the rule divides by (positive, so that B̂ is never negative or NaN).
pub const G2_FLOOR: f64 = f64::MIN_POSITIVE;

/// `gns[:K]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gns {
    /// Multiple of B̂ (1: the "critical batch size" estimate itself).
    pub k: f64,
    pub m_min: u32,
    pub m_max: u32,
}

impl Gns {
    pub fn validate(&self) -> Result<()> {
        positive("K", self.k)?;
        check_bounds(self.m_min, self.m_max)
    }

    /// One batch's unbiased Ĝ² = ‖ḡ‖² − ξ/m (ξ unbiased).
    pub fn g2_sample(xi: f64, grad_norm_sq: f64, m: u32) -> f64 {
        grad_norm_sq - xi / m as f64
    }

    /// K · ξ̄ / max(Ĝ²̄, floor), from the bias-corrected averages.
    pub fn m_raw(&self, xi_avg: f64, g2_avg: f64) -> f64 {
        self.k * xi_avg / g2_avg.max(G2_FLOOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_noise_scale_uses_the_unbiased_squared_gradient_and_a_floor() {
        let r = Gns { k: 2.0, m_min: 16, m_max: 2048 };
        // ‖ḡ‖² = 0.5, ξ = 8, m = 32: Ĝ² = 0.5 − 0.25 = 0.25; B̂ = 8 / 0.25 = 32; K·B̂ = 64.
        let g2 = Gns::g2_sample(8.0, 0.5, 32);
        assert_eq!(g2, 0.25);
        assert_eq!(r.m_raw(8.0, g2), 64.0);
        assert_eq!(r.m_raw(8.0, -0.1), 2.0 * 8.0 / G2_FLOOR, "a negative Ĝ² is floored");
        assert_eq!(r.m_raw(0.0, 0.0), 0.0, "no noise and no signal: the smallest batch, not NaN");
        assert!(Gns { k: 0.0, ..r }.validate().is_err());
    }
}
