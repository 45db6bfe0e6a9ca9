//! The training step and the forward pass, described once.
//!
//! A [`Plan`] turns a model [`Layout`] into the ordered operations of one training step and of
//! one forward (evaluation) pass. Each [`Op`] names its kernel, the named buffers ([`Buf`]) its
//! kernels bind ([`Plan::bindings`]), and its parameters (the layer or stage it belongs to,
//! flags, norm rows). Both engines run the same list: the GPU engine binds and encodes it
//! (`gpu::engine`), the CPU engine calls the CPU twin of each kernel (`engine::cpu`). Dispatch
//! counts, profile labels and `cabs bench` read it too.
//!
//! **Where a kernel family's host side lives.** Three families: the matmul, the convolutions
//! (with pooling and the input transform), and the one-pass kernels. Each has its storage
//! bindings here ([`bindings`]: signatures, and the buffers each op binds), its parameter
//! structs, pipelines and per-op parameters and grids in `gpu::{matmul, conv, small}`, its CPU
//! twin calls in `engine::cpu::{dense, conv, small}`, its twins in `reference`, its shaders in
//! `shaders/` (each header names bindings, grid and twin). A new layer type is one more kind of
//! op here, plus an arm in each of those.
//!
//! **Chunks.** A step of batch m runs the [`Plan::chunk`] ops ⌈m / chunk⌉ times, each on at most
//! `chunk` examples, then the [`Plan::finish`] ops once. Activations, errors and the gathered
//! batch are sized for one chunk ([`Extent::PerChunkRow`]), so memory does not grow with m_max.
//! Per-example statistics (losses, correctness, norm rows) are sized for the whole batch
//! ([`Extent::PerBatchRow`]): each chunk writes its rows at its `row_base`. The gradient is
//! accumulated over chunks (the first chunk writes, later ones add), already scaled by 1/m of the
//! whole batch, so ‖ḡ‖², ξ and the update happen once, at the end, exactly as unchunked up to
//! float rounding. Pure Rust: no wgpu, no wasm.
//!
//! **Inner products** (the `inner:THETA` rule): p_i = g_iᵀḡ needs the whole batch's ḡ, known
//! only after the last chunk. [`Plan::inner_pass`] is a second pass over the step's chunks, run
//! before the update (so that a recomputation sees the same weights): the last chunk's buffers
//! still hold its activations and errors, every earlier chunk is recomputed ([`Plan::recompute`]:
//! forward and backward, no gradient). Each layer's term is Ḡ applied to the layer's input
//! (the forward op with the gradient in place of the weights: one forward-sized product), dotted
//! with the layer's error; the product lands in the layer's own output buffer, which the pass
//! no longer needs (layers are visited last to first), so it takes no memory. Engines run it only
//! when asked (`Engine::set_inner_products`): other rules do not pay for it.
//!
//! This file holds the ops and buffers; [`bindings`] which buffers each op's kernels bind (what
//! both engines bind from, and what [`Plan::io`] derives); [`memory`] what they take and the
//! chunk a budget allows.

pub mod bindings;
mod conv_norms;
mod memory;
mod readback;

pub use bindings::{Access, Launch, Signature, Slot, SIGNATURES};
pub use conv_norms::ConvNorms;
pub use memory::{bytes_text, choose_chunk, Budget, Chunking, GPU_LOOP_LIMIT, GPU_SPLIT_K};
pub use readback::{ConvSnapshot, EvalSums, Snapshot};

use crate::model::epilogue::{activation_flag, derivative_flag, ADD_BIAS, MUL_RELU_DERIV};
use crate::model::Layout;

/// A named buffer of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Buf {
    /// The gathered chunk as the data set stores it (features per example: the input dim).
    Input,
    /// After centre crop / per-image standardisation.
    Prepped,
    /// ReLU(conv(x) + b) of stage s.
    ConvOut(usize),
    /// Max-pool output of stage s, and the arg-max (u32) of each output.
    PoolOut(usize),
    Arg(usize),
    /// Error at the pool output of stage s.
    DPool(usize),
    /// Error at the convolution pre-activation of stage s.
    DConv(usize),
    /// Output of dense layer l (the last: logits).
    Act(usize),
    /// Per-example error at the output of dense layer l.
    Delta(usize),
    /// Class labels of the chunk (u32).
    Labels,
    /// Per-example loss and correctness of the whole batch.
    Losses,
    Correct,
    /// Per-example squared gradient norms: [`Plan::norm_rows`] rows of m_max.
    Norms,
    Params,
    Grads,
    /// Partial sums of ‖ḡ‖² written by the update.
    Partials,
    /// Per-example inner products p_i = g_iᵀḡ of the whole batch (one row of m_max).
    Inner,
    /// Mean and sample variance of the batch's p_i.
    InnerStats,
}

/// How large a buffer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// `n` values for each example of a chunk.
    PerChunkRow(usize),
    /// `n` values for each example of the whole batch (up to m_max).
    PerBatchRow(usize),
    /// A fixed number of values.
    Fixed(usize),
}

/// One operation of a step. Indices refer to the layout: `stage` to `layout.convs`, `layer` to
/// `layout.layers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// The chunk's examples and labels out of the data set → Input, Labels.
    Gather,
    /// Input → Prepped.
    CropStandardize,
    /// Stage input, Params → ConvOut(s) (with ReLU).
    ConvForward { stage: usize },
    /// ConvOut(s) → PoolOut(s), Arg(s).
    PoolForward { stage: usize },
    /// Layer input, Params → Act(l) (bias, activation on all but the last layer).
    DenseForward { layer: usize },
    /// Logits, Labels → Delta(last), Losses, Correct (at the chunk's rows).
    SoftmaxXent,
    /// Delta(l), Params → the error at the layer's input (times the derivative of what produced it).
    DenseBackward { layer: usize },
    /// DPool(s), Arg(s), ConvOut(s) → DConv(s) (times relu′).
    PoolBackward { stage: usize },
    /// DConv(s), Params → the error at stage s−1's output (times relu′ when there is no pool).
    ConvBackwardInput { stage: usize },
    /// Delta(l), layer input → Grads (weights of layer l), accumulated over chunks.
    WeightGrad { layer: usize },
    /// Delta(l) → Grads (bias of layer l), accumulated over chunks.
    BiasGrad { layer: usize },
    /// Stage input, DConv(s) → Grads (filters and bias of stage s), accumulated over chunks.
    ConvFilterGrad { stage: usize },
    /// Layer input, Delta(l) → Norms rows `row`, `row + 1` (‖a‖²‖δ‖², ‖δ‖²).
    DenseNorms { layer: usize, row: usize },
    /// Stage input, DConv(s) → Norms rows `row`, `row + 1`, exact or the reference approximation.
    ConvNorms { stage: usize, approx: bool, row: usize },
    /// Grads, Params → Params, Partials.
    SgdUpdate,
    /// Losses, Correct, Norms, Partials → the step's four sums.
    ReduceStats,
    /// Layer input, Grads → Act(l) := Ḡ·a_i + ḡ_b (a scratch use of the buffer), then
    /// Inner[row] (+)= δ_iᵀ Act(l)_i: layer l's share of p_i. `first`: write, not add.
    DenseInner { layer: usize, first: bool },
    /// Stage input, Grads → ConvOut(s) := conv(x_i, Ḡ) + ḡ_b (scratch), then
    /// Inner[row] (+)= Σ_p δ_i(p)ᵀ ConvOut(s)_i(p): stage s's share of p_i.
    ConvInner { stage: usize, first: bool },
    /// Inner → InnerStats (mean and sample variance over the batch).
    InnerVar,
}

impl Op {
    /// The kernel's name (the WGSL file without `.wgsl`, and the profile label): one of the op's
    /// launches in [`Plan::bindings`] (a test holds the two together), the one that names what
    /// the op is (the inner products' dot, not the product before it; the filter gradient, not
    /// its reduction).
    pub fn kernel(self) -> &'static str {
        match self {
            Op::Gather => "gather_batch",
            Op::CropStandardize => "crop_standardize",
            Op::ConvForward { .. } => "conv2d_forward",
            Op::PoolForward { .. } => "max_pool_forward",
            Op::DenseForward { .. } | Op::DenseBackward { .. } | Op::WeightGrad { .. } => "matmul",
            Op::SoftmaxXent => "softmax_xent",
            Op::PoolBackward { .. } => "max_pool_backward",
            Op::ConvBackwardInput { .. } => "conv2d_backward_input",
            Op::BiasGrad { .. } => "bias_grad",
            Op::ConvFilterGrad { .. } => "conv2d_filter_grad",
            Op::DenseNorms { .. } => "per_example_norms",
            Op::ConvNorms { approx: false, .. } => "conv2d_norms",
            Op::ConvNorms { approx: true, .. } => "conv2d_norms_approx",
            Op::SgdUpdate => "sgd_update",
            Op::ReduceStats => "reduce_stats",
            Op::DenseInner { .. } | Op::ConvInner { .. } => "inner_products",
            Op::InnerVar => "inner_product_var",
        }
    }

    /// The label in profiles and benchmark tables.
    pub fn label(self) -> &'static str {
        match self {
            Op::DenseForward { .. } => "matmul (forward)",
            Op::DenseBackward { .. } => "matmul (backward δ)",
            Op::WeightGrad { .. } => "matmul (weight gradient)",
            Op::ConvNorms { approx: false, .. } => "conv2d_norms (exact)",
            Op::ConvNorms { approx: true, .. } => "conv2d_norms (approximate)",
            Op::DenseInner { .. } => "inner_products (dense: matmul + dot)",
            Op::ConvInner { .. } => "inner_products (conv: conv2d_forward + dot)",
            other => other.kernel(),
        }
    }

    /// Per-example statistics: skipped in steps without them.
    pub fn is_norm(self) -> bool {
        matches!(self, Op::DenseNorms { .. } | Op::ConvNorms { .. })
    }
}

/// The operations of a model's training step and forward pass.
#[derive(Clone, Debug)]
pub struct Plan {
    pub layout: Layout,
    pub conv_norms: ConvNorms,
    /// Run once per chunk: forward, loss, backward, gradient accumulation, per-example norms.
    pub chunk: Vec<Op>,
    /// Run once per step, after the last chunk.
    pub finish: Vec<Op>,
    /// Run once per evaluation chunk: forward and loss.
    pub forward: Vec<Op>,
    /// The inner products' second pass: what recomputes an earlier chunk's activations and
    /// errors (the chunk ops that write no gradient and no norm row).
    pub recompute: Vec<Op>,
    /// The inner products of one chunk: dense layers last to first, then conv stages last to
    /// first (each op overwrites a buffer only ops before it read).
    pub inner: Vec<Op>,
}

impl Plan {
    pub fn new(layout: &Layout, conv_norms: ConvNorms) -> Plan {
        let n_convs = layout.convs.len();
        let n_layers = layout.layers.len();
        let mut forward = vec![Op::Gather];
        if layout.prep.is_some() {
            forward.push(Op::CropStandardize);
        }
        for (s, c) in layout.convs.iter().enumerate() {
            forward.push(Op::ConvForward { stage: s });
            if c.pool.is_some() {
                forward.push(Op::PoolForward { stage: s });
            }
        }
        forward.extend((0..n_layers).map(|layer| Op::DenseForward { layer }));
        forward.push(Op::SoftmaxXent);

        let mut chunk = forward.clone();
        let first_backward = if n_convs > 0 { 0 } else { 1 };
        chunk.extend((first_backward..n_layers).rev().map(|layer| Op::DenseBackward { layer }));
        for (s, c) in layout.convs.iter().enumerate().rev() {
            if c.pool.is_some() {
                chunk.push(Op::PoolBackward { stage: s });
            }
            if s > 0 {
                chunk.push(Op::ConvBackwardInput { stage: s });
            }
        }
        chunk.extend((0..n_layers).map(|layer| Op::WeightGrad { layer }));
        chunk.extend((0..n_layers).map(|layer| Op::BiasGrad { layer }));
        chunk.extend((0..n_convs).map(|stage| Op::ConvFilterGrad { stage }));
        chunk.extend((0..n_layers).map(|layer| Op::DenseNorms { layer, row: 2 * n_convs + 2 * layer }));
        for stage in 0..n_convs {
            match conv_norms {
                ConvNorms::Exact => chunk.push(Op::ConvNorms { stage, approx: false, row: 2 * stage }),
                ConvNorms::Both => {
                    chunk.push(Op::ConvNorms { stage, approx: false, row: 2 * stage });
                    chunk.push(Op::ConvNorms { stage, approx: true, row: layout.n_tensors() + 2 * stage });
                }
                ConvNorms::Reference => chunk.push(Op::ConvNorms { stage, approx: true, row: 2 * stage }),
            }
        }
        forward.push(Op::ReduceStats);
        let recompute = chunk
            .iter()
            .copied()
            .filter(|op| !op.is_norm() && !matches!(op, Op::WeightGrad { .. } | Op::BiasGrad { .. } | Op::ConvFilterGrad { .. }))
            .collect();
        let mut inner: Vec<Op> = (0..n_layers).rev().map(|layer| Op::DenseInner { layer, first: layer == n_layers - 1 }).collect();
        inner.extend((0..n_convs).rev().map(|stage| Op::ConvInner { stage, first: false }));
        Plan { layout: layout.clone(), conv_norms, chunk, finish: vec![Op::SgdUpdate, Op::ReduceStats], forward, recompute, inner }
    }

    /// The second pass of a step of `chunks` chunks that computes the inner products, as
    /// (chunk index, op), run after the chunk ops and before [`Plan::finish`]: the last chunk
    /// first (its buffers still hold what the pass needs), then each earlier chunk recomputed,
    /// then [`Op::InnerVar`] once. An unchunked step adds only the inner ops and the variance.
    pub fn inner_pass(&self, chunks: usize) -> Vec<(usize, Op)> {
        let last = chunks.max(1) - 1;
        let mut v: Vec<(usize, Op)> = self.inner.iter().map(|&op| (last, op)).collect();
        for k in 0..last {
            v.extend(self.recompute.iter().chain(&self.inner).map(|&op| (k, op)));
        }
        v.push((last, Op::InnerVar));
        v
    }

    /// Dispatches of one step of `chunks` chunks.
    pub fn dispatches_per_step(&self, chunks: usize, with_stats: bool) -> usize {
        let per_chunk = self.chunk.iter().filter(|op| with_stats || !op.is_norm()).count();
        chunks * per_chunk + self.finish.len()
    }

    /// Rows of per-example squared norms: one per parameter tensor, plus the approximate rows
    /// of each conv stage with [`ConvNorms::Both`].
    pub fn norm_rows(&self) -> usize {
        self.conv_norms.rows(&self.layout)
    }

    /// What conv stage `s` reads: the gathered batch, its transform, or the previous stage's output.
    pub fn stage_input(&self, s: usize) -> Buf {
        match s {
            0 if self.layout.prep.is_some() => Buf::Prepped,
            0 => Buf::Input,
            _ => self.stage_output(s - 1),
        }
    }

    /// What conv stage `s` passes on: its pool's output, or its ReLU'd convolution without a pool.
    pub fn stage_output(&self, s: usize) -> Buf {
        if self.layout.convs[s].pool.is_some() {
            Buf::PoolOut(s)
        } else {
            Buf::ConvOut(s)
        }
    }

    /// Where the error at stage `s`'s output goes.
    pub fn stage_error(&self, s: usize) -> Buf {
        if self.layout.convs[s].pool.is_some() {
            Buf::DPool(s)
        } else {
            Buf::DConv(s)
        }
    }

    /// The input of dense layer `l`.
    pub fn layer_input(&self, l: usize) -> Buf {
        match l {
            0 => self.stage_input(self.layout.convs.len()),
            _ => Buf::Act(l - 1),
        }
    }

    /// Where [`Op::DenseBackward`] of layer `l` writes, and the derivative flag it applies (the
    /// derivative of whatever produced the layer's input).
    pub fn backward_target(&self, l: usize) -> (Buf, u32) {
        match l {
            0 => {
                let last = self.layout.convs.len() - 1;
                let flags = if self.layout.convs[last].pool.is_some() { 0 } else { MUL_RELU_DERIV };
                (self.stage_error(last), flags)
            }
            _ => (Buf::Delta(l - 1), derivative_flag(self.layout.activation)),
        }
    }

    /// Where [`Op::ConvBackwardInput`] of stage `s` (≥ 1) writes, and whether it applies relu′
    /// (only when no pool sits between the two stages; a pool's backward applies it otherwise).
    pub fn conv_backward_target(&self, s: usize) -> (Buf, u32) {
        let prev = s - 1;
        (self.stage_error(prev), if self.layout.convs[prev].pool.is_some() { 0 } else { MUL_RELU_DERIV })
    }

    /// The epilogue flags of dense layer `l`'s forward product.
    pub fn forward_flags(&self, l: usize) -> u32 {
        let d = self.layout.layers[l];
        ADD_BIAS | if d.activated { activation_flag(self.layout.activation) } else { 0 }
    }

    /// Every buffer the plan uses, with its extent.
    pub fn buffers(&self) -> Vec<(Buf, Extent)> {
        use Buf::*;
        use Extent::*;
        let lay = &self.layout;
        let mut v = vec![(Input, PerChunkRow(lay.input_dim as usize)), (Labels, PerChunkRow(1))];
        if let Some(p) = lay.prep {
            v.push((Prepped, PerChunkRow(p.output.len() as usize)));
        }
        for (s, c) in lay.convs.iter().enumerate() {
            v.push((ConvOut(s), PerChunkRow(c.conv.out_len())));
            v.push((DConv(s), PerChunkRow(c.conv.out_len())));
            if let Some(p) = c.pool {
                v.extend([PoolOut(s), Arg(s), DPool(s)].map(|b| (b, PerChunkRow(p.out_len()))));
            }
        }
        for (l, d) in lay.layers.iter().enumerate() {
            v.push((Act(l), PerChunkRow(d.d_out as usize)));
            v.push((Delta(l), PerChunkRow(d.d_out as usize)));
        }
        v.extend([(Losses, PerBatchRow(1)), (Correct, PerBatchRow(1)), (Norms, PerBatchRow(self.norm_rows()))]);
        v.extend([(Inner, PerBatchRow(1)), (InnerStats, Fixed(2))]);
        let n = lay.param_count as usize;
        v.extend([(Params, Fixed(n)), (Grads, Fixed(n)), (Partials, Fixed(crate::reference::sgd_update::partials(n)))]);
        v
    }

    /// A readable description of an op's shape, for profiles ("layer 784→256", "conv 1 …").
    pub fn describe(&self, op: Op) -> String {
        let lay = &self.layout;
        let conv = |s: usize| {
            let c = &lay.convs[s].conv;
            let (oh, ow, _, _) = c.output();
            format!("conv {s} ({}×{}×{} → {}×{}×{})", c.in_h, c.in_w, c.in_c, oh, ow, c.out_c)
        };
        match op {
            Op::DenseForward { layer } | Op::DenseBackward { layer } | Op::WeightGrad { layer } | Op::BiasGrad { layer } => {
                let d = lay.layers[layer];
                format!("layer {}→{}", d.d_in, d.d_out)
            }
            Op::DenseNorms { layer, .. } | Op::DenseInner { layer, .. } => {
                let d = lay.layers[layer];
                format!("layer {}→{}", d.d_in, d.d_out)
            }
            Op::ConvForward { stage }
            | Op::ConvBackwardInput { stage }
            | Op::ConvFilterGrad { stage }
            | Op::ConvNorms { stage, .. }
            | Op::ConvInner { stage, .. }
            | Op::PoolForward { stage }
            | Op::PoolBackward { stage } => conv(stage),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;
    use crate::model::ModelSpec;

    fn cnn_mnist() -> Layout {
        Layout::for_input(&ModelSpec::parse("cnn-mnist").unwrap(), 784, Some(ImageShape { c: 1, h: 28, w: 28 }), 10).unwrap()
    }

    #[test]
    fn mlp_plan_has_the_classic_five_l_plus_three_dispatches() {
        let lay = Layout::new(&ModelSpec::parse("mlp:256").unwrap(), 784, 10).unwrap();
        let plan = Plan::new(&lay, ConvNorms::Exact);
        assert_eq!(plan.dispatches_per_step(1, true), 5 * 2 + 3);
        assert_eq!(plan.dispatches_per_step(1, false), 5 * 2 + 1);
        assert_eq!(plan.layer_input(0), Buf::Input);
        assert_eq!(plan.backward_target(1).0, Buf::Delta(0));
    }

    #[test]
    fn each_ops_kernel_name_is_one_of_its_launches() {
        let mlp = Layout::new(&ModelSpec::parse("mlp:16,8:tanh").unwrap(), 12, 3).unwrap();
        for (lay, norms) in [(cnn_mnist(), ConvNorms::Both), (mlp, ConvNorms::Exact)] {
            let plan = Plan::new(&lay, norms);
            let ops = plan.chunk.iter().chain(&plan.finish).chain(&plan.forward).chain(&plan.inner).chain(&[Op::InnerVar]);
            for &op in ops {
                let launched: Vec<&str> = plan.bindings(op).iter().map(|l| l.signature.kernel).collect();
                assert!(launched.contains(&op.kernel()), "{op:?} is named {} but launches {launched:?}", op.kernel());
            }
        }
    }

    #[test]
    fn every_op_reads_only_what_an_earlier_op_wrote() {
        for norms in [ConvNorms::Exact, ConvNorms::Both, ConvNorms::Reference] {
            let plan = Plan::new(&cnn_mnist(), norms);
            let mut written = vec![Buf::Params];
            for op in plan.chunk.iter().chain(&plan.finish) {
                let (reads, writes) = plan.io(*op);
                for r in reads {
                    let ok = written.contains(&r) || (r == Buf::Norms || r == Buf::Partials);
                    assert!(ok, "{op:?} reads {r:?} before anything wrote it");
                }
                written.extend(writes);
            }
            // The figures of the engine before the plan: 25 with ξ, 21 without (27 with both norms).
            assert_eq!(plan.dispatches_per_step(1, true), if norms == ConvNorms::Both { 27 } else { 25 });
            assert_eq!(plan.dispatches_per_step(1, false), 21);
        }
    }

    /// Which chunk's rows each per-chunk buffer holds (None: the inner products' scratch), op by
    /// op through a step's chunks and its inner-product pass: every op must read what its own
    /// chunk wrote. Visiting the layers first to last instead would read a scratch buffer.
    fn check_inner_pass(plan: &Plan, chunks: usize) -> std::result::Result<(), String> {
        use std::collections::BTreeMap;
        let per_chunk: Vec<Buf> = plan.buffers().into_iter().filter(|(_, e)| matches!(e, Extent::PerChunkRow(_))).map(|(b, _)| b).collect();
        let mut holds: BTreeMap<Buf, Option<usize>> = BTreeMap::new();
        for k in 0..chunks {
            for &op in &plan.chunk {
                plan.io(op).1.into_iter().filter(|b| per_chunk.contains(b)).for_each(|b| _ = holds.insert(b, Some(k)));
            }
        }
        for (k, op) in plan.inner_pass(chunks) {
            let (reads, writes) = plan.io(op);
            if op != Op::InnerVar {
                for r in reads.into_iter().filter(|b| per_chunk.contains(b)) {
                    if holds.get(&r).copied().flatten() != Some(k) {
                        return Err(format!("{op:?} of chunk {k} reads {r:?}, which holds {:?}", holds.get(&r)));
                    }
                }
            }
            let scratch = matches!(op, Op::DenseInner { .. } | Op::ConvInner { .. });
            for w in writes.into_iter().filter(|b| per_chunk.contains(b)) {
                holds.insert(w, if scratch { None } else { Some(k) });
            }
        }
        Ok(())
    }

    #[test]
    fn the_inner_product_pass_reads_only_its_own_chunks_buffers_and_writes_no_gradient() {
        let mlp = Layout::new(&ModelSpec::parse("mlp:16,8:tanh").unwrap(), 12, 3).unwrap();
        for lay in [cnn_mnist(), mlp] {
            let mut plan = Plan::new(&lay, ConvNorms::Exact);
            for chunks in [1, 2, 5] {
                check_inner_pass(&plan, chunks).unwrap();
                let pass = plan.inner_pass(chunks);
                assert_eq!(pass.len(), chunks * plan.inner.len() + (chunks - 1) * plan.recompute.len() + 1);
                assert_eq!(pass.last(), Some(&(chunks - 1, Op::InnerVar)));
                for (_, op) in pass {
                    assert!(!plan.io(op).1.contains(&Buf::Grads) && !plan.io(op).1.contains(&Buf::Norms), "{op:?} writes a gradient");
                }
            }
            // The check can fail: layers visited first to last overwrite an input still needed.
            plan.inner.reverse();
            assert!(check_inner_pass(&plan, 2).is_err());
        }
    }
}
