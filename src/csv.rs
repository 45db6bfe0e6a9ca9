//! The per-step CSV format, shared by the native runner (`--csv`) and the page's export (the
//! wasm exports `csvHeader()` and `csvRow(record)`), so both write exactly the same bytes.

use crate::trainer::{EvalStats, StepStats};
use serde::Deserialize;

pub const HEADER: &str = "step,examples_seen,batch_size,next_batch_size,m_raw,loss,loss_avg,xi,xi_avg,grad_norm_sq,noise_scale,lr,test_loss,test_accuracy,wall_ms,conv_xi_exact,conv_xi_approx,inner_product_var";

/// The fields of a [`Record`] in JavaScript, in [`HEADER`]'s order (its columns in camelCase).
pub const FIELDS: [&str; 18] = [
    "step",
    "examplesSeen",
    "batchSize",
    "nextBatchSize",
    "mRaw",
    "loss",
    "lossAvg",
    "xi",
    "xiAvg",
    "gradNormSq",
    "noiseScale",
    "lr",
    "testLoss",
    "testAccuracy",
    "wallMs",
    "convXiExact",
    "convXiApprox",
    "innerProductVar",
];

/// One row's values, as the page records a step: the step's statistics (the camelCase fields of
/// [`StepStats`]), `wallMs`, and on evaluated steps `testLoss` and `testAccuracy`. Other fields
/// are ignored; a missing or non-finite value is an empty cell.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Record {
    pub step: Option<f64>,
    pub examples_seen: Option<f64>,
    pub batch_size: Option<f64>,
    pub next_batch_size: Option<f64>,
    pub m_raw: Option<f64>,
    pub loss: Option<f64>,
    pub loss_avg: Option<f64>,
    pub xi: Option<f64>,
    pub xi_avg: Option<f64>,
    pub grad_norm_sq: Option<f64>,
    pub noise_scale: Option<f64>,
    pub lr: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub wall_ms: Option<f64>,
    pub conv_xi_exact: Option<f64>,
    pub conv_xi_approx: Option<f64>,
    pub inner_product_var: Option<f64>,
}

/// Shortest round-trip digits, never an exponent (Rust's `{}` for f64); empty when not finite.
fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => String::new(),
    }
}

impl Record {
    /// The values of one step of the native runner (counts are exact in f64 below 2⁵³).
    pub fn new(s: &StepStats, eval: Option<&EvalStats>, wall_ms: f64) -> Record {
        Record {
            step: Some(s.step as f64),
            examples_seen: Some(s.examples_seen as f64),
            batch_size: Some(s.batch_size.into()),
            next_batch_size: Some(s.next_batch_size.into()),
            m_raw: Some(s.m_raw),
            loss: Some(s.loss),
            loss_avg: Some(s.loss_avg),
            xi: Some(s.xi),
            xi_avg: Some(s.xi_avg),
            grad_norm_sq: Some(s.grad_norm_sq),
            noise_scale: Some(s.noise_scale),
            lr: Some(s.lr),
            test_loss: eval.map(|e| e.test_loss),
            test_accuracy: eval.map(|e| e.test_accuracy),
            wall_ms: Some(wall_ms),
            conv_xi_exact: s.conv_xi_exact,
            conv_xi_approx: s.conv_xi_approx,
            inner_product_var: s.inner_product_var,
        }
    }

    /// A record from its values in [`FIELDS`]' order.
    pub fn from_fields(v: [Option<f64>; 18]) -> Record {
        let [step, examples_seen, batch_size, next_batch_size, m_raw, loss, loss_avg, xi, xi_avg, grad_norm_sq, noise_scale, lr, test_loss, test_accuracy, wall_ms, conv_xi_exact, conv_xi_approx, inner_product_var] =
            v;
        Record {
            step,
            examples_seen,
            batch_size,
            next_batch_size,
            m_raw,
            loss,
            loss_avg,
            xi,
            xi_avg,
            grad_norm_sq,
            noise_scale,
            lr,
            test_loss,
            test_accuracy,
            wall_ms,
            conv_xi_exact,
            conv_xi_approx,
            inner_product_var,
        }
    }

    /// The row, in [`HEADER`]'s order; `wall_ms` has three decimals.
    pub fn row(&self) -> String {
        let wall = match self.wall_ms {
            Some(w) if w.is_finite() => format!("{w:.3}"),
            _ => String::new(),
        };
        let cells = [
            num(self.step),
            num(self.examples_seen),
            num(self.batch_size),
            num(self.next_batch_size),
            num(self.m_raw),
            num(self.loss),
            num(self.loss_avg),
            num(self.xi),
            num(self.xi_avg),
            num(self.grad_norm_sq),
            num(self.noise_scale),
            num(self.lr),
            num(self.test_loss),
            num(self.test_accuracy),
            wall,
            num(self.conv_xi_exact),
            num(self.conv_xi_approx),
            num(self.inner_product_var),
        ];
        cells.join(",")
    }
}

/// One row; the test columns are empty on steps without evaluation, the conv-ξ columns unless
/// both conv norms were computed (`--conv-norms both`), `inner_product_var` unless the inner
/// products were (the `inner:THETA` rule).
pub fn row(s: &StepStats, eval: Option<&EvalStats>, wall_ms: f64) -> String {
    Record::new(s, eval, wall_ms).row()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_the_header_in_camel_case() {
        let camel: Vec<String> = HEADER
            .split(',')
            .map(|c| c.split('_').enumerate().map(|(i, w)| if i == 0 { w.to_string() } else { w[..1].to_uppercase() + &w[1..] }).collect())
            .collect();
        assert_eq!(camel, FIELDS);
    }

    #[test]
    fn numbers_as_rust_displays_them_and_empty_when_missing() {
        let mut v = [None; 18];
        v[0] = Some(3.0);
        v[5] = Some(1e-7);
        v[9] = Some(2.5e22);
        v[10] = Some(f64::NAN);
        v[14] = Some(0.0625); // three decimals, ties to even as Rust rounds (JS toFixed gives 0.063)
        let row = Record::from_fields(v).row();
        assert_eq!(row, "3,,,,,0.0000001,,,,25000000000000000000000,,,,,0.062,,,");
    }
}
