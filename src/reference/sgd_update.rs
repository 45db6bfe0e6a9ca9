//! Twin of `shaders/sgd_update.wgsl`: `w ← w − α·ḡ`, and per block of 256 parameters the
//! partial sum of `ḡ²` (tree order), from which `reduce_stats` forms ‖ḡ‖².

use super::{tree_sum, WORKGROUP};

pub fn sgd_update(params: &mut [f32], grads: &[f32], lr: f32) -> Vec<f32> {
    for (w, g) in params.iter_mut().zip(grads) {
        *w -= lr * g;
    }
    grads
        .chunks(WORKGROUP)
        .map(|c| {
            let sq: Vec<f32> = c.iter().map(|g| g * g).collect();
            tree_sum(&sq)
        })
        .collect()
}
