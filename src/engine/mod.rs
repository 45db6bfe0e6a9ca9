//! One engine API over two implementations: the GPU engine (WGSL kernels through wgpu) and
//! its CPU twin (the plain-Rust reference kernels), which is also the fallback for browsers
//! without WebGPU and what `auto` keeps where it times faster than a software adapter
//! ([`auto`]). Both run the same step [`Plan`] on buffers of the same names and layout, in the
//! same chunks, so any intermediate can be compared between them.

pub mod auto;
pub mod cpu;

use crate::data::Dataset;
use crate::error::Result;
use crate::gpu::{AdapterSummary, GpuEngine};
use crate::model::Layout;
use crate::plan::{choose_chunk, Budget, Chunking, Plan};
use crate::reference::reduce_stats::StepSums;
pub use auto::{Choice, Trial, TrialBatch};
pub use cpu::CpuEngine;
// Defined with the step plan (both engines and the GPU kernels' hosts use them); kept here too.
pub use crate::plan::{ConvNorms, ConvSnapshot, EvalSums, Snapshot};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which engine to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The GPU if one can be opened and it is a hardware GPU; on a software adapter the faster
    /// of the two engines on the run's first batch (timed at start-up, see [`auto`]); else the
    /// CPU. The choice and its reason are kept in [`BackendInfo::choice`].
    #[default]
    Auto,
    Gpu,
    Cpu,
}

impl BackendChoice {
    pub fn parse(s: &str) -> Result<BackendChoice> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" => Ok(BackendChoice::Gpu),
            "cpu" => Ok(BackendChoice::Cpu),
            _ => crate::error::config(format!("unknown backend '{s}': use auto, gpu or cpu")),
        }
    }
}

/// What runs the kernels, as shown to users.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    /// "gpu" or "cpu".
    pub kind: String,
    pub adapter: Option<AdapterSummary>,
    /// Why the CPU is used when the GPU was wanted (Auto): no usable GPU, or a software adapter
    /// on which the CPU engine measured faster (then the same text as `choice.reason`).
    pub fallback_reason: Option<String>,
    pub dispatches_per_step: usize,
    /// Examples per chunk: a step of batch m runs as ⌈m / chunk⌉ chunks.
    pub chunk: u32,
    /// Why this chunk: "m_max" (the whole batch fits), "binding limit", "memory budget", "forced".
    pub chunk_reason: String,
    /// How this engine was chosen, with the timings when `auto` measured both.
    pub choice: Choice,
}

/// The CPU engine's memory budget: the wasm heap can grow to 4 GiB and must also hold the data
/// set and the page's own state, so the engine plans for 2 GiB there; natively the default is
/// 4 GiB, or `CABS_MEMORY_BUDGET_MIB`.
pub fn cpu_budget() -> Budget {
    // In the browser, activations are also kept to 256 MiB: a page shares the wasm heap, and
    // bigger chunks are no faster on a CPU.
    #[cfg(target_arch = "wasm32")]
    let (total, what, activations) = (2u64 << 30, "the browser's wasm memory (2 GiB planned of its 4 GiB)", 256u64 << 20);
    #[cfg(not(target_arch = "wasm32"))]
    let (total, what, activations) = match std::env::var("CABS_MEMORY_BUDGET_MIB").ok().and_then(|v| v.parse::<u64>().ok()) {
        Some(mib) => (mib << 20, "the CPU memory budget CABS_MEMORY_BUDGET_MIB", u64::MAX),
        None => (4u64 << 30, "the CPU engine's 4 GiB memory budget (set CABS_MEMORY_BUDGET_MIB to change it)", u64::MAX),
    };
    Budget { max_binding: u64::MAX, total, activations, what }
}

pub enum Engine {
    Gpu(Box<GpuEngine>),
    Cpu(Box<CpuEngine>),
}

/// Everything [`Engine::build`] needs.
pub struct EngineRequest<'a> {
    pub choice: BackendChoice,
    pub layout: Layout,
    /// Shared with the CPU engine (the GPU engine uploads it).
    pub data: &'a Arc<Dataset>,
    /// The largest batch a step will run (buffers are sized for its chunks).
    pub m_max: u32,
    /// The initial parameters (both engines start from them when `auto` times both).
    pub params: &'a [f32],
    pub conv_norms: ConvNorms,
    /// Forced chunk size; None: from the device limits (GPU) or the memory budget (CPU).
    pub chunk: Option<u32>,
    /// The batch `auto` times the engines on, when the adapter is a software one.
    pub trial: TrialBatch,
}

impl Engine {
    /// Build the engine with the given initial parameters. `chunk` forces the chunk size;
    /// otherwise it follows from the device limits (GPU) or the memory budget (CPU). On a
    /// software adapter `auto` times both engines on a batch of min(m_max, 256) with statistics;
    /// [`Engine::build`] lets callers name the run's own first batch instead.
    pub async fn new(
        choice: BackendChoice,
        layout: Layout,
        data: &Dataset,
        m_max: u32,
        params: &[f32],
        conv_norms: ConvNorms,
        chunk: Option<u32>,
    ) -> Result<(Engine, BackendInfo)> {
        let trial = TrialBatch { m: m_max.clamp(1, 256), with_stats: true };
        let data = &Arc::new(data.clone());
        Engine::build(EngineRequest { choice, layout, data, m_max, params, conv_norms, chunk, trial }).await
    }

    /// Build the engine `req.choice` asks for; see [`BackendChoice::Auto`] for how `auto` picks.
    pub async fn build(req: EngineRequest<'_>) -> Result<(Engine, BackendInfo)> {
        let EngineRequest { choice, layout, data, m_max, params, conv_norms, chunk, trial } = req;
        let plan = Plan::new(&layout, conv_norms);
        let make_cpu = || -> Result<(CpuEngine, Chunking)> {
            let chunking = choose_chunk(&plan, m_max, data.memory_bytes(), cpu_budget(), chunk)?;
            Ok((CpuEngine::with_data(plan.clone(), chunking, data.clone(), m_max, params)?, chunking))
        };
        let cpu_info = |chunking: Chunking, choice: Choice, fallback_reason: Option<String>| BackendInfo {
            kind: "cpu".into(),
            adapter: None,
            fallback_reason,
            dispatches_per_step: 0,
            chunk: chunking.chunk,
            chunk_reason: chunking.reason.into(),
            choice,
        };
        let gpu_info = |g: &GpuEngine, choice: Choice| {
            let chunking = g.chunking();
            BackendInfo {
                kind: "gpu".into(),
                adapter: Some(g.adapter().clone()),
                fallback_reason: None,
                dispatches_per_step: g.dispatches_per_step(m_max.min(chunking.chunk)),
                chunk: chunking.chunk,
                chunk_reason: chunking.reason.into(),
                choice,
            }
        };
        if choice == BackendChoice::Cpu {
            let (c, chunking) = make_cpu()?;
            return Ok((Engine::Cpu(Box::new(c)), cpu_info(chunking, Choice::forced(choice), None)));
        }
        let mut g = match GpuEngine::new(plan.clone(), data, m_max, params, chunk, false).await {
            Ok(g) => g,
            Err(e) if choice == BackendChoice::Auto => {
                let (c, chunking) = make_cpu()?;
                let why = e.to_string();
                return Ok((Engine::Cpu(Box::new(c)), cpu_info(chunking, Choice::no_gpu(&why), Some(why))));
            }
            Err(e) => return Err(e),
        };
        if choice == BackendChoice::Gpu {
            let info = gpu_info(&g, Choice::forced(choice));
            return Ok((Engine::Gpu(Box::new(g)), info));
        }
        if !auto::is_software(g.adapter()) {
            let info = gpu_info(&g, Choice::hardware(g.adapter()));
            return Ok((Engine::Gpu(Box::new(g)), info));
        }
        // A software adapter: time both engines, from the same parameters, and keep the faster.
        let (mut c, chunking) = match make_cpu() {
            Ok(c) => c,
            Err(e) => {
                let info = gpu_info(&g, Choice::software_without_cpu(g.adapter(), &e.to_string()).await);
                return Ok((Engine::Gpu(Box::new(g)), info));
            }
        };
        let measured = match auto::measure(&mut g, &mut c, trial).await {
            Ok(m) => m,
            Err(e) => {
                let why = format!("{} failed a trial step: {e}", auto::software_name(g.adapter()).await);
                c.set_params(params)?;
                return Ok((Engine::Cpu(Box::new(c)), cpu_info(chunking, Choice::no_gpu(&why), Some(why))));
            }
        };
        // α = 0 changes no weight; setting them again makes the run independent of the trial.
        if measured.prefers_cpu() {
            c.set_params(params)?;
            let why = measured.reason.clone();
            Ok((Engine::Cpu(Box::new(c)), cpu_info(chunking, measured, Some(why))))
        } else {
            g.set_params(params)?;
            let info = gpu_info(&g, measured);
            Ok((Engine::Gpu(Box::new(g)), info))
        }
    }

    /// A GPU engine whose data splits are streamed per step even when they would fit one
    /// binding (as a split larger than the adapter's binding limit always is): for tests and for
    /// measuring what streaming costs.
    pub async fn new_gpu_streamed(
        layout: Layout,
        data: &Dataset,
        m_max: u32,
        params: &[f32],
        conv_norms: ConvNorms,
        chunk: Option<u32>,
    ) -> Result<Engine> {
        let g = GpuEngine::new(Plan::new(&layout, conv_norms), data, m_max, params, chunk, true).await?;
        Ok(Engine::Gpu(Box::new(g)))
    }

    /// The step plan the engine runs.
    pub fn plan(&self) -> &Plan {
        match self {
            Engine::Gpu(g) => g.plan(),
            Engine::Cpu(c) => c.plan(),
        }
    }

    /// How a batch is split into chunks.
    pub fn chunking(&self) -> Chunking {
        match self {
            Engine::Gpu(g) => g.chunking(),
            Engine::Cpu(c) => c.chunking(),
        }
    }

    /// Class probabilities for `points` (`input_dim` values each), by the plan's forward pass on
    /// the CPU twins with the engine's current weights (any model; decision maps).
    pub async fn predict(&mut self, points: &[f32], byte_scale: f32) -> Result<Vec<f32>> {
        match self {
            Engine::Gpu(g) => {
                let params = g.params().await?;
                let rows = (points.len() / g.layout().input_dim as usize).clamp(1, 1024) as u32;
                let mut exec = cpu::CpuExec::new(g.plan().clone(), rows, rows, byte_scale, &params)?;
                Ok(exec.predict(points))
            }
            Engine::Cpu(c) => Ok(c.predict(points)),
        }
    }

    pub fn set_permutation(&mut self, perm: &[u32]) {
        match self {
            Engine::Gpu(g) => g.set_permutation(perm),
            Engine::Cpu(c) => c.set_permutation(perm),
        }
    }

    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        match self {
            Engine::Gpu(g) => g.set_params(params),
            Engine::Cpu(c) => c.set_params(params),
        }
    }

    pub async fn train_step(&mut self, offset: u32, m: u32, lr: f32, with_stats: bool) -> Result<StepSums> {
        match self {
            Engine::Gpu(g) => g.train_step(offset, m, lr, with_stats).await,
            Engine::Cpu(c) => Ok(c.train_step(offset, m, lr, with_stats)),
        }
    }

    /// Compute the exact per-example inner products p_i = g_iᵀḡ with the batch's own mean
    /// gradient, and their variance, in every training step from now on (the `inner:THETA`
    /// rule), or stop. Off by default: the pass costs about one forward-sized product per layer
    /// (plus a recomputation of every chunk but the last), which other rules do not pay.
    pub fn set_inner_products(&mut self, on: bool) {
        match self {
            Engine::Gpu(g) => g.set_inner_products(on),
            Engine::Cpu(c) => c.set_inner_products(on),
        }
    }

    /// (mean, sample variance) of the last training step's p_i (the mean is ‖ḡ‖² up to
    /// rounding); None unless [`Engine::set_inner_products`] is on.
    pub fn inner_product_stats(&self) -> Option<(f32, f32)> {
        match self {
            Engine::Gpu(g) => g.inner_product_stats(),
            Engine::Cpu(c) => c.inner_product_stats(),
        }
    }

    /// The last training step's p_i, first `m` (for tests; not part of a step).
    pub async fn inner_products(&self, m: u32) -> Result<Vec<f32>> {
        match self {
            Engine::Gpu(g) => g.inner_products(m).await,
            Engine::Cpu(c) => Ok(c.inner_products(m)),
        }
    }

    /// Per-kernel GPU times (ms) of one step at α = 0 (label, shape, ms); None on the CPU or
    /// without timestamps.
    pub async fn profile_step(&mut self, offset: u32, m: u32) -> Result<Option<Vec<(&'static str, String, f64)>>> {
        match self {
            Engine::Gpu(g) => g.profile_step(offset, m).await,
            Engine::Cpu(_) => Ok(None),
        }
    }

    pub async fn evaluate(&mut self) -> Result<EvalSums> {
        match self {
            Engine::Gpu(g) => g.evaluate().await,
            Engine::Cpu(c) => Ok(c.evaluate()),
        }
    }

    pub async fn params(&self) -> Result<Vec<f32>> {
        match self {
            Engine::Gpu(g) => g.params().await,
            Engine::Cpu(c) => Ok(c.params().to_vec()),
        }
    }

    /// The first `m` values of every per-example norm row, and the first `grad_len` gradient
    /// entries, after the last training step.
    pub async fn norm_rows_and_grads(&self, m: u32, grad_len: usize) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
        match self {
            Engine::Gpu(g) => g.norm_rows_and_grads(m, grad_len).await,
            Engine::Cpu(c) => Ok(c.norm_rows_and_grads(m, grad_len)),
        }
    }

    pub async fn snapshot(&self, m: u32) -> Result<Snapshot> {
        match self {
            Engine::Gpu(g) => g.snapshot(m).await,
            Engine::Cpu(c) => Ok(c.snapshot(m)),
        }
    }
}
