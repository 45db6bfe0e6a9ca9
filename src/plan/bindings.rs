//! Which buffers each op's kernels bind, in shader binding order: the one description both
//! engines bind from. The GPU engine resolves each [`Slot`] of [`Plan::bindings`] to a buffer and
//! builds the bind group from that list; the CPU engine takes the buffers it hands to a twin from
//! [`Plan::io`], which is derived from the same list. A binding changed here changes both.
//!
//! Each kernel's storage bindings are declared once, as a [`Signature`]: the WGSL variable names
//! and access modes (`var<storage, read>` / `read_write`) in binding order. Binding 0 of every
//! kernel is its parameter uniform and is not listed. The GPU pipelines' bind-group layouts are
//! made from the signatures, and a test parses each shader's binding lines against them.
//!
//! Not here: parameter values, pipeline variants and grids (each kernel family's module in
//! `gpu`: `gpu::matmul`, `gpu::conv`, `gpu::small`), nor the CPU twin calls (`engine::cpu`'s
//! modules of the same families).

use super::{Buf, Op, Plan};

/// How a kernel uses one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only (`var<storage, read>`).
    Read,
    /// Written (`var<storage, read_write>`); what it held before is not read.
    Write,
    /// Written after reading what it held (`read_write`): an accumulation, an in-place update.
    Update,
}

impl Access {
    /// The WGSL access mode of a binding used this way.
    pub fn wgsl(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write | Access::Update => "read_write",
        }
    }
}

/// A WGSL kernel's storage bindings (1, 2, …), by variable name and declared access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The pipeline label: the WGSL file without `.wgsl` (the filter gradient and the exact conv
    /// norms declare their bindings in `shaders/conv_filter_operands.wgsl`).
    pub kernel: &'static str,
    pub bindings: &'static [(&'static str, Access)],
}

use Access::{Read as R, Write as W};

macro_rules! signatures {
    ($($name:ident = $kernel:literal [$($var:literal: $acc:ident),*];)*) => {
        $(pub const $name: Signature = Signature { kernel: $kernel, bindings: &[$(($var, $acc)),*] };)*
        /// Every kernel's signature.
        pub const SIGNATURES: &[Signature] = &[$($name),*];
    };
}

signatures! {
    GATHER_BATCH = "gather_batch" ["data": R, "labels": R, "perm": R, "x": W, "y": W];
    CROP_STANDARDIZE = "crop_standardize" ["x": R, "out": W];
    CONV2D_FORWARD = "conv2d_forward" ["x": R, "weights": R, "out": W];
    MAX_POOL_FORWARD = "max_pool_forward" ["x": R, "out": W, "arg": W];
    MATMUL = "matmul" ["a": R, "b": R, "aux": R, "out": W];
    SOFTMAX_XENT = "softmax_xent" ["logits": R, "labels": R, "delta": W, "losses": W, "correct": W];
    MAX_POOL_BACKWARD = "max_pool_backward" ["dy": R, "arg": R, "aux": R, "dx": W];
    CONV2D_BACKWARD_INPUT = "conv2d_backward_input" ["dy": R, "weights": R, "aux": R, "dx": W];
    BIAS_GRAD = "bias_grad" ["delta": R, "grads": W];
    CONV2D_FILTER_GRAD = "conv2d_filter_grad" ["x": R, "dy": R, "partial": W];
    CONV2D_GRAD_REDUCE = "conv2d_grad_reduce" ["partial": R, "grads": W];
    PER_EXAMPLE_NORMS = "per_example_norms" ["a": R, "delta": R, "norms": W];
    CONV2D_NORMS = "conv2d_norms" ["x": R, "dy": R, "partial": W];
    CONV2D_NORMS_REDUCE = "conv2d_norms_reduce" ["partial": R, "norms": W];
    CONV2D_NORMS_APPROX = "conv2d_norms_approx" ["x": R, "dy": R, "norms": W];
    SGD_UPDATE = "sgd_update" ["grads": R, "weights": W, "partials": W];
    REDUCE_STATS = "reduce_stats" ["losses": R, "correct": R, "norms": R, "partials": R, "stats": W];
    INNER_PRODUCTS = "inner_products" ["delta": R, "t": R, "inner": W];
    INNER_PRODUCT_VAR = "inner_product_var" ["inner": R, "out": W];
}

/// What fills a binding: a buffer of the plan, or one the engine holds outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    Buf(Buf),
    /// The data split's examples, as the data set stores them (read by the gather).
    DataFeatures,
    /// The data split's labels.
    DataLabels,
    /// The training order.
    Perm,
    /// The op's own scratch of partial sums, written by its first kernel and reduced by its second.
    Scratch,
    /// The step's four sums, read back to the host.
    Stats,
}

/// One kernel launch of an op: its signature, and for each of its bindings what fills it and how
/// this op uses it (an accumulating op reads what a write-declared binding held).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub signature: Signature,
    pub slots: Vec<(Slot, Access)>,
}

impl Launch {
    /// `slots` in the signature's order; the access is the signature's unless `update` names a
    /// slot whose old contents this op reads.
    fn new(signature: Signature, slots: &[Slot], update: Option<Slot>) -> Launch {
        debug_assert_eq!(signature.bindings.len(), slots.len(), "{}", signature.kernel);
        let slots = slots
            .iter()
            .zip(signature.bindings)
            .map(|(&s, &(_, a))| (s, if Some(s) == update && a == W { Access::Update } else { a }))
            .collect();
        Launch { signature, slots }
    }

    /// The plan buffers of this launch, in binding order.
    pub fn bufs(&self) -> impl Iterator<Item = (Buf, Access)> + '_ {
        self.slots.iter().filter_map(|&(s, a)| match s {
            Slot::Buf(b) => Some((b, a)),
            _ => None,
        })
    }
}

impl Plan {
    /// The kernels an op launches, in order, each with what fills its storage bindings in
    /// binding order: the list the GPU engine binds and the CPU engine's [`Plan::io`] comes from.
    pub fn bindings(&self, op: Op) -> Vec<Launch> {
        use Buf::*;
        let b = Slot::Buf;
        let one = |sig, slots: &[Slot]| vec![Launch::new(sig, slots, None)];
        let inner = |first: bool| if first { None } else { Some(b(Inner)) };
        match op {
            Op::Gather => one(GATHER_BATCH, &[Slot::DataFeatures, Slot::DataLabels, Slot::Perm, b(Input), b(Labels)]),
            Op::CropStandardize => one(CROP_STANDARDIZE, &[b(Input), b(Prepped)]),
            Op::ConvForward { stage } => one(CONV2D_FORWARD, &[b(self.stage_input(stage)), b(Params), b(ConvOut(stage))]),
            Op::PoolForward { stage } => one(MAX_POOL_FORWARD, &[b(ConvOut(stage)), b(PoolOut(stage)), b(Arg(stage))]),
            Op::DenseForward { layer } => {
                // aux is unused by the forward epilogue; the input fills it (any buffer would).
                let x = b(self.layer_input(layer));
                one(MATMUL, &[x, b(Params), x, b(Act(layer))])
            }
            Op::SoftmaxXent => {
                let last = self.layout.layers.len() - 1;
                one(SOFTMAX_XENT, &[b(Act(last)), b(Labels), b(Delta(last)), b(Losses), b(Correct)])
            }
            Op::DenseBackward { layer } => {
                let x = b(self.layer_input(layer));
                one(MATMUL, &[b(Delta(layer)), b(Params), x, b(self.backward_target(layer).0)])
            }
            Op::PoolBackward { stage } => one(MAX_POOL_BACKWARD, &[b(DPool(stage)), b(Arg(stage)), b(ConvOut(stage)), b(DConv(stage))]),
            Op::ConvBackwardInput { stage } => one(
                CONV2D_BACKWARD_INPUT,
                &[b(DConv(stage)), b(Params), b(self.stage_output(stage - 1)), b(self.conv_backward_target(stage).0)],
            ),
            Op::WeightGrad { layer } => {
                let x = b(self.layer_input(layer));
                one(MATMUL, &[b(Delta(layer)), x, x, b(Grads)])
            }
            Op::BiasGrad { layer } => one(BIAS_GRAD, &[b(Delta(layer)), b(Grads)]),
            Op::ConvFilterGrad { stage } => vec![
                Launch::new(CONV2D_FILTER_GRAD, &[b(self.stage_input(stage)), b(DConv(stage)), Slot::Scratch], None),
                Launch::new(CONV2D_GRAD_REDUCE, &[Slot::Scratch, b(Grads)], None),
            ],
            Op::DenseNorms { layer, .. } => one(PER_EXAMPLE_NORMS, &[b(self.layer_input(layer)), b(Delta(layer)), b(Norms)]),
            Op::ConvNorms { stage, approx: true, .. } => one(CONV2D_NORMS_APPROX, &[b(self.stage_input(stage)), b(DConv(stage)), b(Norms)]),
            Op::ConvNorms { stage, approx: false, .. } => vec![
                Launch::new(CONV2D_NORMS, &[b(self.stage_input(stage)), b(DConv(stage)), Slot::Scratch], None),
                Launch::new(CONV2D_NORMS_REDUCE, &[Slot::Scratch, b(Norms)], None),
            ],
            Op::SgdUpdate => vec![Launch::new(SGD_UPDATE, &[b(Grads), b(Params), b(Partials)], Some(b(Params)))],
            Op::ReduceStats => one(REDUCE_STATS, &[b(Losses), b(Correct), b(Norms), b(Partials), Slot::Stats]),
            Op::DenseInner { layer, first } => {
                // t = Ḡ·a + ḡ_b over the layer's output (which the pass no longer needs), then δ · t.
                let x = b(self.layer_input(layer));
                vec![
                    Launch::new(MATMUL, &[x, b(Grads), x, b(Act(layer))], None),
                    Launch::new(INNER_PRODUCTS, &[b(Delta(layer)), b(Act(layer)), b(Inner)], inner(first)),
                ]
            }
            Op::ConvInner { stage, first } => vec![
                Launch::new(CONV2D_FORWARD, &[b(self.stage_input(stage)), b(Grads), b(ConvOut(stage))], None),
                Launch::new(INNER_PRODUCTS, &[b(DConv(stage)), b(ConvOut(stage)), b(Inner)], inner(first)),
            ],
            Op::InnerVar => one(INNER_PRODUCT_VAR, &[b(Inner), b(InnerStats)]),
        }
    }

    /// The plan buffers an op reads and writes, derived from [`Plan::bindings`]: reads in binding
    /// order (each once, leaving out what an earlier launch of the same op wrote), then writes.
    /// An [`Access::Update`] is both. Buffers outside the plan ([`Slot`]'s others) are left out.
    pub fn io(&self, op: Op) -> (Vec<Buf>, Vec<Buf>) {
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        for launch in self.bindings(op) {
            for (buf, access) in launch.bufs() {
                if access != Access::Write && !reads.contains(&buf) && !writes.contains(&buf) {
                    reads.push(buf);
                }
            }
            for (buf, access) in launch.bufs() {
                if access != Access::Read && !writes.contains(&buf) {
                    writes.push(buf);
                }
            }
        }
        (reads, writes)
    }
}
