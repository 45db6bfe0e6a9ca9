//! The training loop users call: sampling, the engine and the batch-size rule put together.
//! One `step()` = one SGD step on a batch of the current size, then the rule picks the next
//! size from the step's loss and ξ. Works the same on the GPU and the CPU engine. Between two
//! steps the whole run can be exported and imported ([`RunState`]): to move it to the other
//! engine or to continue it later.

use crate::data::sampler::{BatchSlot, EpochSampler};
use crate::data::Dataset;
use crate::engine::{BackendChoice, BackendInfo, ConvNorms, Engine, EngineRequest, Snapshot, TrialBatch};
use crate::error::{config, CabsError, Result};
use crate::learning_rate::LearningRate;
use crate::model::{Layout, ModelSpec};
use crate::reference::reduce_stats::StepSums;
use crate::rules::{xi_from_sums, Decision, Rule, RuleRunner, StepInput};
use crate::run_state::{DataIdentity, EngineSpan, RunState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Everything that defines a run (with the data set and the seed: reproducible).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    pub model: ModelSpec,
    pub rule: Rule,
    /// Base learning rate α, checked when it was made (see [`LearningRate`]).
    pub lr: LearningRate,
    pub seed: u64,
    pub backend: BackendChoice,
    /// Compute per-example norms and ξ (off only for measuring their cost).
    pub with_stats: bool,
    /// Exact conv-filter norms, the reference code's approximation, or both.
    #[serde(default)]
    pub conv_norms: ConvNorms,
    /// Examples per chunk of a step (None: chosen from the device limits or memory budget).
    #[serde(default)]
    pub chunk: Option<u32>,
}

/// What one step did and decided. Field names are the CSV columns (camelCase in JavaScript).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepStats {
    /// 1-based index of this step.
    pub step: u64,
    /// Training examples processed so far, this step included.
    pub examples_seen: u64,
    pub epoch: u64,
    /// Size of this step's batch.
    pub batch_size: u32,
    /// Size the rule chose for the next batch.
    pub next_batch_size: u32,
    /// The rule's size before rounding and clipping (constant rules: the constant).
    pub m_raw: f64,
    /// Mean loss of this batch at the pre-update weights.
    pub loss: f64,
    /// Running average ℒ̄ used by the rule.
    pub loss_avg: f64,
    /// ξ of this batch (biased, or unbiased if so configured).
    pub xi: f64,
    pub xi_avg: f64,
    /// ‖ḡ‖² of the mean gradient.
    pub grad_norm_sq: f64,
    /// Gradient noise scale B_simple = ξ / ‖ḡ‖² (McCandlish et al. 2018).
    pub noise_scale: f64,
    /// α used for this step's update.
    pub lr: f64,
    /// Fraction of this batch classified correctly before the update.
    pub batch_accuracy: f64,
    /// Σ_i ‖g_i‖² over the batch.
    pub sum_sq_norms: f64,
    /// The convolution filters' and biases' share of ξ, exact and by the reference code's
    /// approximation, on this same batch (only with [`ConvNorms::Both`]).
    pub conv_xi_exact: Option<f64>,
    pub conv_xi_approx: Option<f64>,
    /// The engine that ran this step, "cpu" or "gpu" (a run can move between engines).
    pub engine: String,
    /// Sample variance over the batch of the per-example inner products g_iᵀḡ with the batch's
    /// own mean gradient (divided by m − 1), exact; None unless computed (the `inner:THETA`
    /// rule, or [`Trainer::set_inner_products`]).
    pub inner_product_var: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvalStats {
    pub step: u64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

/// The data and engine-side numbers of one step, for probe files.
pub struct StepDetail {
    pub stats: StepStats,
    pub params_before: Vec<f32>,
    pub indices: Vec<u32>,
    /// The batch's features as the model receives them (before any layer), and labels, read
    /// from the data set (the engine's buffers hold only the last chunk).
    pub inputs: Vec<f32>,
    pub labels: Vec<u32>,
    /// The run's configuration, the data set's byte scale and the engine's chunk (for probes).
    pub config: TrainerConfig,
    pub byte_scale: f32,
    pub chunk: u32,
    pub sums: StepSums,
    pub snapshot: Snapshot,
}

pub struct Trainer {
    cfg: TrainerConfig,
    layout: Layout,
    /// Shared with the CPU engine, which reads its batches from it.
    data: Arc<Dataset>,
    engine: Engine,
    info: BackendInfo,
    sampler: EpochSampler,
    /// The rule's running state (for constant rules only the averages shown as columns).
    rule: RuleRunner,
    /// The live α ([`Trainer::set_lr`]); starts as the configuration's.
    lr: LearningRate,
    batch: u32,
    step: u64,
    examples: u64,
    failed: Option<CabsError>,
    /// A step has started and not finished: set while `step` runs, left set when its future is
    /// dropped half-way (the sampler has moved, the engine may not have): no state can be taken.
    in_flight: bool,
    /// The engines this run has used (see [`RunState::engines`]).
    engines: Vec<EngineSpan>,
}

impl Trainer {
    pub async fn new(cfg: TrainerConfig, data: Dataset) -> Result<Trainer> {
        // No engine computes Var_i(g_iᵀḡ) yet: `inner:` is refused here, by name, before any work.
        let rule = RuleRunner::new(&cfg.rule)?;
        data.validate()?;
        let layout = Layout::for_input(&cfg.model, data.dim, data.image, data.classes)?;
        let m_max = cfg.rule.max_batch();
        if m_max as usize > data.train.len() {
            return config(format!(
                "the largest batch ({m_max}) exceeds the {} training examples of '{}'; lower m_max",
                data.train.len(),
                data.name
            ));
        }
        let params = layout.init_params(cfg.seed);
        let data = Arc::new(data);
        let (mut engine, info) = Engine::build(EngineRequest {
            choice: cfg.backend,
            layout: layout.clone(),
            data: &data,
            m_max,
            params: &params,
            conv_norms: cfg.conv_norms,
            chunk: cfg.chunk,
            // `auto` on a software adapter times both engines on the rule's first batch.
            trial: TrialBatch { m: cfg.rule.initial_batch(), with_stats: cfg.with_stats },
        })
        .await?;
        engine.set_inner_products(cfg.rule.needs_inner_products());
        let engines = vec![EngineSpan { from_step: 0, engine: info.kind.clone() }];
        Ok(Trainer {
            sampler: EpochSampler::new(data.train.len(), cfg.seed),
            batch: cfg.rule.initial_batch(),
            lr: cfg.lr,
            cfg,
            layout,
            data,
            engine,
            info,
            rule,
            step: 0,
            examples: 0,
            failed: None,
            in_flight: false,
            engines,
        })
    }

    /// A trainer that continues the run `state` on the engine `cfg.backend` asks for: the same
    /// as [`Trainer::new`] followed by [`Trainer::import_state`]. `cfg` must describe the same
    /// run (see [`RunState::check_fits`]; `state.config` is one that does).
    pub async fn with_state(cfg: TrainerConfig, data: Dataset, state: &RunState) -> Result<Trainer> {
        let mut t = Trainer::new(cfg, data).await?;
        t.import_state(state)?;
        Ok(t)
    }

    fn check_between_steps(&self, what: &str) -> Result<()> {
        if self.in_flight {
            return config(format!(
                "cannot {what} the run state: a step was started and not finished; \
                 wait for the step, or continue from an earlier state in a new trainer"
            ));
        }
        Ok(())
    }

    /// The run's state after the last finished step (weights read back from the engine). Its
    /// `eval` is None: the caller adds its evaluation schedule.
    pub async fn export_state(&self) -> Result<RunState> {
        self.check_between_steps("export")?;
        let params = self.engine.params().await?;
        Ok(RunState {
            config: self.cfg.clone(),
            model_detail: crate::run_state::model_detail(&self.cfg.model),
            data: DataIdentity::of(&self.data),
            engines: self.engines.clone(),
            params,
            rule: self.rule.state(),
            sampler: self.sampler.state(),
            lr: self.lr.get(),
            next_batch: self.batch,
            step: self.step,
            examples: self.examples,
            failed: self.failed.clone(),
            eval: None,
        })
    }

    /// Continue from `state` (made by either engine) between two steps: the next step is the
    /// one the exporting trainer would have taken. Refuses, changing nothing, a state for
    /// another run (data, model, rule, seed, statistics) or one that does not fit this trainer.
    pub fn import_state(&mut self, state: &RunState) -> Result<()> {
        self.check_between_steps("import")?;
        state.check_fits(&self.cfg, &DataIdentity::of(&self.data))?;
        if state.params.len() != self.layout.param_count as usize {
            return config(format!("the run state has {} weights; this model has {}", state.params.len(), self.layout.param_count));
        }
        // The file's α: a run state is read from bytes, a boundary of its own.
        let lr = LearningRate::new(state.lr).map_err(|e| match e {
            CabsError::Config(m) => CabsError::Config(format!("the run state's {m}")),
            other => other,
        })?;
        let m_max = self.cfg.rule.max_batch();
        if state.next_batch == 0 || state.next_batch > m_max {
            return config(format!("the run state's next batch ({}) is not within 1..={m_max}", state.next_batch));
        }
        let sampler = EpochSampler::from_state(self.data.train.len(), &state.sampler)?;
        let rule = RuleRunner::from_state(&self.cfg.rule, state.rule)?;
        self.engine.set_params(&state.params)?;
        if !sampler.permutation().is_empty() {
            self.engine.set_permutation(sampler.permutation());
        }
        self.sampler = sampler;
        self.rule = rule;
        (self.lr, self.batch, self.step, self.examples) = (lr, state.next_batch, state.step, state.examples);
        self.failed = state.failed.clone();
        self.engines = state.engines.clone();
        if state.engine() != self.info.kind {
            self.engines.push(EngineSpan { from_step: state.step, engine: self.info.kind.clone() });
        }
        Ok(())
    }

    /// The engines this run has used and from which step (the last is this trainer's).
    pub fn engines(&self) -> &[EngineSpan] {
        &self.engines
    }

    pub fn backend(&self) -> &BackendInfo {
        &self.info
    }

    /// The step plan the engine runs (ops, buffers, chunking).
    pub fn plan(&self) -> &crate::plan::Plan {
        self.engine.plan()
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn config(&self) -> &TrainerConfig {
        &self.cfg
    }

    pub fn data(&self) -> &Dataset {
        &self.data
    }

    pub fn steps_done(&self) -> u64 {
        self.step
    }

    pub fn examples_seen(&self) -> u64 {
        self.examples
    }

    /// Size of the next batch.
    pub fn next_batch_size(&self) -> u32 {
        self.batch
    }

    /// Compute the exact per-example inner products and their variance (`inner_product_var`)
    /// in every step from now on, or stop: on for rules that read them, and for measuring what
    /// they cost. The weights and every other statistic are the same either way.
    pub fn set_inner_products(&mut self, on: bool) {
        self.engine.set_inner_products(on);
    }

    /// Change α; training continues from where it is (no reset). The value was checked when
    /// it was made ([`LearningRate::new`]), so this cannot fail.
    pub fn set_lr(&mut self, lr: LearningRate) {
        self.lr = lr;
    }

    /// The live α.
    pub fn lr(&self) -> f64 {
        self.lr.get()
    }

    /// One SGD step; see [`StepStats`].
    pub async fn step(&mut self) -> Result<StepStats> {
        Ok(self.run_step().await?.0)
    }

    async fn run_step(&mut self) -> Result<(StepStats, BatchSlot, StepSums)> {
        self.in_flight = true;
        let r = self.run_step_inner().await;
        self.in_flight = false;
        r
    }

    async fn run_step_inner(&mut self) -> Result<(StepStats, BatchSlot, StepSums)> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let m = self.batch;
        let slot = self.sampler.next_batch(m);
        if slot.new_epoch {
            self.engine.set_permutation(self.sampler.permutation());
        }
        let lr = self.cfg.rule.lr_at(self.lr.get(), self.step);
        let sums = match self.engine.train_step(slot.offset, m, lr as f32, self.cfg.with_stats).await {
            Ok(s) => s,
            Err(e) => {
                self.failed = Some(e.clone());
                return Err(e);
            }
        };
        let loss = sums.loss_sum as f64 / m as f64;
        let mean_grad_sq = sums.mean_grad_sq as f64;
        let xi = xi_from_sums(sums.sq_norm_sum as f64, mean_grad_sq, m, self.cfg.rule.unbiased());
        for (what, v) in [("the loss", loss), ("ξ", xi), ("‖ḡ‖²", mean_grad_sq)] {
            if !v.is_finite() {
                let e = CabsError::Diverged { step: self.step + 1, what: format!("{what} is {v}") };
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
        let inner_product_var = self.engine.inner_product_stats().map(|(_, var)| var as f64);
        let input = StepInput { loss, xi, grad_norm_sq: mean_grad_sq, m, lr, examples_seen: self.examples + m as u64, inner_product_var };
        let d: Decision = self.rule.update(&input)?;
        let (m_raw, m_next) = (d.m_raw, d.m_next);
        self.step += 1;
        self.examples += m as u64;
        self.batch = m_next;
        let mut stats = StepStats {
            step: self.step,
            examples_seen: self.examples,
            epoch: self.sampler.epoch(),
            batch_size: m,
            next_batch_size: m_next,
            m_raw,
            loss,
            loss_avg: d.loss_avg,
            xi,
            xi_avg: d.xi_avg,
            grad_norm_sq: mean_grad_sq,
            noise_scale: if mean_grad_sq > 0.0 { xi / mean_grad_sq } else { f64::NAN },
            lr,
            batch_accuracy: sums.correct as f64 / m as f64,
            sum_sq_norms: sums.sq_norm_sum as f64,
            conv_xi_exact: None,
            conv_xi_approx: None,
            engine: self.info.kind.clone(),
            inner_product_var,
        };
        if self.cfg.with_stats && self.cfg.conv_norms == ConvNorms::Both && !self.layout.convs.is_empty() {
            let (exact, approx) = self.conv_xi(m).await?;
            (stats.conv_xi_exact, stats.conv_xi_approx) = (Some(exact), Some(approx));
        }
        Ok((stats, slot, sums))
    }

    /// The convolution tensors' part of ξ for the last batch, (exact, approximate): both from the
    /// same per-example rows the engine kept, and ‖ḡ‖² of the conv tensors from the gradient.
    async fn conv_xi(&self, m: u32) -> Result<(f64, f64)> {
        let convs = &self.layout.convs;
        let conv_params = convs.last().map_or(0, |c| c.b_offset as usize + c.conv.out_c);
        let (rows, grads) = self.engine.norm_rows_and_grads(m, conv_params).await?;
        let grad_sq: f64 = grads.iter().map(|&g| (g as f64).powi(2)).sum();
        let (n_t, k) = (self.layout.n_tensors(), 2 * convs.len());
        let total = |r: std::ops::Range<usize>| rows[r].iter().flatten().map(|&v| v as f64).sum::<f64>();
        let unbiased = self.cfg.rule.unbiased();
        Ok((xi_from_sums(total(0..k), grad_sq, m, unbiased), xi_from_sums(total(n_t..n_t + k), grad_sq, m, unbiased)))
    }

    /// One step, keeping everything a probe file needs (parameters before the step, the batch,
    /// every intermediate buffer).
    pub async fn step_with_detail(&mut self) -> Result<StepDetail> {
        let params_before = self.engine.params().await?;
        let (stats, slot, sums) = self.run_step().await?;
        let indices = self.sampler.indices(slot).to_vec();
        let snapshot = self.engine.snapshot(stats.batch_size).await?;
        let (split, dim) = (&self.data.train, self.data.dim as usize);
        let inputs = indices.iter().flat_map(|&e| (0..dim).map(move |j| split.feature(dim, e as usize, j))).collect();
        let labels = indices.iter().map(|&e| split.labels[e as usize]).collect();
        let (config, byte_scale, chunk) = (self.cfg.clone(), split.gpu_format().1, self.info.chunk);
        Ok(StepDetail { stats, params_before, indices, inputs, labels, config, byte_scale, chunk, sums, snapshot })
    }

    /// Per-kernel GPU times (ms) of one step of the current batch size on the first examples of
    /// the current epoch, at α = 0: a measurement that leaves the run unchanged. None on the CPU
    /// engine or on adapters without timestamp queries.
    pub async fn profile_step(&mut self) -> Result<Option<Vec<(&'static str, String, f64)>>> {
        if self.sampler.permutation().is_empty() {
            return Ok(None); // no epoch drawn yet: take a step first
        }
        self.engine.profile_step(0, self.batch).await
    }

    /// Test loss and accuracy at the current weights. A data set without test examples has no
    /// test loss: that is an error ("no test set"), never a made-up 0.
    pub async fn evaluate(&mut self) -> Result<EvalStats> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.data.test.is_empty() {
            return Err(CabsError::Data(format!("no test set: '{}' has no test examples to evaluate on", self.data.name)));
        }
        let s = self.engine.evaluate().await?;
        let n = s.n.max(1) as f64;
        Ok(EvalStats { step: self.step, test_loss: s.loss_sum / n, test_accuracy: s.correct / n })
    }

    /// Class probabilities at the current weights for `points` (row-major, `dim` values each, as
    /// the data set's features: grey levels times its byte scale for images), by the step plan's
    /// forward pass on the CPU twins: for decision-boundary maps, and for every model.
    pub async fn predict(&mut self, points: &[f32]) -> Result<Vec<f32>> {
        let dim = self.layout.input_dim() as usize;
        if !points.len().is_multiple_of(dim) {
            return config(format!("predict needs a multiple of {dim} values, got {}", points.len()));
        }
        if points.iter().any(|v| !v.is_finite()) {
            return config("predict needs finite values");
        }
        self.engine.predict(points, self.data.train.gpu_format().1).await
    }

    /// The current parameters (flat layout, see [`crate::model`]).
    pub async fn params(&self) -> Result<Vec<f32>> {
        self.engine.params().await
    }
}
