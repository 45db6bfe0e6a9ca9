//! The CPU engine: runs the step [`Plan`] on buffers of the same names and layout as the GPU
//! engine's. Matrix products and convolutions run on the blocked SIMD kernels of [`crate::fast`]
//! (equal to the plain twins in `reference` up to rounding); the other ops call the CPU twin of
//! their kernel. Available everywhere, and the fallback for browsers without WebGPU.
//! The products and convolutions are split over the engine's threads ([`crate::fast::pool`]),
//! over independent outputs only, so a run is bit-identical for every thread count.
//! [`CpuExec`] (buffers + op execution) also serves predictions on arbitrary points for every
//! model.
//!
//! This file holds the buffers, the engine and the step's loop; the twin call of each op sits
//! with its kernel family's others: [`dense`] (matmul), [`conv`] (convolutions, pooling, the
//! input transform), [`small`] (the one-pass kernels), as `gpu::{matmul, conv, small}` hold the
//! same families' GPU side.

mod conv;
mod dense;
mod small;

use super::{ConvSnapshot, EvalSums, Snapshot};
use crate::data::{Dataset, Features, Split};
use crate::error::{CabsError, Result};
use crate::fast::pool::{default_threads, Pool};
use crate::model::Layout;
use crate::plan::{Buf, Chunking, Extent, Op, Plan};
use crate::reference::reduce_stats::{reduce_stats, StepSums};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A zeroed vector whose allocation failure is an error, not an abort.
pub fn try_zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = try_reserved(n, what)?;
    v.resize(n, T::default());
    Ok(v)
}

/// An empty vector with room for `n` values, reserved now (a failure is an error, not an
/// abort) and touched only as it is filled.
fn try_reserved<T>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        CabsError::Config(format!("out of memory allocating {what} ({n} values); lower m_max or the chunk, or use a smaller model"))
    })?;
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
    /// The per-chunk buffers (values per row), sized for `rows_ready` rows so far: reserved for
    /// a whole chunk when made (so a plan that does not fit fails then, not mid-run), zeroed
    /// row by row as chunks of more rows come. A page's first step (m = 16) thus touches 16
    /// rows of a chunk sized for m_max = 2048, not ≈ 10 MB of fresh memory (≈ 8 ms in Chromium).
    per_chunk: Vec<(Buf, usize)>,
    rows_ready: usize,
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
        let (mut bufs, mut ints, mut per_chunk) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
        for (buf, extent) in plan.buffers() {
            let what = format!("{buf:?}");
            let len = match extent {
                Extent::PerChunkRow(n) => {
                    per_chunk.push((buf, n));
                    if is_u32(buf) {
                        ints.insert(buf, try_reserved(chunk * n, &what)?);
                    } else {
                        bufs.insert(buf, try_reserved(chunk * n, &what)?);
                    }
                    continue;
                }
                Extent::PerBatchRow(n) => m_max * n,
                Extent::Fixed(n) => n,
            };
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
        Ok(CpuExec { chunk, m_max, floor, bufs, ints, io, plan, pool: Pool::new(default_threads()), per_chunk, rows_ready: 0 })
    }

    /// Size the per-chunk buffers for chunks of `rows` rows (at most a chunk), zero-filling the
    /// new rows: within the capacity reserved by `new`, so this never allocates.
    fn ready_rows(&mut self, rows: usize) {
        let rows = rows.min(self.chunk);
        if rows <= self.rows_ready {
            return;
        }
        for &(buf, n) in &self.per_chunk {
            if let Some(v) = self.bufs.get_mut(&buf) {
                v.resize(rows * n, 0.0);
            } else if let Some(v) = self.ints.get_mut(&buf) {
                v.resize(rows * n, 0);
            }
        }
        self.rows_ready = rows;
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
        self.ready_rows(a.rows);
        // Each family's twin calls sit in their own file, beside nothing else (`dense`, `conv`,
        // `small`, as `gpu::matmul`, `gpu::conv`, `gpu::small` on the GPU side).
        match op {
            Op::DenseForward { .. } | Op::DenseBackward { .. } | Op::WeightGrad { .. } | Op::DenseInner { .. } => self.run_dense(op, a),
            Op::CropStandardize
            | Op::ConvForward { .. }
            | Op::PoolForward { .. }
            | Op::PoolBackward { .. }
            | Op::ConvBackwardInput { .. }
            | Op::ConvFilterGrad { .. }
            | Op::ConvNorms { .. }
            | Op::ConvInner { .. } => self.run_conv(op, a),
            Op::Gather | Op::SoftmaxXent | Op::BiasGrad { .. } | Op::DenseNorms { .. } | Op::SgdUpdate | Op::ReduceStats | Op::InnerVar => {
                self.run_small(op, a, lr)
            }
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

pub struct CpuEngine {
    exec: CpuExec,
    chunking: Chunking,
    /// Shared with the trainer, not copied: copying MNIST's 8 MB (into fresh wasm memory)
    /// would add milliseconds to a trainer's start.
    data: Arc<Dataset>,
    perm: Vec<u32>,
    /// Rows of the last chunk run (what a snapshot shows of the per-chunk buffers).
    last_rows: usize,
    /// Run the inner products' pass ([`Plan::inner_pass`]) in each training step.
    inner_on: bool,
}

impl CpuEngine {
    /// An engine on a copy of `data` (see [`CpuEngine::with_data`] to share it instead).
    pub fn new(plan: Plan, chunking: Chunking, data: &Dataset, m_max: u32, params: &[f32]) -> Result<CpuEngine> {
        CpuEngine::with_data(plan, chunking, Arc::new(data.clone()), m_max, params)
    }

    /// An engine that reads its examples from `data`, shared with the caller.
    pub fn with_data(plan: Plan, chunking: Chunking, data: Arc<Dataset>, m_max: u32, params: &[f32]) -> Result<CpuEngine> {
        let exec = CpuExec::new(plan, chunking.chunk, m_max, data.train.gpu_format().1, params)?;
        let perm = (0..data.train.len() as u32).collect();
        Ok(CpuEngine { exec, chunking, data, perm, last_rows: 0, inner_on: false })
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
            split: &self.data.train,
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
        let dummy = ChunkArgs { split: &self.data.train, perm: None, offset: 0, rows: 0, row_base: 0, inv_m, accumulate: false };
        for op in self.exec.plan.finish.clone() {
            self.exec.run(op, &dummy, lr);
        }
        self.exec.sums(m as usize, with_stats)
    }

    /// Loss and accuracy over the test split, in chunks of at most one chunk's rows.
    pub fn evaluate(&mut self) -> EvalSums {
        let n = self.data.test.len();
        let mut out = EvalSums { n, ..Default::default() };
        let ops = self.exec.plan.forward.clone();
        let mut offset = 0;
        while offset < n {
            let rows = (n - offset).min(self.exec.chunk);
            let args = ChunkArgs { split: &self.data.test, perm: None, offset, rows, row_base: 0, inv_m: 1.0, accumulate: false };
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
