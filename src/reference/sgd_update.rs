//! Twin of `shaders/sgd_update.wgsl`: `w ← w − α·ḡ`, and per thread (lane) the partial sum of
//! `ḡ²` in grid-stride order, from which `reduce_stats` forms ‖ḡ‖².

use super::WORKGROUP;

/// Most workgroups the update uses (the grid-stride loop covers the rest).
pub const MAX_GROUPS: usize = 64;

/// Workgroups of the update for `count` parameters.
pub fn groups(count: usize) -> usize {
    count.div_ceil(WORKGROUP).clamp(1, MAX_GROUPS)
}

/// Threads of the update, each writing one partial: the length of the partials buffer.
pub fn partials(count: usize) -> usize {
    groups(count) * WORKGROUP
}

pub fn sgd_update(params: &mut [f32], grads: &[f32], lr: f32) -> Vec<f32> {
    for (w, g) in params.iter_mut().zip(grads) {
        *w -= lr * g;
    }
    let lanes = partials(grads.len());
    (0..lanes).map(|t| grads.iter().skip(t).step_by(lanes).fold(0.0f32, |sq, g| sq + g * g)).collect()
}
