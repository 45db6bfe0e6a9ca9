//! The CPU engine: runs the step [`Plan`] on buffers of the same names and layout as the GPU
//! engine's. Matrix products and convolutions run on the blocked SIMD kernels of [`crate::fast`]
//! (equal to the plain twins in `reference` up to rounding); the other ops call the CPU twin of
//! their kernel. Available everywhere, and the fallback for browsers without WebGPU.
//! The products and convolutions are split over the engine's threads ([`crate::fast::pool`]),
//! over independent outputs only, so a run is bit-identical for every thread count.
//! [`CpuExec`] (buffers + op execution) also serves predictions on arbitrary points for every
//! model.

use super::{ConvSnapshot, EvalSums, Snapshot};
use crate::data::{Dataset, Features, Split};
use crate::error::{CabsError, Result};
use crate::fast::pool::{default_threads, ranges, split_rows, Pool};
use crate::fast::{conv as fast_conv, gemm::matmul_on};
use crate::model::epilogue::{ACCUMULATE, ADD_BIAS, SCALE_INV_M};
use crate::model::Layout;
use crate::plan::{Buf, Chunking, Extent, Op, Plan};
use crate::reference::inner_products::{inner_product_var, inner_products};
use crate::reference::matmul::MatmulSpec;
use crate::reference::reduce_stats::{reduce_stats, StepSums};
use crate::reference::{
    bias_grad::bias_grad,
    conv2d,
    crop_standardize::crop_standardize,
    gather::gather_batch,
    max_pool,
    per_example_norms::per_example_norms,
    sgd_update::{partials, sgd_update},
    softmax_xent::softmax_xent,
};
use std::collections::BTreeMap;

/// A zeroed vector whose allocation failure is an error, not an abort.
pub fn try_zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        CabsError::Config(format!("out of memory allocating {what} ({} values); lower m_max or the chunk, or use a smaller model", n))
    })?;
    v.resize(n, T::default());
    Ok(v)
}

/// Where a chunk's examples come from and where its rows go.
#[derive(Clone, Copy)]
pub struct ChunkArgs<'a> {
    pub split: &'a Split,
    /// Training order (`perm[offset + i]`), or `None` for `offset + i`.
    pub perm: Option<&'a [u32]>,
    pub offset: usize,
    pub rows: usize,
    /// This chunk's first row within the batch (where its per-example statistics go).
    pub row_base: usize,
    /// 1 / examples in the whole batch.
    pub inv_m: f32,
    /// Later chunks add their gradient to the earlier chunks'.
    pub accumulate: bool,
}

/// The buffers of a plan and the execution of its ops on the CPU twins.
pub struct CpuExec {
    pub plan: Plan,
    /// Rows of the per-chunk buffers.
    pub chunk: usize,
    /// Rows of the per-batch buffers (the norm rows' stride).
    pub m_max: usize,
    /// Standardisation floor (see `reference::crop_standardize`).
    floor: f32,
    /// Every f32 buffer of the plan by name, parameters and gradient included.
    bufs: BTreeMap<Buf, Vec<f32>>,
    /// The u32 buffers: labels and arg-max indices.
    ints: BTreeMap<Buf, Vec<u32>>,
    /// [`Plan::io`] of every op the plan runs, worked out once rather than per op and chunk.
    io: BTreeMap<Op, (Vec<Buf>, Vec<Buf>)>,
    /// The threads the products and convolutions are split over (results do not depend on
    /// how many: see [`crate::fast::pool`]).
    pool: Pool,
}

/// The buffers the shaders declare as `array<u32>`.
fn is_u32(b: Buf) -> bool {
    matches!(b, Buf::Labels | Buf::Arg(_))
}

impl CpuExec {
    pub fn new(plan: Plan, chunk: u32, m_max: u32, byte_scale: f32, params: &[f32]) -> Result<CpuExec> {
        let (chunk, m_max) = (chunk as usize, m_max as usize);
        let layout = &plan.layout;
        if params.len() != layout.param_count as usize {
            return Err(CabsError::Config(format!("expected {} parameters, got {}", layout.param_count, params.len())));
        }
        let (mut bufs, mut ints) = (BTreeMap::new(), BTreeMap::new());
        for (buf, extent) in plan.buffers() {
            let len = match extent {
                Extent::PerChunkRow(n) => chunk * n,
                Extent::PerBatchRow(n) => m_max * n,
                Extent::Fixed(n) => n,
            };
            let what = format!("{buf:?}");
            if is_u32(buf) {
                ints.insert(buf, try_zeroed(len, &what)?);
            } else {
                bufs.insert(buf, try_zeroed(len, &what)?);
            }
        }
        bufs.insert(Buf::Params, params.to_vec());
        let floor = layout.prep.map_or(0.0, |p| byte_scale / (p.output.len() as f32).sqrt());
        let ops = plan.chunk.iter().chain(&plan.finish).chain(&plan.forward).chain(&plan.recompute).chain(&plan.inner);
        let io = ops.chain(&[Op::InnerVar]).map(|&op| (op, plan.io(op))).collect();
        Ok(CpuExec { chunk, m_max, floor, bufs, ints, io, plan, pool: Pool::new(default_threads()) })
    }

    pub fn layout(&self) -> &Layout {
        &self.plan.layout
    }

    /// Run the ops on `n` threads from now on (at least 1; always 1 in wasm).
    pub fn set_threads(&mut self, n: usize) {
        if n.max(1) != self.pool.threads() {
            self.pool = Pool::new(n);
        }
    }

    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    pub fn get(&self, b: Buf) -> &[f32] {
        &self.bufs[&b]
    }

    fn get_u32(&self, b: Buf) -> &[u32] {
        &self.ints[&b]
    }

    pub fn params(&self) -> &[f32] {
        self.get(Buf::Params)
    }

    pub fn params_mut(&mut self) -> &mut [f32] {
        self.bufs.get_mut(&Buf::Params).map_or(&mut [], |v| v.as_mut_slice())
    }

    pub fn grads(&self) -> &[f32] {
        self.get(Buf::Grads)
    }

    /// Mean and sample variance of the per-example inner products ([`Op::InnerVar`]).
    pub fn inner_stats(&self) -> (f32, f32) {
        let s = self.get(Buf::InnerStats);
        (s[0], s[1])
    }

    /// Take a buffer out to write it while others are read (put back with [`Self::put`]).
    fn take(&mut self, b: Buf) -> Vec<f32> {
        self.bufs.remove(&b).unwrap_or_default()
    }

    fn put(&mut self, b: Buf, v: Vec<f32>) {
        self.bufs.insert(b, v);
    }

    fn take_u32(&mut self, b: Buf) -> Vec<u32> {
        self.ints.remove(&b).unwrap_or_default()
    }

    fn put_u32(&mut self, b: Buf, v: Vec<u32>) {
        self.ints.insert(b, v);
    }

    /// The first `R` buffers an op reads and the `W` it writes, in binding order: [`Plan::io`],
    /// derived from the bindings the GPU engine binds, so both engines use the same buffers.
    fn io<const R: usize, const W: usize>(&self, op: Op) -> ([Buf; R], [Buf; W]) {
        let owned;
        let (reads, writes) = match self.io.get(&op) {
            Some(io) => io,
            None => {
                owned = self.plan.io(op);
                &owned
            }
        };
        debug_assert!(reads.len() >= R && writes.len() == W, "{op:?} binds {reads:?} → {writes:?}");
        (std::array::from_fn(|i| reads[i]), std::array::from_fn(|i| writes[i]))
    }

    /// Run one op on a chunk.
    pub fn run(&mut self, op: Op, a: &ChunkArgs, lr: f32) {
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
            Op::BiasGrad { layer } => {
                let ([delta], [gb]) = self.io(op);
                let d = lay.layers[layer];
                let mut grads = self.take(gb);
                let out = &mut grads[d.b_offset as usize..(d.b_offset + d.d_out) as usize];
                bias_grad(self.get(delta), m, d.d_out as usize, a.inv_m, a.accumulate, out);
                self.put(gb, grads);
            }
            Op::ConvFilterGrad { stage } => {
                let ([x, dy], [gb]) = self.io(op);
                let c = lay.convs[stage];
                let mut grads = self.take(gb);
                let (gw, gbias) = grads[c.w_offset as usize..c.b_offset as usize + c.conv.out_c].split_at_mut(c.conv.filter_len());
                fast_conv::filter_grad_on(&self.pool, &c.conv, self.get(x), self.get(dy), m, a.inv_m, a.accumulate, gw, gbias);
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
            Op::InnerVar => {
                let ([ib], [sb]) = self.io(op);
                let (mean, var) = inner_product_var(&self.get(ib)[..m]);
                self.bufs.insert(sb, vec![mean, var]);
            }
            Op::SgdUpdate => {
                let ([gb, pb], [_params, qb]) = self.io(op);
                let mut params = self.take(pb);
                let partials = sgd_update_on(&self.pool, &mut params, self.get(gb), lr);
                self.put(pb, params);
                self.put(qb, partials);
            }
            Op::ReduceStats => {} // see `CpuEngine::train_step` / `evaluate`: it returns the sums
        }
    }

    /// The step's sums over a batch of `m` (norms and ‖ḡ‖² only `with_stats`).
    pub fn sums(&self, m: usize, with_stats: bool) -> StepSums {
        let ([losses, correct, norms, partials], []) = self.io(Op::ReduceStats);
        let n_tensors = if with_stats { self.plan.layout.n_tensors() } else { 0 };
        let partials: &[f32] = if with_stats { self.get(partials) } else { &[] };
        reduce_stats(self.get(losses), self.get(correct), self.get(norms), n_tensors, m, self.m_max, partials)
    }
    /// Class probabilities for `points` (`input_dim` values each), by the plan's forward ops and
    /// a softmax of the logits, in chunks.
    pub fn predict(&mut self, points: &[f32]) -> Vec<f32> {
        let dim = self.plan.layout.input_dim as usize;
        let n = points.len() / dim;
        let classes = self.plan.layout.classes() as usize;
        let split = Split { features: Features::F32(points.to_vec()), labels: vec![0; n] };
        let last = self.plan.layout.layers.len() - 1;
        let mut out = Vec::with_capacity(n * classes);
        let ops: Vec<Op> = self.plan.forward.iter().copied().filter(|op| !matches!(op, Op::SoftmaxXent | Op::ReduceStats)).collect();
        for offset in (0..n).step_by(self.chunk.max(1)) {
            let rows = (n - offset).min(self.chunk);
            let args = ChunkArgs { split: &split, perm: None, offset, rows, row_base: 0, inv_m: 1.0, accumulate: false };
            for &op in &ops {
                self.run(op, &args, 0.0);
            }
            for z in self.get(Buf::Act(last))[..rows * classes].chunks(classes) {
                let mx = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let s: f32 = z.iter().map(|v| (v - mx).exp()).sum();
                out.extend(z.iter().map(|v| (v - mx).exp() / s));
            }
        }
        out
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

/// Zero `d` where the ReLU output `a` is not positive (`MUL_RELU_DERIV` of the shaders).
fn mask_relu(d: &mut [f32], a: &[f32]) {
    for (d, &a) in d.iter_mut().zip(a) {
        if a <= 0.0 {
            *d = 0.0;
        }
    }
}

pub struct CpuEngine {
    exec: CpuExec,
    chunking: Chunking,
    train: Split,
    test: Split,
    perm: Vec<u32>,
    /// Rows of the last chunk run (what a snapshot shows of the per-chunk buffers).
    last_rows: usize,
    /// Run the inner products' pass ([`Plan::inner_pass`]) in each training step.
    inner_on: bool,
}

impl CpuEngine {
    pub fn new(plan: Plan, chunking: Chunking, data: &Dataset, m_max: u32, params: &[f32]) -> Result<CpuEngine> {
        let exec = CpuExec::new(plan, chunking.chunk, m_max, data.train.gpu_format().1, params)?;
        Ok(CpuEngine {
            exec,
            chunking,
            train: data.train.clone(),
            test: data.test.clone(),
            perm: (0..data.train.len() as u32).collect(),
            last_rows: 0,
            inner_on: false,
        })
    }

    /// Compute the per-example inner products p_i = g_iᵀḡ (and their variance) in every
    /// training step from now on, or stop.
    pub fn set_inner_products(&mut self, on: bool) {
        self.inner_on = on;
    }

    /// (mean, sample variance) of the last step's p_i; None unless they were computed.
    pub fn inner_product_stats(&self) -> Option<(f32, f32)> {
        self.inner_on.then_some(self.exec.inner_stats())
    }

    /// The last step's per-example inner products p_i (first `m`; zeros unless computed).
    pub fn inner_products(&self, m: u32) -> Vec<f32> {
        self.exec.get(Buf::Inner)[..m as usize].to_vec()
    }

    pub fn chunking(&self) -> Chunking {
        self.chunking
    }

    pub fn plan(&self) -> &Plan {
        &self.exec.plan
    }

    pub fn set_permutation(&mut self, perm: &[u32]) {
        self.perm = perm.to_vec();
    }

    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        let own = self.exec.params_mut();
        if params.len() != own.len() {
            return Err(CabsError::Config(format!("expected {} parameters, got {}", own.len(), params.len())));
        }
        own.copy_from_slice(params);
        Ok(())
    }

    pub fn params(&self) -> &[f32] {
        self.exec.params()
    }

    /// Split the step's products and convolutions over `n` threads (at least 1; always 1 in
    /// wasm). Results are bit-identical for every `n`.
    pub fn set_threads(&mut self, n: usize) {
        self.exec.set_threads(n);
    }

    pub fn threads(&self) -> usize {
        self.exec.threads()
    }

    /// One SGD step on the batch `perm[offset .. offset + m]`, in chunks.
    pub fn train_step(&mut self, offset: u32, m: u32, lr: f32, with_stats: bool) -> StepSums {
        let inv_m = 1.0 / m as f32;
        let ops: Vec<Op> = self.exec.plan.chunk.iter().copied().filter(|op| with_stats || !op.is_norm()).collect();
        let spans: Vec<(u32, u32)> = self.chunking.spans(m).collect();
        let args = |k: usize| ChunkArgs {
            split: &self.train,
            perm: Some(&self.perm),
            offset: (offset + spans[k].0) as usize,
            rows: spans[k].1 as usize,
            row_base: spans[k].0 as usize,
            inv_m,
            accumulate: k > 0,
        };
        for k in 0..spans.len() {
            for &op in &ops {
                self.exec.run(op, &args(k), lr);
            }
        }
        self.last_rows = spans[spans.len() - 1].1 as usize;
        if self.inner_on {
            let whole = ChunkArgs { rows: m as usize, row_base: 0, ..args(0) };
            let pass = self.exec.plan.inner_pass(spans.len());
            for (k, op) in pass {
                let a = if op == Op::InnerVar { whole } else { args(k) };
                self.exec.run(op, &a, lr);
            }
        }
        let dummy = ChunkArgs { split: &self.train, perm: None, offset: 0, rows: 0, row_base: 0, inv_m, accumulate: false };
        for op in self.exec.plan.finish.clone() {
            self.exec.run(op, &dummy, lr);
        }
        self.exec.sums(m as usize, with_stats)
    }

    /// Loss and accuracy over the test split, in chunks of at most one chunk's rows.
    pub fn evaluate(&mut self) -> EvalSums {
        let n = self.test.len();
        let mut out = EvalSums { n, ..Default::default() };
        let ops = self.exec.plan.forward.clone();
        let mut offset = 0;
        while offset < n {
            let rows = (n - offset).min(self.exec.chunk);
            let args = ChunkArgs { split: &self.test, perm: None, offset, rows, row_base: 0, inv_m: 1.0, accumulate: false };
            for &op in &ops {
                self.exec.run(op, &args, 0.0);
            }
            let s = self.exec.sums(rows, false);
            out.loss_sum += s.loss_sum as f64;
            out.correct += s.correct as f64;
            offset += rows;
            self.last_rows = rows;
        }
        out
    }

    /// Class probabilities for arbitrary points.
    pub fn predict(&mut self, points: &[f32]) -> Vec<f32> {
        self.exec.predict(points)
    }

    pub fn norm_rows_and_grads(&self, m: u32, grad_len: usize) -> (Vec<Vec<f32>>, Vec<f32>) {
        let norms = self.exec.get(Buf::Norms);
        (norms.chunks(self.exec.m_max).map(|r| r[..m as usize].to_vec()).collect(), self.exec.grads()[..grad_len].to_vec())
    }

    /// Every buffer after the last step: per-example statistics of the whole batch of `m`, the
    /// per-chunk buffers of the last chunk.
    pub fn snapshot(&self, m: u32) -> Snapshot {
        let (m, r) = (m as usize, self.last_rows);
        let e = &self.exec;
        let lay = e.layout();
        let rows = |b: Buf, w: usize| e.get(b)[..r * w].to_vec();
        let mut acts = vec![rows(e.plan.layer_input(0), lay.layers[0].d_in as usize)];
        let mut deltas = Vec::new();
        for (l, d) in lay.layers.iter().enumerate() {
            acts.push(rows(Buf::Act(l), d.d_out as usize));
            deltas.push(rows(Buf::Delta(l), d.d_out as usize));
        }
        let convs = lay
            .convs
            .iter()
            .enumerate()
            .map(|(s, c)| {
                let pooled = c.pool.map_or(0, |p| p.out_len());
                let opt = |b: Buf| if pooled > 0 { rows(b, pooled) } else { Vec::new() };
                ConvSnapshot {
                    conv_out: rows(Buf::ConvOut(s), c.conv.out_len()),
                    pool_out: opt(Buf::PoolOut(s)),
                    arg: e.ints.get(&Buf::Arg(s)).map_or(Vec::new(), |a| a[..r * pooled].to_vec()),
                    d_pool: opt(Buf::DPool(s)),
                    d_conv: rows(Buf::DConv(s), c.conv.out_len()),
                }
            })
            .collect();
        Snapshot {
            rows: r,
            labels: e.get_u32(Buf::Labels)[..r].to_vec(),
            input: rows(Buf::Input, lay.input_dim as usize),
            prepped: lay.prep.map_or(Vec::new(), |p| rows(Buf::Prepped, p.output.len() as usize)),
            convs,
            acts,
            deltas,
            grads: e.grads().to_vec(),
            params: e.params().to_vec(),
            losses: e.get(Buf::Losses)[..m].to_vec(),
            correct: e.get(Buf::Correct)[..m].to_vec(),
            norms: e.get(Buf::Norms).chunks(e.m_max).map(|row| row[..m].to_vec()).collect(),
            partials: e.get(Buf::Partials).to_vec(),
        }
    }
}
