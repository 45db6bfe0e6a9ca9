//! Twin of `shaders/sgd_update.wgsl`: `w ← w − α·ḡ`, and per workgroup the partial sum of `ḡ²`
//! (grid-stride lanes, then tree order), from which `reduce_stats` forms ‖ḡ‖².

use super::{tree_sum, WORKGROUP};

/// Most workgroups the update uses (the grid-stride loop covers the rest).
pub const MAX_GROUPS: usize = 64;

/// Workgroups of the update for `count` parameters.
pub fn groups(count: usize) -> usize {
    count.div_ceil(WORKGROUP).clamp(1, MAX_GROUPS)
}

pub fn sgd_update(params: &mut [f32], grads: &[f32], lr: f32) -> Vec<f32> {
    for (w, g) in params.iter_mut().zip(grads) {
        *w -= lr * g;
    }
    let g_count = groups(grads.len());
    let stride = g_count * WORKGROUP;
    (0..g_count)
        .map(|w| {
            let lanes: Vec<f32> = (0..WORKGROUP)
                .map(|t| {
                    let mut sq = 0.0f32;
                    let mut i = w * WORKGROUP + t;
                    while i < grads.len() {
                        sq += grads[i] * grads[i];
                        i += stride;
                    }
                    sq
                })
                .collect();
            tree_sum(&lanes)
        })
        .collect()
}
