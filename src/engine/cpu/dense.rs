//! The CPU twin calls of the matmul family's ops (`gpu::matmul` on the GPU): a dense layer's
//! forward product, its backward δ, its weight gradient and the inner products' Ḡ·a + ḡ_b, each
//! on [`crate::fast::gemm`] (the blocked SIMD twin of `reference::matmul`) with the same
//! epilogue flags and parameter offsets as the shader. Buffers come from [`crate::plan::Plan::io`] in the
//! order of the kernel's bindings (`plan::bindings::MATMUL`).

use super::{ChunkArgs, CpuExec};
use crate::fast::gemm::matmul_on;
use crate::model::epilogue::{ACCUMULATE, ADD_BIAS, SCALE_INV_M};
use crate::plan::Op;
use crate::reference::inner_products::inner_products;
use crate::reference::matmul::MatmulSpec;

impl CpuExec {
    /// Run one of the matmul family's ops on a chunk.
    pub(super) fn run_dense(&mut self, op: Op, a: &ChunkArgs) {
        let lay = self.plan.layout.clone();
        let m = a.rows;
        match op {
            Op::DenseForward { layer } => {
                let ([x, wb], [ob]) = self.io(op);
                let d = lay.layers[layer];
                let spec = MatmulSpec {
                    m,
                    n: d.d_out as usize,
                    k: d.d_in as usize,
                    trans_a: false,
                    trans_b: true,
                    flags: self.plan.forward_flags(layer),
                };
                let mut out = self.take(ob);
                let (w, b) = self.get(wb)[d.w_offset as usize..(d.b_offset + d.d_out) as usize].split_at((d.d_in * d.d_out) as usize);
                matmul_on(&self.pool, spec, self.get(x), w, b, &[], 0.0, &mut out);
                self.put(ob, out);
            }
            Op::DenseBackward { layer } => {
                let ([delta, wb, aux], [target]) = self.io(op);
                let d = lay.layers[layer];
                let flags = self.plan.backward_target(layer).1;
                let spec = MatmulSpec { m, n: d.d_in as usize, k: d.d_out as usize, trans_a: false, trans_b: false, flags };
                let mut out = self.take(target);
                let w = &self.get(wb)[d.w_offset as usize..d.b_offset as usize];
                matmul_on(&self.pool, spec, self.get(delta), w, &[], self.get(aux), 0.0, &mut out);
                self.put(target, out);
            }
            Op::WeightGrad { layer } => {
                let ([delta, x], [gb]) = self.io(op);
                let d = lay.layers[layer];
                let flags = SCALE_INV_M | if a.accumulate { ACCUMULATE } else { 0 };
                let spec = MatmulSpec { m: d.d_out as usize, n: d.d_in as usize, k: m, trans_a: true, trans_b: false, flags };
                let mut grads = self.take(gb);
                let out = &mut grads[d.w_offset as usize..d.b_offset as usize];
                matmul_on(&self.pool, spec, self.get(delta), self.get(x), &[], &[], a.inv_m, out);
                self.put(gb, grads);
            }
            Op::DenseInner { layer, first } => {
                // t_i = Ḡ a_i + ḡ_b: the forward product with the gradient as weights, written
                // over the layer's output, which the pass no longer needs; then δ_i · t_i.
                let ([x, gb, delta], [tb, ib]) = self.io(op);
                let d = lay.layers[layer];
                let spec = MatmulSpec { m, n: d.d_out as usize, k: d.d_in as usize, trans_a: false, trans_b: true, flags: ADD_BIAS };
                let mut t = self.take(tb);
                let (gw, gbias) = self.get(gb)[d.w_offset as usize..(d.b_offset + d.d_out) as usize].split_at((d.d_in * d.d_out) as usize);
                matmul_on(&self.pool, spec, self.get(x), gw, gbias, &[], 0.0, &mut t);
                let mut inner = self.take(ib);
                inner_products(self.get(delta), &t, m, d.d_out as usize, first, &mut inner[a.row_base..]);
                self.put(ib, inner);
                self.put(tb, t);
            }
            other => unreachable!("{other:?} is not one of this family's ops (CpuExec::run)"),
        }
    }
}
