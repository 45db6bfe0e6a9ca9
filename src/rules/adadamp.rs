//! AdaDamp (Sievert & Charles 2019, "Improving the convergence of SGD through adaptive batch
//! sizes", arXiv:1910.08222, the batch size of their Theorem/Algorithm "AdaDamp"): the batch
//! grows as the loss falls, m = ⌈M0 · ℒ̄₀ / ℒ̄⌉. The paper divides by the training loss F(x_k);
//! a step has only its batch's loss, so ℒ̄ is a running average of it (μ = [`MU`], started at
//! 0 and divided by 1 − μᵗ, so ℒ̄₀, its first value, is the first batch's loss). Ignores ξ and α.

use super::{check_bounds, check_start};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Decay of the loss's running average (CABS's μ).
pub const MU: f64 = 0.95;

/// `adadamp:M0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaDamp {
    /// The first batch, and the scale of every later one.
    pub m0: u32,
    pub m_min: u32,
    pub m_max: u32,
}

impl AdaDamp {
    pub fn validate(&self) -> Result<()> {
        check_bounds(self.m_min, self.m_max)?;
        check_start(self.m0, self.m_min, self.m_max)
    }

    /// M0 · ℒ̄₀ / ℒ̄.
    pub fn m_raw(&self, first_loss_avg: f64, loss_avg: f64) -> f64 {
        self.m0 as f64 * first_loss_avg / loss_avg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adadamp_scales_the_first_batch_by_the_loss_ratio() {
        let r = AdaDamp { m0: 32, m_min: 16, m_max: 2048 };
        assert_eq!(r.m_raw(2.0, 0.5), 128.0);
        assert_eq!(super::super::ceil_and_clip(r.m_raw(2.0, 0.6), 16, 2048), 107, "⌈106.67⌉");
        assert_eq!(super::super::ceil_and_clip(r.m_raw(2.0, 8.0), 16, 2048), 16);
        assert!(AdaDamp { m0: 8, ..r.clone() }.validate().is_err());
        assert!(AdaDamp { m0: 4096, ..r }.validate().is_err());
    }
}
