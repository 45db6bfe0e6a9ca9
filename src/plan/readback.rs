//! What a step's buffers hold when read back, the same for both engines: the test split's sums
//! and, for tests and probes, every intermediate buffer of a step ([`Snapshot`]). Plain data;
//! the engines fill it (`engine::cpu`, `gpu::engine`).

#[cfg(doc)]
use super::ConvNorms;
#[cfg(doc)]
use crate::model::Layout;

/// Sums over the test split.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalSums {
    pub loss_sum: f64,
    pub correct: f64,
    pub n: usize,
}

/// One convolution stage's buffers after a step (first `m` examples).
#[derive(Clone, Debug, Default)]
pub struct ConvSnapshot {
    /// ReLU(conv(x) + b).
    pub conv_out: Vec<f32>,
    /// Max-pool output and the arg-max indices (empty without a pool).
    pub pool_out: Vec<f32>,
    pub arg: Vec<u32>,
    /// Error at the pool output (empty without a pool).
    pub d_pool: Vec<f32>,
    /// Error at the convolution's pre-activation.
    pub d_conv: Vec<f32>,
}

/// Every intermediate buffer after a training step (first `m` rows of each), for tests and probes.
/// After a step with inner products, the layers' outputs (dense `acts[l + 1]`, `conv_out`) hold
/// the pass's scratch (Ḡ applied to each layer's input), not the activations.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Rows held by the per-chunk buffers (the last chunk's; the whole batch when unchunked).
    pub rows: usize,
    pub labels: Vec<u32>,
    /// The batch as gathered from the data set.
    pub input: Vec<f32>,
    /// After the input transform (empty without one).
    pub prepped: Vec<f32>,
    pub convs: Vec<ConvSnapshot>,
    /// acts[0]: input of the first dense layer (the batch, or the flattened last convolution
    /// stage); acts[l + 1]: output of dense layer l (last: logits).
    pub acts: Vec<Vec<f32>>,
    /// deltas[l]: per-example error at the output of layer l.
    pub deltas: Vec<Vec<f32>>,
    pub grads: Vec<f32>,
    /// Parameters *after* the update.
    pub params: Vec<f32>,
    pub losses: Vec<f32>,
    pub correct: Vec<f32>,
    /// One row per parameter tensor (in [`Layout::tensors`] order) of m per-example squared
    /// norms; with [`ConvNorms::Both`], then the approximate rows of each conv (w, b).
    pub norms: Vec<Vec<f32>>,
    pub partials: Vec<f32>,
}
