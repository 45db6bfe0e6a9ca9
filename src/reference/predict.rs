//! Forward pass to class probabilities on the CPU, for arbitrary points (decision-boundary
//! maps on the page). Uses the same matmul twin as the CPU engine.

use super::matmul::{activation_flag, matmul, MatmulSpec, ADD_BIAS};
use crate::model::Layout;

/// Softmax probabilities, `classes` per point, for `points` of `layout.input_dim()` values each.
pub fn predict(layout: &Layout, params: &[f32], points: &[f32]) -> Vec<f32> {
    let m = points.len() / layout.input_dim() as usize;
    let mut a = points.to_vec();
    for d in &layout.layers {
        let flags = ADD_BIAS | if d.activated { activation_flag(layout.activation) } else { 0 };
        let spec = MatmulSpec { m, n: d.d_out as usize, k: d.d_in as usize, trans_a: false, trans_b: true, flags };
        let mut z = vec![0.0; m * d.d_out as usize];
        matmul(spec, &a, &params[d.w_offset as usize..], &params[d.b_offset as usize..(d.b_offset + d.d_out) as usize], &[], 0.0, &mut z);
        a = z;
    }
    let c = layout.classes() as usize;
    for row in a.chunks_mut(c) {
        let mx = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let s: f32 = row.iter().map(|z| (z - mx).exp()).sum();
        for z in row.iter_mut() {
            *z = (*z - mx).exp() / s;
        }
    }
    a
}
