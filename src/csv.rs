//! The per-step CSV format, shared by the native runner (`--csv`) and the page's export, so
//! both write exactly the same columns.

use crate::trainer::{EvalStats, StepStats};

pub const HEADER: &str = "step,examples_seen,batch_size,next_batch_size,m_raw,loss,loss_avg,xi,xi_avg,grad_norm_sq,noise_scale,lr,test_loss,test_accuracy,wall_ms,conv_xi_exact,conv_xi_approx";

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// One row; the test columns are empty on steps without evaluation, the conv-ξ columns unless
/// both conv norms were computed (`--conv-norms both`).
pub fn row(s: &StepStats, eval: Option<&EvalStats>, wall_ms: f64) -> String {
    let (tl, ta) = eval.map(|e| (num(e.test_loss), num(e.test_accuracy))).unwrap_or_default();
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3},{},{}",
        s.step,
        s.examples_seen,
        s.batch_size,
        s.next_batch_size,
        num(s.m_raw),
        num(s.loss),
        num(s.loss_avg),
        num(s.xi),
        num(s.xi_avg),
        num(s.grad_norm_sq),
        num(s.noise_scale),
        num(s.lr),
        tl,
        ta,
        wall_ms,
        s.conv_xi_exact.map(num).unwrap_or_default(),
        s.conv_xi_approx.map(num).unwrap_or_default(),
    )
}
