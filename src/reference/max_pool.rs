//! Max-pooling on the CPU: forward (remembering the arg-max of each window) and backward (the
//! error goes to the arg-max). Layout `[m, C, H, W]`; padding as in TensorFlow (padded cells
//! never win). Ties go to the first maximum in row-major window order.

pub use crate::model::shapes::PoolSpec;

/// Returns the arg-max input index (within the example) of every output.
pub fn forward(s: &PoolSpec, x: &[f32], m: usize, out: &mut [f32]) -> Vec<u32> {
    let (oh, ow, pt, pl) = s.output();
    let mut arg = vec![0u32; m * s.out_len()];
    for i in 0..m {
        let xi = &x[i * s.in_len()..(i + 1) * s.in_len()];
        for c in 0..s.c {
            for y in 0..oh {
                for xx in 0..ow {
                    let mut best: Option<(f32, usize)> = None;
                    for u in 0..s.window {
                        for v in 0..s.window {
                            let (Some(iy), Some(ix)) = ((y * s.stride + u).checked_sub(pt), (xx * s.stride + v).checked_sub(pl)) else {
                                continue;
                            };
                            if iy >= s.in_h || ix >= s.in_w {
                                continue;
                            }
                            let t = (c * s.in_h + iy) * s.in_w + ix;
                            if best.is_none_or(|(b, _)| xi[t] > b) {
                                best = Some((xi[t], t));
                            }
                        }
                    }
                    let (v, t) = best.unwrap_or((0.0, 0));
                    let o = i * s.out_len() + (c * oh + y) * ow + xx;
                    out[o] = v;
                    arg[o] = t as u32;
                }
            }
        }
    }
    arg
}

/// Route each output's error to its arg-max.
pub fn backward(s: &PoolSpec, dy: &[f32], arg: &[u32], m: usize, dx: &mut [f32]) {
    dx[..m * s.in_len()].fill(0.0);
    for i in 0..m {
        for o in 0..s.out_len() {
            dx[i * s.in_len() + arg[i * s.out_len() + o] as usize] += dy[i * s.out_len() + o];
        }
    }
}
