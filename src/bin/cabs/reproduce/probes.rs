//! What a reproduction measures beyond `cabs train --csv`, for the study's claims (docs/STUDY.md):
//! the training loss on a fixed subset of the training set at every test evaluation (the
//! mini-batch loss is noisy and comes from different examples in every run), and each run's final
//! predicted class for every test digit, for McNemar's test between two runs of a seed pair.
//!
//! The reproduction's extra CSV columns are named here, once ([`EXTRA_COLUMNS`]), so that the
//! writer (`run.rs`), the reader and the tests agree. Not here: the statistics (`paired.rs`).
//!
//! The subset loss is measured by a second trainer whose *test* split is the subset: the run's
//! weights are copied into it at each evaluation and its test evaluation (the engine's own
//! kernels, the same as for the test set) gives the mean cross-entropy over the subset. This
//! uses only the library's public run-state API; it doubles the cost of each evaluation.

use crate::error::{CliError, CliResult};
use cabs::data::{Dataset, Features, Split};
use cabs::run_state::DataIdentity;
use cabs::trainer::{Trainer, TrainerConfig};
use std::path::{Path, PathBuf};

/// The columns a reproduction's run CSV has after `cabs train --csv`'s: training time without
/// evaluations, and the loss on the fixed training subset (on evaluated rows only).
pub const EXTRA_COLUMNS: &str = "train_ms,train_subset_loss";

/// Training examples in the fixed subset (all of them when the set is smaller).
pub const SUBSET_SIZE: usize = 10_000;
/// The seed of the permutation whose first [`SUBSET_SIZE`] entries are the subset: the same for
/// every run, whatever its own seed.
pub const SUBSET_SEED: u64 = 0;

/// The subset's indices into the training split: the first `SUBSET_SIZE` of a permutation drawn
/// from [`SUBSET_SEED`], in that order.
pub fn subset_indices(n_train: usize) -> Vec<u32> {
    let mut p = cabs::rng::Rng::new(SUBSET_SEED).permutation(n_train);
    p.truncate(SUBSET_SIZE.min(n_train));
    p
}

/// The training examples at `idx`, as a split of their own.
fn pick(split: &Split, dim: usize, idx: &[u32]) -> Split {
    let labels = idx.iter().map(|&i| split.labels[i as usize]).collect();
    let features = match &split.features {
        Features::U8 { bytes, scale } => Features::U8 {
            bytes: idx.iter().flat_map(|&i| bytes[i as usize * dim..(i as usize + 1) * dim].iter().copied()).collect(),
            scale: *scale,
        },
        Features::F32(v) => Features::F32(idx.iter().flat_map(|&i| v[i as usize * dim..(i as usize + 1) * dim].iter().copied()).collect()),
    };
    Split { features, labels }
}

/// Measures the training loss on the fixed subset for one run.
pub struct SubsetLoss {
    trainer: Trainer,
    identity: DataIdentity,
}

impl SubsetLoss {
    /// A trainer like the run's (same model, rule, seed, engine) over the same training split,
    /// with the fixed subset as its test split.
    pub fn new(cfg: TrainerConfig, data: &Dataset) -> CliResult<SubsetLoss> {
        let test = pick(&data.train, data.dim as usize, &subset_indices(data.train.len()));
        let d = Dataset { test, ..data.clone() };
        let identity = DataIdentity::of(&d);
        let trainer = pollster::block_on(Trainer::new(cfg, d)).map_err(|e| CliError::from(e).context("training-subset evaluator"))?;
        Ok(SubsetLoss { trainer, identity })
    }

    /// The mean cross-entropy over the subset at `run`'s current weights.
    pub fn measure(&mut self, run: &Trainer) -> CliResult<f64> {
        let mut state = pollster::block_on(run.export_state())?;
        // The state names the run's data (its test split is the test set); this trainer's test
        // split is the subset, over the same training split.
        state.data = self.identity.clone();
        self.trainer.import_state(&state)?;
        Ok(pollster::block_on(self.trainer.evaluate())?.test_loss)
    }
}

/// The predicted class of every test example at `t`'s current weights, one byte each (classes
/// are fewer than 256 for every data set here; more is an error, not a wrapped byte).
pub fn predictions(t: &mut Trainer) -> CliResult<Vec<u8>> {
    let data = t.data().clone();
    let (dim, k) = (data.dim as usize, data.classes as usize);
    if k > 256 {
        return Err(CliError::run(format!("{} classes do not fit one byte per prediction", k)));
    }
    let mut out = Vec::with_capacity(data.test.len());
    // In blocks: the probabilities of all 10,000 digits at once would be one large allocation
    // for no gain.
    const BLOCK: usize = 1000;
    for start in (0..data.test.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(data.test.len());
        let mut points = Vec::with_capacity((end - start) * dim);
        for e in start..end {
            points.extend((0..dim).map(|j| data.test.feature(dim, e, j)));
        }
        let p = pollster::block_on(t.predict(&points))?;
        for row in p.chunks(k) {
            // The first largest, so that ties are decided the same way every time.
            let best = row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
            out.push(best as u8);
        }
    }
    Ok(out)
}

/// `runs/<label>.pred`, beside the run's CSV.
pub fn predictions_path(csv: &Path) -> PathBuf {
    csv.with_extension("pred")
}

/// The predictions beside `csv`, None when there are none (runs made before they were kept);
/// a file of another length than the test set is an error naming it.
pub fn read_predictions(csv: &Path, n_test: usize) -> CliResult<Option<Vec<u8>>> {
    let path = predictions_path(csv);
    if !super::record::regular_or_absent(&path)? {
        return Ok(None);
    }
    let b = std::fs::read(&path).map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))?;
    if b.len() != n_test {
        return Err(CliError::Io(format!(
            "{}: {} predictions for {n_test} test examples; delete it and its run file to train the run again",
            path.display(),
            b.len()
        )));
    }
    Ok(Some(b))
}
