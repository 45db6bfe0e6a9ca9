//! The CPU twin calls of the one-pass kernels' ops (`gpu::small` on the GPU): gather, loss, bias
//! gradient, dense norms, the update and the inner products' variance, each on its plain twin in
//! `reference`, split over the engine's threads by examples or parameters only (so the sums keep
//! their order). Buffers come from [`crate::plan::Plan::io`] in the order of the kernels' bindings.

use super::{ChunkArgs, CpuExec};
use crate::fast::pool::{ranges, split_rows, Pool};
use crate::plan::Op;
use crate::reference::inner_products::inner_product_var;
use crate::reference::{
    bias_grad::bias_grad,
    gather::gather_batch,
    per_example_norms::per_example_norms,
    sgd_update::{partials, sgd_update},
    softmax_xent::softmax_xent,
};

impl CpuExec {
    /// Run one of the one-pass kernels' ops on a chunk (`lr`: the update's step size).
    pub(super) fn run_small(&mut self, op: Op, a: &ChunkArgs, lr: f32) {
        let lay = self.plan.layout.clone();
        let m = a.rows;
        match op {
            Op::Gather => {
                // Split by examples: each row is a copy of its own.
                let ([], [xb, yb]) = self.io(op);
                let (mut x, mut y, dim, rs) = (self.take(xb), self.take_u32(yb), lay.input_dim as usize, ranges(m, self.pool.threads()));
                let parts: Vec<_> = rs.iter().cloned().zip(split_rows(&mut x, &rs, dim)).zip(split_rows(&mut y, &rs, 1)).collect();
                self.pool.each(parts, |_, ((r, x), y)| gather_batch(a.split, dim, a.perm, a.offset + r.start, r.len(), x, y));
                self.put(xb, x);
                self.put_u32(yb, y);
            }
            Op::SoftmaxXent => {
                let ([logits, yb], [db, lb, cb]) = self.io(op);
                let (mut delta, mut losses, mut correct) = (self.take(db), self.take(lb), self.take(cb));
                let rows = a.row_base..a.row_base + m;
                let classes = lay.classes() as usize;
                let (z, y) = (self.get(logits), self.get_u32(yb));
                softmax_xent(z, y, m, classes, &mut delta, &mut losses[rows.clone()], &mut correct[rows]);
                self.put(db, delta);
                self.put(lb, losses);
                self.put(cb, correct);
            }
            Op::BiasGrad { layer } => {
                let ([delta], [gb]) = self.io(op);
                let d = lay.layers[layer];
                let mut grads = self.take(gb);
                let out = &mut grads[d.b_offset as usize..(d.b_offset + d.d_out) as usize];
                bias_grad(self.get(delta), m, d.d_out as usize, a.inv_m, a.accumulate, out);
                self.put(gb, grads);
            }
            Op::DenseNorms { layer, row } => {
                let ([xb, db], [nb]) = self.io(op);
                let d = lay.layers[layer];
                let mut norms = self.take(nb);
                let (w_rows, b_rows) = norms.split_at_mut((row + 1) * self.m_max);
                let (w_row, b_row) = (&mut w_rows[row * self.m_max + a.row_base..], &mut b_rows[a.row_base..]);
                let (x, delta) = (self.get(xb), self.get(db));
                let (d_in, d_out) = (d.d_in as usize, d.d_out as usize);
                // Each example's norms are its own two sums, in order: split by examples. (The sums
                // are sequential adds, a real share of a small MLP's step.)
                let rs = ranges(m, self.pool.threads());
                let parts: Vec<_> = rs.iter().cloned().zip(split_rows(w_row, &rs, 1)).zip(split_rows(b_row, &rs, 1)).collect();
                self.pool.each(parts, |_, ((r, w), b)| {
                    let (xs, ds) = (&x[r.start * d_in..r.end * d_in], &delta[r.start * d_out..r.end * d_out]);
                    per_example_norms(xs, ds, r.len(), d_in, d_out, w, b)
                });
                self.put(nb, norms);
            }
            Op::SgdUpdate => {
                let ([gb, pb], [_params, qb]) = self.io(op);
                let mut params = self.take(pb);
                let partials = sgd_update_on(&self.pool, &mut params, self.get(gb), lr);
                self.put(pb, params);
                self.put(qb, partials);
            }
            Op::InnerVar => {
                let ([ib], [sb]) = self.io(op);
                let (mean, var) = inner_product_var(&self.get(ib)[..m]);
                self.bufs.insert(sb, vec![mean, var]);
            }
            Op::ReduceStats => {} // see `CpuEngine::train_step` / `evaluate`: it returns the sums
            other => unreachable!("{other:?} is not one of this family's ops (CpuExec::run)"),
        }
    }
}

/// [`sgd_update`] split over `pool`'s threads, with the same result: the update is element-wise
/// (split by parameters) and each lane's partial `Σ ḡ²` is its own sum in the same order (split
/// by lanes, each thread walking the gradient in rows of `lanes` so that the adds vectorise across
/// lanes instead of striding).
fn sgd_update_on(pool: &Pool, params: &mut [f32], grads: &[f32], lr: f32) -> Vec<f32> {
    let lanes = partials(grads.len());
    let mut out = vec![0.0f32; lanes];
    let (pr, lr_s) = (ranges(params.len().min(grads.len()), pool.threads()), ranges(lanes, pool.threads()));
    if pool.threads() == 1 || pr.len() != lr_s.len() {
        return sgd_update(params, grads, lr); // one thread, or fewer parameters than threads
    }
    let parts: Vec<_> =
        split_rows(params, &pr, 1).into_iter().zip(pr.clone()).zip(split_rows(&mut out, &lr_s, 1).into_iter().zip(lr_s.clone())).collect();
    pool.each(parts, |_, ((w, wr), (sq, l))| {
        w.iter_mut().zip(&grads[wr]).for_each(|(w, g)| *w -= lr * g);
        for row in grads.chunks(lanes) {
            let row = row.get(l.start..l.end.min(row.len())).unwrap_or(&[]);
            sq.iter_mut().zip(row).for_each(|(sq, g)| *sq += g * g);
        }
    });
    out
}
