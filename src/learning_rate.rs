//! The learning rate α as the engines use it, checked once where it enters ([`LearningRate::new`]).
//!
//! It sits at the bottom of the layer order (beside [`crate::error`]) because the trainer and the
//! run state hold it while [`crate::settings`], a layer above them, makes it from the user's
//! settings; `settings::LearningRate` re-exports it under its public path.

use crate::error::{config, Result};
use serde::{Deserialize, Serialize};

/// α as the engines use it: a positive number that stays finite and normal as an `f32` (the
/// kernels' precision; `1e39` is finite as f64 but infinite as f32, `1e-320` is 0 in f32).
/// [`LearningRate::new`] is the one check of an α, and the only way to make one, so whatever
/// holds a `LearningRate` (a [`TrainerConfig`](crate::trainer::TrainerConfig), [`crate::trainer::Trainer::set_lr`]) takes it
/// as it is. Each boundary makes its α here: the CLI and the JavaScript settings through
/// [`Settings::trainer_config`](crate::settings::Settings::trainer_config), `setLearningRate` in `src/wasm.rs`, a run state's file when it
/// is read. Reads as the `f64` it holds (`*lr`), and serialises as that number.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct LearningRate(f64);

impl LearningRate {
    /// The α `lr`, or a [`CabsError::Config`](crate::error::CabsError::Config) quoting it.
    pub fn new(lr: f64) -> Result<LearningRate> {
        let single = lr as f32;
        if !(lr.is_finite() && lr > 0.0) {
            return config(format!("the learning rate α must be a positive number, got {lr}"));
        }
        if !single.is_finite() {
            return config(format!("the learning rate α = {lr:e} is too large: it is infinite in 32-bit floats (at most {:e})", f32::MAX));
        }
        if single < f32::MIN_POSITIVE {
            return config(format!(
                "the learning rate α = {lr:e} is too small: it is 0 or subnormal in 32-bit floats (at least {:e})",
                f32::MIN_POSITIVE
            ));
        }
        Ok(LearningRate(lr))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for LearningRate {
    type Error = crate::error::CabsError;
    fn try_from(lr: f64) -> Result<LearningRate> {
        LearningRate::new(lr)
    }
}

impl From<LearningRate> for f64 {
    fn from(lr: LearningRate) -> f64 {
        lr.0
    }
}

impl std::ops::Deref for LearningRate {
    type Target = f64;
    fn deref(&self) -> &f64 {
        &self.0
    }
}

impl std::fmt::Display for LearningRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
