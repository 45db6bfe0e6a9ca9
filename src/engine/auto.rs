//! How `auto` picks an engine, and the record of that choice shown to users.
//!
//! On a hardware GPU, `auto` keeps the GPU without timing anything. On a software adapter (the
//! browser's `isFallbackAdapter`, e.g. Chromium's SwiftShader, which wgpu reports as device type
//! `Cpu`; natively a device of type `Cpu`, e.g. Mesa's lavapipe) our GPU path can be several
//! times slower than the CPU engine, so `auto` times a few steps of both engines on the run's
//! first batch, at α = 0 (no weight changes), within about [`BUDGET_MS`], and keeps the faster.
//! Only the decision lives here; the engines are built by [`super::Engine`].

use super::{BackendChoice, CpuEngine};
use crate::error::Result;
use crate::gpu::{AdapterSummary, GpuEngine};
use serde::Serialize;

/// Wall-clock time the trial aims to stay within (warm-up included). One warm-up and one timed
/// step of each engine always run, so a slow step can take it past this.
pub const BUDGET_MS: f64 = 300.0;
/// Timed steps per engine at most (the median is kept).
const MAX_TIMED: usize = 3;

/// The batch `auto` times both engines on: the rule's first batch, with or without statistics
/// as the run computes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrialBatch {
    pub m: u32,
    pub with_stats: bool,
}

/// How the engine was chosen (`BackendInfo::choice`, `choice` in JavaScript).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    /// The backend asked for: "auto", "gpu" or "cpu".
    pub requested: BackendChoice,
    /// "forced" (gpu or cpu asked for), "no gpu" (auto, no usable GPU adapter), "hardware
    /// adapter" (auto keeps the GPU without timing), "measured" (auto timed both engines on a
    /// software adapter and kept the faster).
    pub how: String,
    /// One sentence for users, e.g. "software adapter SwiftShader: CPU 4.1 ms/step vs GPU 96
    /// ms/step at m = 16".
    pub reason: String,
    /// What was measured (only when `how` is "measured").
    pub trial: Option<Trial>,
}

/// The timings behind a measured choice.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trial {
    /// Batch size of the timed steps.
    pub batch: u32,
    /// Timed steps per engine (after one warm-up step each).
    pub steps: u32,
    /// Median ms per step of each engine.
    pub cpu_ms_per_step: f64,
    pub gpu_ms_per_step: f64,
    /// Wall time of the whole trial, warm-up included (ms).
    pub total_ms: f64,
}

impl Choice {
    pub fn forced(requested: BackendChoice) -> Choice {
        let what = if requested == BackendChoice::Gpu { "backend=gpu asked for the GPU" } else { "backend=cpu asked for the CPU engine" };
        Choice { requested, how: "forced".into(), reason: what.into(), trial: None }
    }

    pub fn no_gpu(why: &str) -> Choice {
        Choice { requested: BackendChoice::Auto, how: "no gpu".into(), reason: why.into(), trial: None }
    }

    pub fn hardware(adapter: &AdapterSummary) -> Choice {
        let reason = format!("hardware adapter {} (device type {}): the GPU is kept", adapter_name(adapter), adapter.device_type);
        Choice { requested: BackendChoice::Auto, how: "hardware adapter".into(), reason, trial: None }
    }

    /// A software adapter where the CPU engine could not be built: the GPU stays.
    pub async fn software_without_cpu(adapter: &AdapterSummary, why: &str) -> Choice {
        let reason = format!("{}, but the CPU engine could not be built ({why}): the GPU is kept", software_name(adapter).await);
        Choice { requested: BackendChoice::Auto, how: "software adapter".into(), reason, trial: None }
    }

    /// Whether the measured trial favours the CPU engine.
    pub fn prefers_cpu(&self) -> bool {
        self.trial.as_ref().is_some_and(|t| t.cpu_ms_per_step < t.gpu_ms_per_step)
    }
}

/// Whether `auto` should time both engines on this adapter.
pub fn is_software(adapter: &AdapterSummary) -> bool {
    adapter.is_software()
}

fn adapter_name(a: &AdapterSummary) -> String {
    if a.name.is_empty() {
        format!("({} adapter without a name)", a.backend)
    } else {
        a.name.clone()
    }
}

/// "software adapter llvmpipe (…)". On the web wgpu leaves the name empty: the browser's own
/// adapter info names it instead (e.g. "google swiftshader").
pub(crate) async fn software_name(a: &AdapterSummary) -> String {
    let name = if a.name.is_empty() { browser_adapter_name().await.unwrap_or_default() } else { a.name.clone() };
    if name.is_empty() {
        "software WebGPU adapter (isFallbackAdapter)".into()
    } else {
        format!("software adapter {name}")
    }
}

/// `adapter.info`'s description, vendor and architecture from `navigator.gpu.requestAdapter()`.
#[cfg(target_arch = "wasm32")]
async fn browser_adapter_name() -> Option<String> {
    use js_sys::{Promise, Reflect};
    use wasm_bindgen::JsCast;
    let get = |o: &wasm_bindgen::JsValue, k: &str| Reflect::get(o, &k.into()).ok().filter(|v| !v.is_undefined() && !v.is_null());
    let navigator = get(&js_sys::global(), "navigator")?;
    let gpu = get(&navigator, "gpu")?;
    let request: js_sys::Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = get(&adapter, "info")?;
    let parts: Vec<String> =
        ["description", "vendor", "architecture"].iter().filter_map(|k| get(&info, k)?.as_string()).filter(|s| !s.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(not(target_arch = "wasm32"))]
async fn browser_adapter_name() -> Option<String> {
    None
}

/// "0.04" below 0.1 ms, "4.1" below 10 ms, "96" above: enough digits to compare, no false
/// precision.
pub fn ms_text(ms: f64) -> String {
    if ms < 0.1 {
        format!("{ms:.2}")
    } else if ms < 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// Milliseconds on a monotonic clock (`performance.now()` in browsers and workers).
fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
        let now = perf.as_ref().and_then(|p| js_sys::Reflect::get(p, &"now".into()).ok());
        match (perf, now.and_then(|f| f.dyn_into::<js_sys::Function>().ok())) {
            (Some(p), Some(f)) => f.call0(&p).ok().and_then(|v| v.as_f64()).unwrap_or_else(js_sys::Date::now),
            _ => js_sys::Date::now(),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1e3
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Time both engines on `trial` (offset 0 of their current order, α = 0, so no weight changes):
/// one warm-up step each, then timed rounds while the budget lasts (at least one, at most
/// [`MAX_TIMED`]), the order alternating between rounds so neither always runs first.
pub async fn measure(gpu: &mut GpuEngine, cpu: &mut CpuEngine, trial: TrialBatch) -> Result<Choice> {
    let start = now_ms();
    let (mut cpu_ms, mut gpu_ms) = (Vec::new(), Vec::new());
    for round in 0..=MAX_TIMED {
        for gpu_turn in [round % 2 == 0, round % 2 == 1] {
            let t0 = now_ms();
            if gpu_turn {
                gpu.train_step(0, trial.m, 0.0, trial.with_stats).await?;
            } else {
                cpu.train_step(0, trial.m, 0.0, trial.with_stats);
            }
            let dt = now_ms() - t0;
            if round > 0 {
                if gpu_turn { &mut gpu_ms } else { &mut cpu_ms }.push(dt);
            }
        }
        if round > 0 && now_ms() - start >= BUDGET_MS {
            break;
        }
    }
    let (c, g) = (median(&mut cpu_ms), median(&mut gpu_ms));
    let t = Trial { batch: trial.m, steps: cpu_ms.len() as u32, cpu_ms_per_step: c, gpu_ms_per_step: g, total_ms: now_ms() - start };
    let name = software_name(gpu.adapter()).await;
    let reason = format!("{name}: CPU {} ms/step vs GPU {} ms/step at m = {}", ms_text(c), ms_text(g), trial.m);
    Ok(Choice { requested: BackendChoice::Auto, how: "measured".into(), reason, trial: Some(t) })
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{cpu_holds, HandOver, Outcome, HANDOVER_MOVE_ENV, HANDOVER_STEP_ENV};

/// `auto` natively (`cabs train --backend auto`): the run starts on the CPU engine at once while
/// the GPU engine is built on another thread (wgpu's native device is `Send`); between two steps,
/// once it is built, the run moves to it ([`crate::trainer::Trainer::export_state`] /
/// `import_state`) if it wins: a hardware adapter at once, a software one after timing both
/// engines on the run's next batches (the trial's steps are undone by importing the state taken
/// before them, so the run is the same as without the trial).
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::{median, ms_text, now_ms, software_name, BUDGET_MS, MAX_TIMED};
    use crate::data::Dataset;
    use crate::engine::{cpu_budget, BackendChoice};
    use crate::error::{config, Result};
    use crate::model::Layout;
    use crate::plan::{choose_chunk, Plan};
    use crate::run_state::RunState;
    use crate::trainer::{Trainer, TrainerConfig};
    use std::sync::mpsc::{self, Receiver, TryRecvError};

    /// For tests and measurements: wait for the GPU engine before step K+1 and decide there, so
    /// that the hand-over step does not depend on how fast the GPU engine was built.
    pub const HANDOVER_STEP_ENV: &str = "CABS_HANDOVER_STEP";
    /// For tests: `1` moves the run to the GPU whatever the trial measured (the trial still
    /// runs, and is undone, as it would be).
    pub const HANDOVER_MOVE_ENV: &str = "CABS_HANDOVER_MOVE";

    /// Whether the CPU engine's memory plan holds this run (`Err`: why not, in words). Settings
    /// that no engine takes (a model for other data, chunk 0) pass here: building the trainer
    /// refuses them with its own message.
    pub fn cpu_holds(cfg: &TrainerConfig, data: &Dataset) -> std::result::Result<(), String> {
        let Ok(layout) = Layout::for_input(&cfg.model, data.dim, data.image, data.classes) else { return Ok(()) };
        let plan = Plan::new(&layout, cfg.conv_norms);
        let forced = cfg.chunk.filter(|&c| c > 0);
        choose_chunk(&plan, cfg.rule.max_batch(), data.memory_bytes(), cpu_budget(), forced).map(|_| ()).map_err(|e| e.to_string())
    }

    /// What the hand-over did, once decided.
    #[derive(Clone, Debug, PartialEq)]
    pub enum Outcome {
        /// The run continues on the GPU engine from step `at` (the steps after it run there).
        Moved { at: u64, reason: String },
        /// The run stays on the CPU engine.
        Stayed { at: u64, reason: String },
    }

    impl Outcome {
        /// One line for users: "CPU → GPU at step 212 (…)" or "stayed on CPU: …".
        pub fn text(&self) -> String {
            match self {
                Outcome::Moved { at, reason } => format!("CPU → GPU at step {at} ({reason})"),
                Outcome::Stayed { at, reason } => format!("stayed on CPU at step {at}: {reason}"),
            }
        }
    }

    /// The GPU engine being built on another thread, and the decision once it is.
    pub struct HandOver {
        pending: Option<Receiver<Result<Trainer>>>,
        /// The thread building the GPU engine, joined when the hand-over is dropped (see Drop).
        builder: Option<std::thread::JoinHandle<()>>,
        wait_at: Option<u64>,
        force_move: bool,
        started_ms: f64,
    }

    /// A process must not exit while the driver compiles on another thread: Mesa's lavapipe
    /// segfaulted in its teardown in 1 of 12 short `cabs train` runs that ended before the GPU
    /// engine was built. So a hand-over waits for its build when dropped (bounded by the build's
    /// own time, seconds on a software GPU).
    impl Drop for HandOver {
        fn drop(&mut self) {
            self.finish_build();
        }
    }

    impl HandOver {
        /// Start building a GPU trainer for the run `cfg` (its backend is set to the GPU) on
        /// another thread. Reads [`HANDOVER_STEP_ENV`] and [`HANDOVER_MOVE_ENV`].
        pub fn start(cfg: &TrainerConfig, data: Dataset) -> Result<HandOver> {
            let wait_at = match std::env::var(HANDOVER_STEP_ENV) {
                Ok(v) => match v.trim().parse::<u64>() {
                    Ok(k) => Some(k),
                    Err(_) => return config(format!("{HANDOVER_STEP_ENV}='{v}': give a step number (0 or more)")),
                },
                Err(_) => None,
            };
            let force_move = match std::env::var(HANDOVER_MOVE_ENV).as_deref() {
                Ok("1") => true,
                Ok("0") | Err(_) => false,
                Ok(v) => return config(format!("{HANDOVER_MOVE_ENV}='{v}': give 1 (move whatever the trial says) or 0")),
            };
            let gpu_cfg = TrainerConfig { backend: BackendChoice::Gpu, ..cfg.clone() };
            let (tx, rx) = mpsc::channel();
            let builder = std::thread::Builder::new()
                .name("cabs gpu engine".into())
                .spawn(move || {
                    // The receiver may be gone (the run ended first): nothing to tell then.
                    let _ = tx.send(pollster::block_on(Trainer::new(gpu_cfg, data)));
                })
                .map_err(|e| crate::error::CabsError::Config(format!("cannot start a thread to build the GPU engine: {e}")))?;
            Ok(HandOver { pending: Some(rx), builder: Some(builder), wait_at, force_move, started_ms: now_ms() })
        }

        /// At the end of a run still waiting for the GPU engine: why it cannot be had, if its
        /// thread fails within `grace` (a machine without an adapter fails in milliseconds, so a
        /// short run can still say so); None if it is still being built or was built.
        pub fn failure_within(&mut self, grace: std::time::Duration) -> Option<String> {
            match self.pending.as_ref()?.recv_timeout(grace) {
                Ok(Err(e)) => Some(format!("no usable GPU: {e}")),
                _ => None,
            }
        }

        /// Waits until the thread building the GPU engine has ended, dropping what it built
        /// here. Called by Drop; public so that a caller can say first that it waits.
        pub fn finish_build(&mut self) {
            if let Some(rx) = self.pending.take() {
                drop(rx.recv());
            }
            if let Some(builder) = self.builder.take() {
                let _ = builder.join();
            }
        }

        /// Whether the decision is still to come.
        pub fn is_pending(&self) -> bool {
            self.pending.is_some()
        }

        /// Call between two steps with the run's trainer (on the CPU engine). Once the GPU
        /// engine is built (or, with [`HANDOVER_STEP_ENV`] = K, at step K, after waiting for it),
        /// decides, replaces `trainer` by the GPU trainer if the run moves, and returns what
        /// happened; None while the GPU engine is still being built, and after the decision.
        pub fn poll(&mut self, trainer: &mut Trainer) -> Result<Option<Outcome>> {
            let Some(rx) = &self.pending else { return Ok(None) };
            let at = trainer.steps_done();
            let waiting = self.wait_at.is_some_and(|k| at >= k);
            let built = if waiting {
                rx.recv().unwrap_or_else(|_| config("the thread building the GPU engine stopped without an answer".to_string()))
            } else {
                match rx.try_recv() {
                    Ok(b) => b,
                    Err(TryRecvError::Empty) => return Ok(None),
                    Err(TryRecvError::Disconnected) => config("the thread building the GPU engine stopped without an answer".to_string()),
                }
            };
            self.pending = None;
            let built_ms = now_ms() - self.started_ms;
            let mut gpu = match built {
                Ok(g) => g,
                Err(e) => return Ok(Some(Outcome::Stayed { at, reason: format!("no usable GPU: {e}") })),
            };
            let state = trainer.export_state().now()?;
            let Some(adapter) = gpu.backend().adapter.clone() else {
                return Ok(Some(Outcome::Stayed { at, reason: "the GPU trainer came without an adapter".into() }));
            };
            let built_text = format!("GPU engine built in {} ms", ms_text(built_ms));
            let reason = if !adapter.is_software() {
                format!("{built_text}; {}", super::Choice::hardware(&adapter).reason)
            } else {
                match trial(trainer, &mut gpu, &state) {
                    Ok((cpu_ms, gpu_ms, m)) => {
                        let name = software_name(&adapter).now();
                        let timed =
                            format!("{built_text}; {name}: CPU {} ms/step vs GPU {} ms/step at m = {m}", ms_text(cpu_ms), ms_text(gpu_ms));
                        if cpu_ms < gpu_ms && !self.force_move {
                            return Ok(Some(Outcome::Stayed { at, reason: timed }));
                        }
                        if cpu_ms < gpu_ms {
                            format!("{timed}; moved anyway: {HANDOVER_MOVE_ENV}=1")
                        } else {
                            timed
                        }
                    }
                    Err(e) if !self.force_move => {
                        return Ok(Some(Outcome::Stayed { at, reason: format!("the GPU engine failed a trial step: {e}") }))
                    }
                    Err(e) => return Err(e),
                }
            };
            gpu.import_state(&state)?;
            *trainer = gpu;
            Ok(Some(Outcome::Moved { at, reason }))
        }
    }

    /// Time both trainers on the run's next steps from `state` (one warm-up step each, then
    /// alternating rounds while [`BUDGET_MS`] lasts, at most [`MAX_TIMED`]), then put both back
    /// at `state`. Returns the median ms per step of each and the first timed batch size.
    fn trial(cpu: &mut Trainer, gpu: &mut Trainer, state: &RunState) -> Result<(f64, f64, u32)> {
        gpu.import_state(state)?;
        let timed = (|| -> Result<(f64, f64, u32)> {
            let start = now_ms();
            let (mut cpu_ms, mut gpu_ms, mut m) = (Vec::new(), Vec::new(), 0);
            for round in 0..=MAX_TIMED {
                if round == 1 {
                    m = cpu.next_batch_size();
                }
                for gpu_turn in [round % 2 == 0, round % 2 == 1] {
                    let t0 = now_ms();
                    if gpu_turn {
                        gpu.step().now()?;
                    } else {
                        cpu.step().now()?;
                    }
                    let dt = now_ms() - t0;
                    if round > 0 {
                        if gpu_turn { &mut gpu_ms } else { &mut cpu_ms }.push(dt);
                    }
                }
                if round > 0 && now_ms() - start >= BUDGET_MS {
                    break;
                }
            }
            Ok((median(&mut cpu_ms), median(&mut gpu_ms), m))
        })();
        // Undo the trial's steps on both, whatever happened.
        cpu.import_state(state)?;
        gpu.import_state(state)?;
        timed
    }

    /// Natively every future here completes without yielding to a browser: block on it.
    trait Now: std::future::Future + Sized {
        fn now(self) -> Self::Output {
            pollster::block_on(self)
        }
    }
    impl<F: std::future::Future> Now for F {}
}
