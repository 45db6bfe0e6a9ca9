//! User-facing settings (command-line flags, URL keys, the page's controls) and their
//! translation into a [`TrainerConfig`]. One place, so that every front end accepts the same
//! values and reports the same errors. [`schema`] describes every key (type, default, limits,
//! help) for the page, its URL parser and `<cabs-demo>`.

pub mod schema;

use crate::cabs::{parse_rule, CabsConfig, Rule};
use crate::data::{bundle, DataName, Dataset};
use crate::engine::{BackendChoice, ConvNorms};
use crate::error::{config, Result};
pub use crate::learning_rate::LearningRate;
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

    /// The settings checked, as the run's configuration: the one check of a settings object
    /// (the CLI's flags and the JavaScript settings both end here), after which nothing checks
    /// them again. The first bad value is an error that quotes it.
    pub fn trainer_config(&self) -> Result<TrainerConfig> {
        Ok(TrainerConfig {
            lr: LearningRate::new(self.lr)?,
            model: ModelSpec::parse(&self.model)?,
            rule: self.rule()?,
            seed: self.seed,
            backend: BackendChoice::parse(&self.backend)?,
            with_stats: true,
            conv_norms: ConvNorms::parse(&self.conv_norms)?,
            chunk: match self.chunk {
                Some(0) => return config("chunk must be a whole number ≥ 1 (or absent for automatic), got 0"),
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

    /// Every engine setting, through the one check of a settings object (the CLI's flags and the
    /// JavaScript settings both end here): a bad value is refused with the value quoted, and the
    /// same setting with a good value passes (so each refusal is that value's doing).
    #[test]
    fn each_bad_setting_is_refused_quoting_the_value() {
        type Set = fn(&mut Settings);
        let cases: [(&str, Set, &str); 17] = [
            ("lr", |s| s.lr = -1.0, "-1"),
            ("lr", |s| s.lr = 1e39, "1e39"),
            ("lr", |s| s.lr = 1e-40, "1e-40"),
            ("lr", |s| s.lr = f64::NAN, "NaN"),
            ("mmin", |s| s.mmin = 0, "m_min = 0"),
            ("mmax", |s| (s.mmin, s.mmax) = (64, 32), "m_min = 64, m_max = 32"),
            ("mu", |s| s.mu = 1.5, "1.5"),
            ("c", |s| s.c = -2.0, "-2"),
            ("eps", |s| s.eps = -0.25, "-0.25"),
            ("rule", |s| s.rule = "adam".into(), "'adam'"),
            ("rule", |s| s.rule = "const:16:step:0:0.5".into(), "'0'"),
            ("rule", |s| s.rule = "adadamp:4".into(), "got '4'"),
            ("model", |s| s.model = "mlp:x".into(), "'x'"),
            ("model", |s| s.model = "cnn".into(), "'cnn'"),
            ("backend", |s| s.backend = "webgl".into(), "'webgl'"),
            ("convNorms", |s| s.conv_norms = "approximately".into(), "'approximately'"),
            ("chunk", |s| s.chunk = Some(0), "got 0"),
        ];
        for (key, set, quoted) in cases {
            let mut s = Settings::default();
            set(&mut s);
            let e = s.trainer_config().unwrap_err();
            assert!(matches!(e, crate::error::CabsError::Config(_)), "{key}: {e:?}");
            assert!(e.to_string().contains(quoted), "{key}: '{quoted}' not quoted in: {e}");
        }
        let good = Settings { lr: 1e-30, mmin: 1, mmax: 1, mu: 0.0, c: 1e-9, eps: 0.0, chunk: Some(1), ..Settings::default() };
        assert!(good.trainer_config().is_ok());
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
