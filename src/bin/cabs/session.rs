//! The one training loop of `cabs train` and `cabs reproduce`: step until a budget of steps or
//! examples is spent, evaluate on a schedule and after the last step, time training apart from
//! evaluations, and hand every step to the caller (which writes its CSV row, moves a progress
//! bar, writes a probe). Divergence ends the loop with [`Ending::Diverged`], so that each caller
//! decides whether it is fatal (`train`) or a result to record (`reproduce`).

use crate::error::CliResult;
use cabs::trainer::{EvalStats, StepDetail, StepStats, Trainer};
use cabs::CabsError;
use std::time::Instant;

/// When the run stops: after the step that reaches the budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    Steps(u64),
    Examples(u64),
}

impl Budget {
    pub fn reached(self, steps: u64, examples: u64) -> bool {
        match self {
            Budget::Steps(n) => steps >= n,
            Budget::Examples(n) => examples >= n,
        }
    }
}

/// When the test set is evaluated (always after the last step, too).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EvalEvery {
    /// Every k steps; 0: at the end only.
    Steps(u64),
    /// At the first step at or past every multiple of n examples.
    Examples(u64),
}

/// One finished step, as the caller sees it.
pub struct Step<'a> {
    pub stats: &'a StepStats,
    pub eval: Option<&'a EvalStats>,
    /// Milliseconds since the loop started, evaluations and the caller's work included.
    pub wall_ms: f64,
    /// Seconds spent in training steps only, up to the end of this one.
    pub train_s: f64,
    /// The step's full detail, at the step asked for with `detail_at`.
    pub detail: Option<&'a StepDetail>,
    /// With [`EvalEvery::Steps`]: the next step that will be evaluated on schedule (0: none),
    /// for a checkpoint to carry.
    pub next_eval_step: u64,
}

/// Where a loop starts: from scratch, or from a checkpoint (`cabs train --resume-from`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Start {
    /// The wall time already spent before this process (the checkpoint's row's `wall_ms`), so
    /// that a resumed log's `wall_ms` keeps rising.
    pub wall_ms: f64,
    /// With [`EvalEvery::Steps`]: the next evaluated step, from the checkpoint's schedule;
    /// None: the first multiple of the period past the trainer's steps.
    pub next_eval_step: Option<u64>,
}

pub enum Ending {
    /// The budget was spent.
    Done,
    /// A step produced NaN/∞; the steps before it were handed over.
    Diverged(CabsError),
}

/// Train `trainer` until `budget`, calling `on_step` after every step. `detail_at`: the 1-based
/// step whose [`StepDetail`] is kept (for a probe file). Errors other than divergence, and the
/// caller's errors, end the loop with that error. `from` carries the wall time and evaluation
/// schedule of the steps done before, for a run continued from a saved state (the trainer
/// carries everything else); `Start::default()` for a new run.
pub fn drive_from(
    trainer: &mut Trainer,
    budget: Budget,
    evals: EvalEvery,
    detail_at: Option<u64>,
    from: Start,
    on_step: &mut dyn FnMut(&Trainer, Step) -> CliResult<()>,
) -> CliResult<Ending> {
    drive_between(trainer, budget, evals, detail_at, from, &mut |_| Ok(()), on_step)
}

/// [`drive_from`], calling `between` before every step with the trainer itself, which it may
/// replace (`cabs train --backend auto` moves the run to the GPU engine there); its time counts
/// in `wall_ms`, not in `train_s`.
pub fn drive_between(
    trainer: &mut Trainer,
    budget: Budget,
    evals: EvalEvery,
    detail_at: Option<u64>,
    from: Start,
    between: &mut dyn FnMut(&mut Trainer) -> CliResult<()>,
    on_step: &mut dyn FnMut(&Trainer, Step) -> CliResult<()>,
) -> CliResult<Ending> {
    let start = Instant::now();
    let mut train_s = 0.0;
    // Examples: the next multiple of n examples to pass; steps: the next step to evaluate
    // (kept as a number, not a modulo, so that a checkpoint can carry it). A trainer that starts
    // from a saved state gets the multiple an uninterrupted run would have reached: the first
    // one past what it has already done.
    let mut next_eval = match evals {
        EvalEvery::Examples(n) => (trainer.examples_seen() / n.max(1) + 1) * n.max(1),
        EvalEvery::Steps(0) => 0,
        EvalEvery::Steps(k) => from.next_eval_step.unwrap_or((trainer.steps_done() / k + 1) * k),
    };
    while !budget.reached(trainer.steps_done(), trainer.examples_seen()) {
        between(trainer)?;
        let t0 = Instant::now();
        let stepped = if detail_at == Some(trainer.steps_done() + 1) {
            pollster::block_on(trainer.step_with_detail()).map(|d| (d.stats.clone(), Some(d)))
        } else {
            pollster::block_on(trainer.step()).map(|s| (s, None))
        };
        let (s, detail) = match stepped {
            Ok(v) => v,
            Err(e @ CabsError::Diverged { .. }) => return Ok(Ending::Diverged(e)),
            Err(e) => return Err(e.into()),
        };
        train_s += t0.elapsed().as_secs_f64();
        let finished = budget.reached(s.step, s.examples_seen);
        let due = match evals {
            EvalEvery::Steps(k) => {
                let due = k > 0 && s.step >= next_eval;
                while k > 0 && next_eval <= s.step {
                    next_eval += k;
                }
                due
            }
            EvalEvery::Examples(n) => {
                let due = s.examples_seen >= next_eval;
                while next_eval <= s.examples_seen {
                    next_eval += n.max(1);
                }
                due
            }
        };
        let eval = if due || finished { Some(pollster::block_on(trainer.evaluate())?) } else { None };
        let wall_ms = from.wall_ms + start.elapsed().as_secs_f64() * 1e3;
        let next_eval_step = if matches!(evals, EvalEvery::Steps(_)) { next_eval } else { 0 };
        on_step(trainer, Step { stats: &s, eval: eval.as_ref(), wall_ms, train_s, detail: detail.as_ref(), next_eval_step })?;
    }
    Ok(Ending::Done)
}
