//! Twin of `shaders/gather_batch.wgsl`: copy a batch's features and labels out of a split.

use crate::data::Split;

/// Example `i` of the batch is `perm[offset + i]` (training) or `offset + i` (evaluation).
pub fn gather_batch(split: &Split, dim: usize, perm: Option<&[u32]>, offset: usize, m: usize, x: &mut [f32], y: &mut [u32]) {
    for i in 0..m {
        let e = match perm {
            Some(p) => p[offset + i] as usize,
            None => offset + i,
        };
        for j in 0..dim {
            x[i * dim + j] = split.feature(dim, e, j);
        }
        y[i] = split.labels[e];
    }
}
