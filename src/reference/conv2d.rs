//! 2-D convolution on the CPU: forward, the two backward products, and the squared norm of each
//! example's filter gradient — exactly (two routes) and as the reference TensorFlow code
//! approximates it. The CPU twin of the convolution kernels, and the oracle for their tests.
//!
//! Layouts (row-major): activations `[m, C, H, W]`; filters `[C_out, C_in, K_h, K_w]` (PyTorch's
//! convention); bias `[C_out]`. Padding follows TensorFlow: `Same` gives `ceil(in / stride)`
//! outputs with the extra padding row/column at the bottom/right, `Valid` gives
//! `floor((in − k) / stride) + 1`.
//!
//! The per-example filter gradient is `G_i = Σ_p δ_{i,p} x_{i,p}ᵀ` over output positions p, with
//! x_{i,p} the input patch under the filter at p and δ_{i,p} the back-propagated error there.
//! - [`norms_per_example`] forms each `G_i` (one example at a time) and squares it:
//!   O(P·C_in·K²·C_out) per example.
//! - [`norms_gram`] uses `‖G_i‖² = Σ_{p,q} (x_pᵀx_q)(δ_pᵀδ_q)`: O(P²·(C_in·K² + C_out)), cheaper
//!   when there are few positions and many channels.
//! - [`norms_reference_approx`] is what the reference code computes by squaring inputs and errors
//!   before the filter-gradient op: `Σ_p ‖x_p‖²‖δ_p‖²`, dropping all cross terms p ≠ q. By
//!   Cauchy–Schwarz `exact ≤ P · approx`.
//!
//! Why the engines use the per-example route, and what the approximation does to ξ:
//! `docs/METHOD.md`, "Convolutions: exact per-example norms" and the section after it.

pub use crate::model::shapes::{out_and_pad, Conv2dSpec, Padding};

/// The patch arithmetic of the CPU twins (the shape itself: [`crate::model::shapes`]).
impl Conv2dSpec {
    /// Input index under filter tap (c, u, v) at output position (y, x), or None in the padding.
    fn tap(&self, c: usize, y: usize, x: usize, u: usize, v: usize, pad: (usize, usize)) -> Option<usize> {
        let iy = (y * self.stride + u).checked_sub(pad.0)?;
        let ix = (x * self.stride + v).checked_sub(pad.1)?;
        (iy < self.in_h && ix < self.in_w).then(|| (c * self.in_h + iy) * self.in_w + ix)
    }

    /// The input patch at output position p of one example (zeros in the padding), taps in
    /// (c, u, v) order.
    pub fn patch(&self, x: &[f32], p: usize, out: &mut [f32]) {
        let (_, ow, pt, pl) = self.output();
        let (y, xx) = (p / ow, p % ow);
        let mut j = 0;
        for c in 0..self.in_c {
            for u in 0..self.k_h {
                for v in 0..self.k_w {
                    out[j] = self.tap(c, y, xx, u, v, (pt, pl)).map_or(0.0, |i| x[i]);
                    j += 1;
                }
            }
        }
    }

    /// Every patch of one example, one row per output position: `rows[p · patch_len + j]`.
    pub fn unfold(&self, x: &[f32], rows: &mut [f32]) {
        let k = self.patch_len();
        for p in 0..self.positions() {
            self.patch(x, p, &mut rows[p * k..(p + 1) * k]);
        }
    }

    /// Input index of every (position, tap), `usize::MAX` in the padding (the inverse of unfold).
    fn tap_table(&self) -> Vec<usize> {
        let (_, ow, pt, pl) = self.output();
        let mut t = Vec::with_capacity(self.positions() * self.patch_len());
        for p in 0..self.positions() {
            for c in 0..self.in_c {
                for u in 0..self.k_h {
                    for v in 0..self.k_w {
                        t.push(self.tap(c, p / ow, p % ow, u, v, (pt, pl)).unwrap_or(usize::MAX));
                    }
                }
            }
        }
        t
    }
}

/// `out[i] = conv(x[i], w) + b`, for `m` examples. Each output sums its taps in (c, u, v) order,
/// as the shader does; the loop runs over output channels innermost so that it vectorises.
pub fn forward(s: &Conv2dSpec, x: &[f32], w: &[f32], b: &[f32], m: usize, out: &mut [f32]) {
    let (p_count, k) = (s.positions(), s.patch_len());
    let mut rows = vec![0.0; p_count * k];
    let mut w_t = vec![0.0; k * s.out_c]; // [tap, out channel]
    for o in 0..s.out_c {
        for j in 0..k {
            w_t[j * s.out_c + o] = w[o * k + j];
        }
    }
    let mut acc = vec![0.0f32; s.out_c];
    for i in 0..m {
        s.unfold(&x[i * s.in_len()..(i + 1) * s.in_len()], &mut rows);
        for p in 0..p_count {
            acc.fill(0.0);
            for (j, &xv) in rows[p * k..(p + 1) * k].iter().enumerate() {
                for (a, &wv) in acc.iter_mut().zip(&w_t[j * s.out_c..(j + 1) * s.out_c]) {
                    *a += wv * xv;
                }
            }
            for (o, a) in acc.iter().enumerate() {
                out[i * s.out_len() + o * p_count + p] = a + b[o];
            }
        }
    }
}

/// Gradient with respect to the input: `dx[i] = convᵀ(dy[i], w)`.
pub fn backward_input(s: &Conv2dSpec, dy: &[f32], w: &[f32], m: usize, dx: &mut [f32]) {
    let (p_count, k) = (s.positions(), s.patch_len());
    let taps = s.tap_table();
    let mut drow = vec![0.0f32; k];
    dx[..m * s.in_len()].fill(0.0);
    for i in 0..m {
        let dxi = &mut dx[i * s.in_len()..(i + 1) * s.in_len()];
        for p in 0..p_count {
            drow.fill(0.0);
            for o in 0..s.out_c {
                let d = dy[i * s.out_len() + o * p_count + p];
                for (r, &wv) in drow.iter_mut().zip(&w[o * k..(o + 1) * k]) {
                    *r += d * wv;
                }
            }
            for (&t, &r) in taps[p * k..(p + 1) * k].iter().zip(&drow) {
                if t != usize::MAX {
                    dxi[t] += r;
                }
            }
        }
    }
}

/// One example's filter and bias gradient `G_i = Σ_p δ_p x_pᵀ`, `g_b = Σ_p δ_p`, added to `gw`,
/// `gb` (positions in ascending order); `rows` is the example's [`Conv2dSpec::unfold`].
fn add_unfolded_grad(s: &Conv2dSpec, rows: &[f32], dy: &[f32], gw: &mut [f32], gb: &mut [f32]) {
    let (p_count, k) = (s.positions(), s.patch_len());
    for p in 0..p_count {
        let patch = &rows[p * k..(p + 1) * k];
        for o in 0..s.out_c {
            let d = dy[o * p_count + p];
            gb[o] += d;
            for (g, a) in gw[o * k..(o + 1) * k].iter_mut().zip(patch) {
                *g += d * a;
            }
        }
    }
}

/// One example's filter and bias gradient `G_i = Σ_p δ_p x_pᵀ`, `g_b = Σ_p δ_p`, added to `gw`, `gb`.
pub fn add_example_grad(s: &Conv2dSpec, x: &[f32], dy: &[f32], scale: f32, gw: &mut [f32], gb: &mut [f32]) {
    let mut rows = vec![0.0; s.positions() * s.patch_len()];
    s.unfold(x, &mut rows);
    let scaled: Vec<f32> = dy[..s.out_len()].iter().map(|d| d * scale).collect();
    add_unfolded_grad(s, &rows, &scaled, gw, gb);
}

/// Mean filter and bias gradient over `m` examples: summed over examples and positions in
/// ascending order, then scaled by `inv_m` (1/(examples in the whole batch)) once, the order of
/// `conv2d_filter_grad.wgsl`. With `accumulate` the result is added to `gw`, `gb` (the later
/// chunks of a chunked step).
#[allow(clippy::too_many_arguments)]
pub fn filter_grad(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize, inv_m: f32, accumulate: bool, gw: &mut [f32], gb: &mut [f32]) {
    let mut sw = vec![0.0; gw.len()];
    let mut sb = vec![0.0; gb.len()];
    let mut rows = vec![0.0; s.positions() * s.patch_len()];
    for i in 0..m {
        s.unfold(&x[i * s.in_len()..(i + 1) * s.in_len()], &mut rows);
        add_unfolded_grad(s, &rows, &dy[i * s.out_len()..(i + 1) * s.out_len()], &mut sw, &mut sb);
    }
    for (g, v) in gw.iter_mut().chain(gb.iter_mut()).zip(sw.iter().chain(&sb)) {
        *g = if accumulate { *g + v * inv_m } else { v * inv_m };
    }
}

/// Σ v² in f64: a conv layer's per-example norm adds 10⁴–10⁵ squares, too many for an f32 sum
/// one by one (relative error ~1e-5); the GPU sums them in a tree.
fn sum_sq(v: &[f32]) -> f32 {
    v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() as f32
}

/// Per-example (‖∂ℓ_i/∂W‖², ‖∂ℓ_i/∂b‖²), exact, forming each G_i.
pub fn norms_per_example(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize) -> Vec<(f32, f32)> {
    let mut gw = vec![0.0; s.filter_len()];
    let mut gb = vec![0.0; s.out_c];
    let mut rows = vec![0.0; s.positions() * s.patch_len()];
    (0..m)
        .map(|i| {
            gw.fill(0.0);
            gb.fill(0.0);
            s.unfold(&x[i * s.in_len()..(i + 1) * s.in_len()], &mut rows);
            add_unfolded_grad(s, &rows, &dy[i * s.out_len()..(i + 1) * s.out_len()], &mut gw, &mut gb);
            (sum_sq(&gw), sum_sq(&gb))
        })
        .collect()
}

/// Per-example squared norms, exact, by the Gram form over output positions.
pub fn norms_gram(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize) -> Vec<(f32, f32)> {
    let p_count = s.positions();
    let mut patches = vec![0.0; p_count * s.patch_len()];
    (0..m)
        .map(|i| {
            let xi = &x[i * s.in_len()..(i + 1) * s.in_len()];
            let di = &dy[i * s.out_len()..(i + 1) * s.out_len()];
            s.unfold(xi, &mut patches);
            let patch = |p: usize| &patches[p * s.patch_len()..(p + 1) * s.patch_len()];
            let delta_dot = |p: usize, q: usize| (0..s.out_c).map(|o| di[o * p_count + p] * di[o * p_count + q]).sum::<f32>();
            let mut w = 0.0f64;
            for p in 0..p_count {
                for q in 0..p_count {
                    let xx: f32 = patch(p).iter().zip(patch(q)).map(|(a, b)| a * b).sum();
                    w += (xx * delta_dot(p, q)) as f64;
                }
            }
            let b: f64 = (0..s.out_c).map(|o| ((0..p_count).map(|p| di[o * p_count + p]).sum::<f32>() as f64).powi(2)).sum();
            (w as f32, b as f32)
        })
        .collect()
}

/// The exact route that costs fewer multiply-adds for this shape.
pub fn norms_exact(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize) -> Vec<(f32, f32)> {
    let p = s.positions();
    let per_example_cost = p * s.patch_len() * s.out_c;
    let gram_cost = p * p * (s.patch_len() + s.out_c);
    if gram_cost < per_example_cost {
        norms_gram(s, x, dy, m)
    } else {
        norms_per_example(s, x, dy, m)
    }
}

/// The reference TensorFlow code's approximation: `Σ_p ‖x_p‖²‖δ_p‖²` (weights) and `Σ_p ‖δ_p‖²`
/// (bias): cross terms between positions dropped.
pub fn norms_reference_approx(s: &Conv2dSpec, x: &[f32], dy: &[f32], m: usize) -> Vec<(f32, f32)> {
    let p_count = s.positions();
    let mut patch = vec![0.0; s.patch_len()];
    (0..m)
        .map(|i| {
            let xi = &x[i * s.in_len()..(i + 1) * s.in_len()];
            let di = &dy[i * s.out_len()..(i + 1) * s.out_len()];
            let (mut w, mut b) = (0.0f64, 0.0f64);
            for p in 0..p_count {
                s.patch(xi, p, &mut patch);
                let xx: f32 = patch.iter().map(|v| v * v).sum();
                let dd: f32 = (0..s.out_c).map(|o| di[o * p_count + p].powi(2)).sum();
                w += (xx * dd) as f64;
                b += dd as f64;
            }
            (w as f32, b as f32)
        })
        .collect()
}
