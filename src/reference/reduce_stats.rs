//! Twin of `shaders/reduce_stats.wgsl`: the step's four sums in one fixed order.

use super::strided_tree_sum;

/// The sums one step (or one evaluation chunk) reads back.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepSums {
    /// Σ_i ℓ_i over the batch.
    pub loss_sum: f32,
    /// Number of correctly classified examples in the batch.
    pub correct: f32,
    /// Σ_i ‖g_i‖² over the batch, all parameter tensors.
    pub sq_norm_sum: f32,
    /// ‖ḡ‖² of the mean gradient.
    pub mean_grad_sq: f32,
}

/// `norms` holds one `m_max`-long row per parameter tensor; only the first `m` of each count.
pub fn reduce_stats(
    losses: &[f32],
    correct: &[f32],
    norms: &[f32],
    n_tensors: usize,
    m: usize,
    m_max: usize,
    partials: &[f32],
) -> StepSums {
    StepSums {
        loss_sum: strided_tree_sum(m, |i| losses[i]),
        correct: strided_tree_sum(m, |i| correct[i]),
        sq_norm_sum: strided_tree_sum(n_tensors * m, |e| norms[(e / m) * m_max + e % m]),
        mean_grad_sq: strided_tree_sum(partials.len(), |i| partials[i]),
    }
}
