//! User-facing settings (command-line flags, URL keys, the page's controls) and their
//! translation into a [`TrainerConfig`]. One place, so that every front end accepts the same
//! values and reports the same errors. [`schema`] describes every key (type, default, limits,
//! help) for the page, its URL parser and `<cabs-demo>`.

pub mod schema;

use crate::cabs::{parse_rule, CabsConfig, Rule};
use crate::data::{bundle, DataName, Dataset};
use crate::engine::{BackendChoice, ConvNorms};
use crate::error::{config, Result};
use crate::model::ModelSpec;
use crate::trainer::TrainerConfig;
use serde::{Deserialize, Serialize};

/// Defaults chosen so that the CABS effect is visible within a few hundred steps on the bundled
/// MNIST with a small MLP: at the paper's α = 0.1 the batch of a 784-256-10 MLP hardly leaves 16
/// (see README), so the default α is 0.5.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    pub data: String,
    pub model: String,
    pub rule: String,
    pub lr: f64,
    pub mmin: u32,
    pub mmax: u32,
    pub mu: f64,
    pub c: f64,
    pub eps: f64,
    pub unbiased: bool,
    pub bias_correction: bool,
    pub seed: u64,
    pub backend: String,
    /// exact | both | reference (see [`ConvNorms`]).
    pub conv_norms: String,
    /// Examples per chunk of a step; absent: chosen from the device limits or memory budget.
    pub chunk: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        let c = CabsConfig::default();
        Settings {
            data: "mnist".into(),
            model: "mlp:256".into(),
            rule: "cabs".into(),
            lr: 0.5,
            mmin: c.m_min,
            mmax: c.m_max,
            mu: c.mu,
            c: c.c,
            eps: c.eps,
            unbiased: c.unbiased,
            bias_correction: c.bias_correction,
            seed: 1,
            backend: "auto".into(),
            conv_norms: "exact".into(),
            chunk: None,
        }
    }
}

impl Settings {
    pub fn cabs_config(&self) -> CabsConfig {
        CabsConfig {
            mu: self.mu,
            c: self.c,
            eps: self.eps,
            m_min: self.mmin,
            m_max: self.mmax,
            unbiased: self.unbiased,
            bias_correction: self.bias_correction,
        }
    }

    pub fn rule(&self) -> Result<Rule> {
        parse_rule(&self.rule, self.cabs_config())
    }

    pub fn trainer_config(&self) -> Result<TrainerConfig> {
        check_lr(self.lr)?;
        Ok(TrainerConfig {
            model: ModelSpec::parse(&self.model)?,
            rule: self.rule()?,
            lr: self.lr,
            seed: self.seed,
            backend: BackendChoice::parse(&self.backend)?,
            with_stats: true,
            conv_norms: ConvNorms::parse(&self.conv_norms)?,
            chunk: match self.chunk {
                Some(0) => return config("chunk must be a whole number ≥ 1 (or absent for automatic)"),
                c => c,
            },
        })
    }

    /// The data set: generated from the seed, or parsed from the MNIST bundle's bytes.
    pub fn dataset(&self, mnist_bundle: Option<&[u8]>) -> Result<Dataset> {
        match DataName::parse(&self.data)? {
            DataName::Mnist => match mnist_bundle {
                Some(b) => bundle::parse(b),
                None => config(
                    "data 'mnist' needs the MNIST bundle: pass the bytes of data/mnist.bin (in the npm package and the hosted \
                     site) as the second argument of Trainer.create; in a source checkout it is www/data/mnist.bin, made by \
                     scripts/setup.sh",
                ),
            },
            other => other.generate(self.seed),
        }
    }
}

/// α as the engines use it: a positive number that stays finite and non-zero as an `f32` (the
/// kernels' precision). `1e39` is finite as f64 but infinite as f32; `1e-320` is 0 in f32.
pub fn check_lr(lr: f64) -> Result<()> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rates_must_survive_f32() {
        for lr in [1e39, 1e308, 1e-320, 1e-40, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            let s = Settings { lr, ..Settings::default() };
            let e = s.trainer_config().unwrap_err().to_string();
            assert!(e.contains("learning rate"), "{lr}: {e}");
        }
        let e = Settings { lr: 1e39, ..Settings::default() }.trainer_config().unwrap_err().to_string();
        assert!(e.contains("1e39") && e.contains("too large"), "{e}");
        let e = Settings { lr: 1e-320, ..Settings::default() }.trainer_config().unwrap_err().to_string();
        assert!(e.contains("1e-320") && e.contains("too small"), "{e}");
        for lr in [1e-30, 0.5, 3e38] {
            assert!(Settings { lr, ..Settings::default() }.trainer_config().is_ok(), "{lr}");
        }
    }

    #[test]
    fn rules_quote_the_value_given() {
        for (rule, needle) in [
            ("const:16:step:2.7:0.5", "'2.7'"),
            ("const:16:step:-5:0.5", "'-5'"),
            ("const:16:step:0:0.5", "'0'"),
            ("const:2.5", "'2.5'"),
            ("const:16:invtime:nan", "NaN"),
        ] {
            let s = Settings { rule: rule.into(), ..Settings::default() };
            let e = s.trainer_config().unwrap_err().to_string();
            assert!(e.contains(needle), "{rule}: {e}");
        }
    }
}
