//! What a step [`Plan`] takes in memory, and the chunk a device or memory budget allows: the
//! per-example bytes of a chunk, what does not grow with it, the GPU loop cap, and
//! [`choose_chunk`]. Apart from the ops because budgets change per engine and device while the
//! plan does not.

use super::{Extent, Plan};
use crate::error::{CabsError, Result};
use crate::model::Activation;

impl Plan {
    /// Bytes per example of a chunk (activations and errors) and the widest single per-example
    /// buffer (what a storage binding must hold per example).
    pub fn bytes_per_chunk_row(&self) -> (u64, u64) {
        let rows = self.buffers().into_iter().filter_map(|(_, e)| match e {
            Extent::PerChunkRow(n) => Some(n as u64 * 4),
            _ => None,
        });
        rows.fold((0, 0), |(sum, widest), b| (sum + b, widest.max(b)))
    }

    /// The most rows a GPU chunk may have so that no GPU thread loops more than
    /// [`GPU_LOOP_LIMIT`] times. Measured on lavapipe: a thread that looped past ~40,000 times
    /// (the old one-thread-per-weight filter gradient, m = 1,200 × 36 positions) returned a wrong
    /// sum, silently. The tiled kernels bound their loops by the layer, not the chunk: the filter
    /// gradient cuts its m·P-long reduction into splits of [`GPU_SPLIT_K`] (256 slices of 16 per
    /// thread), and only its split reduction grows with the chunk (⌈m·P / GPU_SPLIT_K⌉ terms
    /// per thread). So the cap is far above any batch: 85,598 rows for 28×28 outputs.
    pub fn max_gpu_chunk_rows(&self) -> u32 {
        let positions = self.layout.convs.iter().map(|c| c.conv.positions() as u64).max().unwrap_or(1);
        (GPU_LOOP_LIMIT as u64 * GPU_SPLIT_K as u64 / positions).clamp(1, u32::MAX as u64) as u32
    }

    /// Memory of the parts that do not grow with the chunk, for a batch of up to `m_max`.
    pub fn fixed_bytes(&self, m_max: u32) -> u64 {
        self.buffers()
            .into_iter()
            .map(|(_, e)| match e {
                Extent::PerBatchRow(n) => n as u64 * m_max as u64 * 4,
                Extent::Fixed(n) => n as u64 * 4,
                Extent::PerChunkRow(_) => 0,
            })
            .sum()
    }
}

/// Longest loop a GPU thread may run (see [`Plan::max_gpu_chunk_rows`]).
pub const GPU_LOOP_LIMIT: u32 = 16_384;

/// Rows (example, position) of the GPU filter gradient's reduction per split: each thread of
/// `shaders/conv2d_filter_grad.wgsl` loops over at most this / 16 slices.
pub const GPU_SPLIT_K: u32 = 4096;

/// How a batch is split into chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunking {
    /// Examples per chunk (the last chunk of a step may be smaller).
    pub chunk: u32,
    /// Why this size: "m_max", "binding limit", "memory budget" or "forced".
    pub reason: &'static str,
}

impl Chunking {
    /// Chunks of a batch of `m`.
    pub fn count(self, m: u32) -> u32 {
        m.div_ceil(self.chunk).max(1)
    }

    /// (first row, rows) of each chunk of a batch of `m`.
    pub fn spans(self, m: u32) -> impl Iterator<Item = (u32, u32)> {
        let c = self.chunk;
        (0..self.count(m)).map(move |k| (k * c, (m - k * c).min(c)))
    }
}

/// What a device or memory budget allows, to choose the chunk.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Largest single buffer binding in bytes (GPU), or `u64::MAX`.
    pub max_binding: u64,
    /// Bytes all buffers of an engine may take together.
    pub total: u64,
    /// Bytes the per-chunk buffers (activations and errors) may take: larger chunks than this
    /// buy nothing on a CPU, whose caches they overflow.
    pub activations: u64,
    /// What the budget is, for messages ("the wasm heap", "--memory-budget", …).
    pub what: &'static str,
}

/// Formats a byte count for messages.
pub fn bytes_text(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}

/// The chunk for a batch of up to `m_max` on `budget` (`data_bytes`: what the data set takes
/// there), or `forced`. Sizes at or above 64 are rounded down to a multiple of 64, the matmul's
/// tile height, so that no chunk leaves a tile mostly idle. Fails with the figure and the fix
/// when not even one example fits.
pub fn choose_chunk(plan: &Plan, m_max: u32, data_bytes: u64, budget: Budget, forced: Option<u32>) -> Result<Chunking> {
    let (row_bytes, widest) = plan.bytes_per_chunk_row();
    let fixed = plan.fixed_bytes(m_max) + data_bytes;
    let label = plan.layout_label();
    if fixed + row_bytes > budget.total {
        return Err(CabsError::Config(format!(
            "model {label} needs {} before any activation ({} parameters and gradients, the data set, per-example statistics for m_max = {m_max}) plus {} per example, but {} allows {}; use a smaller model, a smaller data set or a lower m_max",
            bytes_text(fixed),
            plan.layout.param_count,
            bytes_text(row_bytes),
            budget.what,
            bytes_text(budget.total)
        )));
    }
    if widest > budget.max_binding {
        return Err(CabsError::Config(format!(
            "one example of model {label} needs a {} buffer, more than the {} one binding of {} may hold; use a smaller model",
            bytes_text(widest),
            bytes_text(budget.max_binding),
            budget.what
        )));
    }
    if let Some(c) = forced {
        if c == 0 {
            return Err(CabsError::Config("chunk must be at least 1".into()));
        }
        let c = c.min(m_max);
        let need = fixed + c as u64 * row_bytes;
        if need > budget.total || c as u64 * widest > budget.max_binding {
            return Err(CabsError::Config(format!(
                "chunk {c} needs {} ({} per example), more than {} allows; use a smaller chunk or leave it automatic",
                bytes_text(need),
                bytes_text(row_bytes),
                budget.what
            )));
        }
        return Ok(Chunking { chunk: c, reason: "forced" });
    }
    let by_memory = (budget.total - fixed) / row_bytes;
    let by_binding = budget.max_binding / widest.max(1);
    let by_activations = (budget.activations / row_bytes).max(1);
    let (mut chunk, mut reason) = (m_max as u64, "m_max");
    if by_activations < chunk {
        (chunk, reason) = (by_activations, "activation budget");
    }
    if by_binding < chunk {
        (chunk, reason) = (by_binding, "binding limit");
    }
    if by_memory < chunk {
        (chunk, reason) = (by_memory, "memory budget");
    }
    if chunk < m_max as u64 && chunk >= 64 {
        chunk -= chunk % 64;
    }
    Ok(Chunking { chunk: chunk.max(1) as u32, reason })
}

impl Plan {
    fn layout_label(&self) -> String {
        let l = &self.layout;
        let act = match l.activation {
            Activation::Relu => "",
            Activation::Tanh => " (tanh)",
        };
        format!("with {} conv stage(s), {} dense layer(s){act} and {} parameters", l.convs.len(), l.layers.len(), l.param_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;
    use crate::model::{Layout, ModelSpec};
    use crate::plan::ConvNorms;

    fn cnn_mnist() -> Layout {
        Layout::for_input(&ModelSpec::parse("cnn-mnist").unwrap(), 784, Some(ImageShape { c: 1, h: 28, w: 28 }), 10).unwrap()
    }

    #[test]
    fn chunk_follows_the_binding_limit_and_the_memory_budget() {
        let plan = Plan::new(&cnn_mnist(), ConvNorms::Exact);
        let (_, widest) = plan.bytes_per_chunk_row();
        assert_eq!(widest, 28 * 28 * 32 * 4);
        let big = Budget { max_binding: u64::MAX, total: u64::MAX, activations: u64::MAX, what: "test" };
        assert_eq!(choose_chunk(&plan, 2048, 0, big, None).unwrap(), Chunking { chunk: 2048, reason: "m_max" });
        let lavapipe = Budget { max_binding: 128 << 20, total: u64::MAX, activations: u64::MAX, what: "test" };
        let c = choose_chunk(&plan, 2048, 0, lavapipe, None).unwrap();
        assert_eq!((c.chunk, c.reason), (1280, "binding limit"));
        assert_eq!(c.count(2048), 2);
        assert_eq!(c.spans(2048).collect::<Vec<_>>(), [(0, 1280), (1280, 768)]);
        let tiny = Budget {
            max_binding: u64::MAX,
            total: plan.fixed_bytes(2048) + 10 * plan.bytes_per_chunk_row().0,
            activations: u64::MAX,
            what: "test",
        };
        assert_eq!(choose_chunk(&plan, 2048, 0, tiny, None).unwrap(), Chunking { chunk: 10, reason: "memory budget" });
        assert_eq!(choose_chunk(&plan, 2048, 0, big, Some(7)).unwrap(), Chunking { chunk: 7, reason: "forced" });
        let none = Budget { max_binding: u64::MAX, total: 1 << 20, activations: u64::MAX, what: "a 1 MiB budget" };
        let err = choose_chunk(&plan, 2048, 0, none, None).unwrap_err().to_string();
        assert!(err.contains("a 1 MiB budget") && err.contains("MiB"), "{err}");
    }
}
