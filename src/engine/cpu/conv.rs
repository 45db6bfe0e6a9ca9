//! The CPU twin calls of the convolution family's ops (`gpu::conv` on the GPU): the input
//! transform, convolutions, max-pooling and the conv norms, on [`crate::fast::conv`] (the im2col
//! twin of `reference::conv2d`), `reference::max_pool` and `reference::crop_standardize`.
//! Buffers come from [`crate::plan::Plan::io`] in the order of the kernels' bindings (`plan::bindings`).

use super::{ChunkArgs, CpuExec};
use crate::fast::conv as fast_conv;
use crate::fast::pool::{ranges, split_rows};
use crate::plan::Op;
use crate::reference::inner_products::inner_products;
use crate::reference::{conv2d, crop_standardize::crop_standardize, max_pool};

impl CpuExec {
    /// Run one of the convolution family's ops on a chunk.
    pub(super) fn run_conv(&mut self, op: Op, a: &ChunkArgs) {
        let lay = self.plan.layout.clone();
        let m = a.rows;
        match op {
            Op::CropStandardize => {
                let ([x], [ob]) = self.io(op);
                let (p, mut out) = (lay.prep.expect("plan has a transform"), self.take(ob));
                crop_standardize(&p, self.get(x), m, self.floor, &mut out);
                self.put(ob, out);
            }
            Op::ConvForward { stage } => {
                let ([x, wb], [ob]) = self.io(op);
                let c = lay.convs[stage];
                let mut out = self.take(ob);
                let (w, b) = self.get(wb)[c.w_offset as usize..c.b_offset as usize + c.conv.out_c].split_at(c.conv.filter_len());
                fast_conv::forward_on(&self.pool, &c.conv, self.get(x), w, b, m, &mut out);
                let rs = ranges(m, self.pool.threads());
                self.pool.each(split_rows(&mut out, &rs, c.conv.out_len()), |_, o| o.iter_mut().for_each(|v| *v = v.max(0.0)));
                self.put(ob, out);
            }
            Op::PoolForward { stage } => {
                let ([xb], [ob, ab]) = self.io(op);
                let p = lay.convs[stage].pool.expect("plan pools this stage");
                let (mut out, mut arg) = (self.take(ob), self.take_u32(ab));
                // Each example's pooling is its own (arg-max indices are within the example).
                let (x, rs) = (self.get(xb), ranges(m, self.pool.threads()));
                let parts: Vec<_> =
                    rs.iter().cloned().zip(split_rows(&mut out, &rs, p.out_len())).zip(split_rows(&mut arg, &rs, p.out_len())).collect();
                self.pool.each(parts, |_, ((r, o), a)| {
                    let got = max_pool::forward(&p, &x[r.start * p.in_len()..r.end * p.in_len()], r.len(), o);
                    a.copy_from_slice(&got);
                });
                self.put_u32(ab, arg);
                self.put(ob, out);
            }
            Op::PoolBackward { stage } => {
                let ([dyb, ab, actb], [db]) = self.io(op);
                let (p, mut dconv) = (lay.convs[stage].pool.expect("pooled"), self.take(db));
                let (dy, arg, act) = (self.get(dyb), self.get_u32(ab), self.get(actb));
                let (il, ol, rs) = (p.in_len(), p.out_len(), ranges(m, self.pool.threads()));
                let parts: Vec<_> = rs.iter().cloned().zip(split_rows(&mut dconv, &rs, il)).collect();
                self.pool.each(parts, |_, (r, d)| {
                    let (dy, arg) = (&dy[r.start * ol..r.end * ol], &arg[r.start * ol..r.end * ol]);
                    max_pool::backward(&p, dy, arg, r.len(), d);
                    mask_relu(d, &act[r.start * il..r.end * il]);
                });
                self.put(db, dconv);
            }
            Op::ConvBackwardInput { stage } => {
                let ([dy, wb, aux], [target]) = self.io(op);
                let c = lay.convs[stage];
                let flags = self.plan.conv_backward_target(stage).1;
                let mut dx = self.take(target);
                let w = &self.get(wb)[c.w_offset as usize..c.b_offset as usize];
                fast_conv::backward_input_on(&self.pool, &c.conv, self.get(dy), w, m, &mut dx);
                if flags != 0 {
                    let n = m * c.conv.in_len();
                    mask_relu(&mut dx[..n], &self.get(aux)[..n]);
                }
                self.put(target, dx);
            }
            Op::ConvFilterGrad { stage } => {
                let ([x, dy], [gb]) = self.io(op);
                let c = lay.convs[stage];
                let mut grads = self.take(gb);
                let (gw, gbias) = grads[c.w_offset as usize..c.b_offset as usize + c.conv.out_c].split_at_mut(c.conv.filter_len());
                fast_conv::filter_grad_on(&self.pool, &c.conv, self.get(x), self.get(dy), m, a.inv_m, a.accumulate, gw, gbias);
                self.put(gb, grads);
            }
            Op::ConvNorms { stage, approx, row } => {
                let ([xb, dyb], [nb]) = self.io(op);
                let c = lay.convs[stage];
                let (x, dy) = (self.get(xb), self.get(dyb));
                let pairs = if approx {
                    conv2d::norms_reference_approx(&c.conv, x, dy, m)
                } else {
                    fast_conv::norms_per_example_on(&self.pool, &c.conv, x, dy, m)
                };
                let mut norms = self.take(nb);
                for (i, (w, b)) in pairs.into_iter().enumerate() {
                    norms[row * self.m_max + a.row_base + i] = w;
                    norms[(row + 1) * self.m_max + a.row_base + i] = b;
                }
                self.put(nb, norms);
            }
            Op::ConvInner { stage, first } => {
                let ([x, gb, dy], [tb, ib]) = self.io(op);
                let c = lay.convs[stage];
                let mut t = self.take(tb);
                let (gw, gbias) = self.get(gb)[c.w_offset as usize..c.b_offset as usize + c.conv.out_c].split_at(c.conv.filter_len());
                fast_conv::forward_on(&self.pool, &c.conv, self.get(x), gw, gbias, m, &mut t);
                let mut inner = self.take(ib);
                inner_products(self.get(dy), &t, m, c.conv.out_len(), first, &mut inner[a.row_base..]);
                self.put(ib, inner);
                self.put(tb, t);
            }
            other => unreachable!("{other:?} is not one of this family's ops (CpuExec::run)"),
        }
    }
}

/// Zero `d` where the ReLU output `a` is not positive (`MUL_RELU_DERIV` of the shaders).
fn mask_relu(d: &mut [f32], a: &[f32]) {
    for (d, &a) in d.iter_mut().zip(a) {
        if a <= 0.0 {
            *d = 0.0;
        }
    }
}
