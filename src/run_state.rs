//! A run's whole state between two steps, so that a run can move between engines (GPU ⇄ CPU)
//! and a killed run can continue from a checkpoint.
//!
//! Owns: what a [`crate::trainer::Trainer`] carries from step to step — the weights, the rule's
//! running averages, the next batch size, the step and example counts, the data order (the
//! sampler's generator, permutation, position and epoch), the live α, a divergence that stopped
//! the run — plus what identifies the run (its [`TrainerConfig`] and the data set's
//! [`DataIdentity`]), which engines made it ([`EngineSpan`]), and the caller's evaluation
//! schedule ([`EvalSchedule`]: the trainer has none). The byte format ([`RunState::to_bytes`])
//! is versioned and checked by a CRC-32; reading it back gives the same state bit for bit.
//!
//! Does not own: the engine (the trainer builds one and loads the state into it), the data set
//! (only its identity is kept), or results already reported (step rows, evaluations).
//!
//! Continuing from a state is bit-identical to the run that exported it *within one engine*;
//! the GPU and the CPU engine round differently, so a run that moved is reproduced by naming
//! its engines and the steps at which it moved ([`RunState::engines`]).

use crate::cabs::RuleState;
use crate::data::sampler::SamplerState;
use crate::data::{Dataset, Features};
use crate::error::{CabsError, Result};
use crate::model::ModelSpec;
use crate::trainer::TrainerConfig;
use serde::{Deserialize, Serialize};

/// The first bytes of every run-state file.
pub const MAGIC: &[u8; 8] = b"CABSRUN\0";
/// The byte format this build writes and reads.
pub const VERSION: u32 = 1;

/// Which data set a state belongs to: sizes, name, and a CRC-32 over the labels and a sample of
/// the features (at most 256 KiB of them, so that it is cheap even for MNIST in the browser).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataIdentity {
    pub name: String,
    pub dim: u32,
    /// `[channels, height, width]` for images.
    pub image: Option<[u32; 3]>,
    pub classes: u32,
    pub n_train: u64,
    pub n_test: u64,
    pub fingerprint: u32,
}

impl DataIdentity {
    pub fn of(data: &Dataset) -> DataIdentity {
        let mut h = crc32fast::Hasher::new();
        for split in [&data.train, &data.test] {
            h.update(&(split.len() as u64).to_le_bytes());
            h.update(bytemuck::cast_slice(&split.labels));
            let bytes: &[u8] = match &split.features {
                Features::U8 { bytes, scale } => {
                    h.update(&scale.to_le_bytes());
                    bytes
                }
                Features::F32(v) => bytemuck::cast_slice(v),
            };
            // 4,096 blocks of 64 bytes spread evenly over the features (all of them when fewer).
            const BLOCK: usize = 64;
            let blocks = bytes.len().div_ceil(BLOCK);
            let step = blocks.div_ceil(4096).max(1);
            for b in (0..blocks).step_by(step) {
                h.update(&bytes[b * BLOCK..((b + 1) * BLOCK).min(bytes.len())]);
            }
        }
        DataIdentity {
            name: data.name.clone(),
            dim: data.dim,
            image: data.image.map(|i| [i.c, i.h, i.w]),
            classes: data.classes,
            n_train: data.train.len() as u64,
            n_test: data.test.len() as u64,
            fingerprint: h.finalize(),
        }
    }

    fn describe(&self) -> String {
        let image = self.image.map_or(String::new(), |[c, h, w]| format!(", {c}×{h}×{w} images"));
        format!(
            "'{}' ({} training and {} test examples of {} features{image}, {} classes, fingerprint {:08x})",
            self.name, self.n_train, self.n_test, self.dim, self.classes, self.fingerprint
        )
    }
}

/// From step `from_step` (0-based: the steps after it) the run ran on `engine` ("gpu" / "cpu").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSpan {
    pub from_step: u64,
    pub engine: String,
}

/// The caller's evaluation schedule (the CLI and the page evaluate; the trainer does not):
/// every `every` steps, next after step `next_step`. Carried, never interpreted, by the trainer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalSchedule {
    pub every: u64,
    pub next_step: u64,
}

/// A run's state between two steps; see the module header.
#[derive(Clone, Debug, PartialEq)]
pub struct RunState {
    /// The run's settings. `backend` and `chunk` say how the exporting trainer ran; a trainer
    /// importing the state may differ in those (and in the base `lr`: the live α is [`Self::lr`]).
    /// Read from bytes, `config.model` is rebuilt from the model's label: exact for every model
    /// a user can name (presets, `logreg`, `mlp:…`), not for a hand-built [`ModelSpec`], which
    /// the caller passes itself and [`Self::model_detail`] checks.
    pub config: TrainerConfig,
    /// The whole model description (every layer and initialiser), compared on import.
    pub model_detail: String,
    pub data: DataIdentity,
    /// The engines the run has used, oldest first; the last made this state.
    pub engines: Vec<EngineSpan>,
    pub params: Vec<f32>,
    pub rule: RuleState,
    pub sampler: SamplerState,
    /// α in force (changed live by `set_lr`; the base of a baseline's schedule).
    pub lr: f64,
    /// The size of the next batch.
    pub next_batch: u32,
    /// Steps done and examples seen.
    pub step: u64,
    pub examples: u64,
    /// The error that stopped the run (a divergence), if one did.
    pub failed: Option<CabsError>,
    /// Set by the caller; [`crate::trainer::Trainer::export_state`] leaves it None.
    pub eval: Option<EvalSchedule>,
}

/// The JSON part of the byte format: what identifies the run, and the few non-numeric fields.
#[derive(Serialize, Deserialize)]
struct Header {
    config: TrainerConfig,
    model_detail: String,
    data: DataIdentity,
    engines: Vec<EngineSpan>,
    failed: Option<Failure>,
    eval: Option<EvalSchedule>,
}

#[derive(Serialize, Deserialize)]
struct Failure {
    kind: String,
    message: String,
    step: u64,
}

impl Failure {
    fn of(e: &CabsError) -> Failure {
        let (kind, message, step) = match e {
            CabsError::Config(m) => ("config", m.clone(), 0),
            CabsError::Data(m) => ("data", m.clone(), 0),
            CabsError::Gpu(m) => ("gpu", m.clone(), 0),
            CabsError::Diverged { step, what } => ("diverged", what.clone(), *step),
            CabsError::Io(m) => ("io", m.clone(), 0),
        };
        Failure { kind: kind.into(), message, step }
    }

    fn error(self) -> CabsError {
        match self.kind.as_str() {
            "config" => CabsError::Config(self.message),
            "data" => CabsError::Data(self.message),
            "diverged" => CabsError::Diverged { step: self.step, what: self.message },
            "io" => CabsError::Io(self.message),
            _ => CabsError::Gpu(self.message),
        }
    }
}

fn corrupt<T>(why: impl std::fmt::Display) -> Result<T> {
    Err(CabsError::Data(format!("the run state cannot be read: {why}")))
}

/// Little-endian reader over the body; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        match self.at.checked_add(n).filter(|&end| end <= self.bytes.len()) {
            Some(end) => {
                let s = &self.bytes[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => corrupt(format!("it ends early (needs {n} bytes at offset {})", self.at)),
        }
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap_or_default()))
    }

    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }

    /// A length-prefixed array of 4-byte words.
    fn words(&mut self) -> Result<Vec<u32>> {
        let n = self.u64()?;
        let n = usize::try_from(n).ok().filter(|&n| n <= (self.bytes.len() - self.at) / 4);
        let Some(n) = n else { return corrupt("an array is longer than the file") };
        Ok(self.take(n * 4)?.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

impl RunState {
    /// The state as bytes: `MAGIC`, version (u32), header length (u32), the JSON header
    /// (configuration, data identity, engines, failure, evaluation schedule), then the numbers
    /// little-endian (weights as f32 bits, averages and α as f64 bits, the permutation), then a
    /// CRC-32 of everything before it.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = Header {
            config: self.config.clone(),
            model_detail: self.model_detail.clone(),
            data: self.data.clone(),
            engines: self.engines.clone(),
            failed: self.failed.as_ref().map(Failure::of),
            eval: self.eval,
        };
        let json = serde_json::to_vec(&header).map_err(|e| CabsError::Config(format!("the run state's settings: {e}")))?;
        let mut b = Vec::with_capacity(64 + json.len() + 4 * (self.params.len() + self.sampler.perm.len()));
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&(json.len() as u32).to_le_bytes());
        b.extend_from_slice(&json);
        let words = |b: &mut Vec<u8>, w: &[u32]| {
            b.extend_from_slice(&(w.len() as u64).to_le_bytes());
            w.iter().for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
        };
        words(&mut b, &self.params.iter().map(|p| p.to_bits()).collect::<Vec<_>>());
        for v in [self.rule.loss_avg.to_bits(), self.rule.xi_avg.to_bits(), self.rule.t] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let s = &self.sampler;
        for v in [s.rng, s.pos.unwrap_or(u64::MAX), s.epoch] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        words(&mut b, &s.perm);
        b.extend_from_slice(&self.lr.to_bits().to_le_bytes());
        b.extend_from_slice(&self.next_batch.to_le_bytes());
        b.extend_from_slice(&self.step.to_le_bytes());
        b.extend_from_slice(&self.examples.to_le_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        Ok(b)
    }

    /// Read [`Self::to_bytes`]'s output back, exactly. Refuses other files, a damaged state (by
    /// its checksum) and other versions, each with its own message. Whether the state fits a
    /// trainer is checked where it is loaded ([`Self::check_fits`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<RunState> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return corrupt("it is not a CABS run state (it does not start with \"CABSRUN\")");
        }
        let Some(body_end) = bytes.len().checked_sub(4).filter(|&e| e >= MAGIC.len() + 8) else {
            return corrupt("it is too short to be a run state");
        };
        let stored = u32::from_le_bytes([bytes[body_end], bytes[body_end + 1], bytes[body_end + 2], bytes[body_end + 3]]);
        let actual = crc32fast::hash(&bytes[..body_end]);
        if stored != actual {
            return corrupt(format!(
                "it is damaged (checksum stored {stored:08x}, computed {actual:08x}); use an intact copy or start the run again"
            ));
        }
        let mut r = Reader { bytes: &bytes[..body_end], at: MAGIC.len() };
        let version = r.u32()?;
        if version != VERSION {
            return corrupt(format!("it is version {version} of the format, and this build reads version {VERSION}"));
        }
        let json_len = r.u32()? as usize;
        let header: Header = serde_json::from_slice(r.take(json_len)?).or_else(|e| corrupt(format!("its settings: {e}")))?;
        let params = r.words()?.into_iter().map(f32::from_bits).collect();
        let rule = RuleState { loss_avg: r.f64()?, xi_avg: r.f64()?, t: r.u64()? };
        let (rng, pos, epoch) = (r.u64()?, r.u64()?, r.u64()?);
        let perm = r.words()?;
        let sampler = SamplerState { rng, perm, pos: (pos != u64::MAX).then_some(pos), epoch };
        let (lr, next_batch, step, examples) = (r.f64()?, r.u32()?, r.u64()?, r.u64()?);
        if r.at != r.bytes.len() {
            return corrupt(format!("{} unexpected bytes after the state", r.bytes.len() - r.at));
        }
        Ok(RunState {
            config: header.config,
            model_detail: header.model_detail,
            data: header.data,
            engines: header.engines,
            params,
            rule,
            sampler,
            lr,
            next_batch,
            step,
            examples,
            failed: header.failed.map(Failure::error),
            eval: header.eval,
        })
    }

    /// The engine that made this state ("gpu" / "cpu").
    pub fn engine(&self) -> &str {
        self.engines.last().map_or("", |s| s.engine.as_str())
    }

    /// Refuse a state that belongs to another run: other data, model, rule, seed or statistics
    /// settings. The message names both sides of every difference. The engine, its chunk and
    /// the base α may differ.
    pub fn check_fits(&self, cfg: &TrainerConfig, data: &DataIdentity) -> Result<()> {
        let (a, b) = (&self.config, cfg);
        let mut diffs = Vec::new();
        if self.data != *data {
            diffs.push(format!("data {} ≠ {}", self.data.describe(), data.describe()));
        }
        for (what, x, y) in [
            ("model", json(&a.model), json(&b.model)),
            ("rule", json(&a.rule), json(&b.rule)),
            ("seed", json(&a.seed), json(&b.seed)),
            ("statistics", json(&a.with_stats), json(&b.with_stats)),
            ("conv norms", json(&a.conv_norms), json(&b.conv_norms)),
        ] {
            if x != y {
                diffs.push(format!("{what} {x} ≠ {y}"));
            }
        }
        if diffs.is_empty() && self.model_detail != model_detail(&b.model) {
            diffs.push(format!("model {} ≠ {}", self.model_detail, model_detail(&b.model)));
        }
        if diffs.is_empty() {
            return Ok(());
        }
        Err(CabsError::Config(format!(
            "this run state belongs to another run (the state's ≠ this trainer's): {}; start the trainer with the state's settings",
            diffs.join("; ")
        )))
    }
}

/// A model's every field, as text (its label alone leaves out hand-built layers).
pub fn model_detail(m: &ModelSpec) -> String {
    format!("{m:?}")
}

/// JSON text of a setting, for comparing and naming settings of different types in one list.
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("<{e}>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cabs::{CabsConfig, LrSchedule, Rule};
    use crate::data::Split;
    use crate::engine::{BackendChoice, ConvNorms};
    use crate::model::ModelSpec;

    fn data(name: &str, n: usize) -> Dataset {
        let split = |n: usize| Split { features: Features::F32((0..2 * n).map(|i| i as f32 * 0.1).collect()), labels: vec![1; n] };
        Dataset { name: name.into(), dim: 2, image: None, classes: 2, train: split(n), test: split(3) }
    }

    fn cfg(model: &str) -> TrainerConfig {
        TrainerConfig {
            model: ModelSpec::parse(model).unwrap(),
            rule: Rule::Cabs(CabsConfig { mu: 0.9, c: 0.7, m_min: 4, m_max: 8, ..CabsConfig::default() }),
            lr: 0.1,
            seed: 3,
            backend: BackendChoice::Cpu,
            with_stats: true,
            conv_norms: ConvNorms::Exact,
            chunk: None,
        }
    }

    fn state() -> RunState {
        RunState {
            config: cfg("mlp:4"),
            model_detail: model_detail(&ModelSpec::parse("mlp:4").unwrap()),
            data: DataIdentity::of(&data("pts", 10)),
            engines: vec![EngineSpan { from_step: 0, engine: "cpu".into() }, EngineSpan { from_step: 2, engine: "gpu".into() }],
            params: vec![0.1, -0.0, f32::MIN_POSITIVE, 1e-42, 3.5],
            rule: RuleState { loss_avg: 0.1 + 0.2, xi_avg: 1.0 / 3.0, t: 3 },
            sampler: SamplerState { rng: u64::MAX - 1, perm: (0..10).rev().collect(), pos: Some(8), epoch: 2 },
            lr: 0.1 * 3.0,
            next_batch: 6,
            step: 3,
            examples: 18,
            failed: Some(CabsError::Diverged { step: 4, what: "the loss is NaN".into() }),
            eval: Some(EvalSchedule { every: 5, next_step: 5 }),
        }
    }

    #[test]
    fn bytes_round_trip_exactly() {
        let mut s = state();
        assert_eq!(RunState::from_bytes(&s.to_bytes().unwrap()).unwrap(), s);
        // The other shapes of each field: no batch drawn yet, no failure, a baseline's schedule.
        s.sampler = SamplerState { rng: 7, perm: Vec::new(), pos: None, epoch: 0 };
        (s.failed, s.eval) = (None, None);
        s.config.rule = Rule::Constant { m: 4, schedule: LrSchedule::Step { every: 3, factor: 0.1 + 0.7 } };
        s.config.lr = 0.1 + 0.2;
        let back = RunState::from_bytes(&s.to_bytes().unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.config.lr.to_bits(), (0.1f64 + 0.2).to_bits(), "settings read back bit for bit");
    }

    #[test]
    fn every_damaged_byte_is_refused_with_the_checksum_named() {
        let b = state().to_bytes().unwrap();
        for i in MAGIC.len()..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            let e = RunState::from_bytes(&c).unwrap_err().to_string();
            assert!(e.contains("damaged") && e.contains("checksum"), "byte {i}: {e}");
        }
        let e = RunState::from_bytes(&b[..b.len() - 9]).unwrap_err().to_string();
        assert!(e.contains("damaged"), "a truncated state: {e}");
        let e = RunState::from_bytes(b"PK\x03\x04 a zip file").unwrap_err().to_string();
        assert!(e.contains("not a CABS run state"), "{e}");
    }

    #[test]
    fn another_version_is_refused_by_name() {
        let mut b = state().to_bytes().unwrap();
        b[8..12].copy_from_slice(&2u32.to_le_bytes());
        let end = b.len() - 4;
        let crc = crc32fast::hash(&b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
        let e = RunState::from_bytes(&b).unwrap_err().to_string();
        assert!(e.contains("version 2") && e.contains("reads version 1"), "{e}");
    }

    #[test]
    fn a_state_for_another_run_is_refused_naming_both() {
        let s = state();
        let here = DataIdentity::of(&data("pts", 10));
        s.check_fits(&cfg("mlp:4"), &here).unwrap();
        let e = s.check_fits(&cfg("mlp:5"), &here).unwrap_err().to_string();
        assert!(e.contains("model \"mlp:4\" ≠ \"mlp:5\""), "{e}");
        let e = s.check_fits(&cfg("mlp:4"), &DataIdentity::of(&data("pts", 11))).unwrap_err().to_string();
        assert!(e.contains("10 training") && e.contains("11 training"), "{e}");
        let mut other = data("pts", 10);
        other.train.labels[9] = 0;
        let e = s.check_fits(&cfg("mlp:4"), &DataIdentity::of(&other)).unwrap_err().to_string();
        assert!(e.contains("fingerprint"), "same sizes, other labels: {e}");
        let mut c = cfg("mlp:4");
        (c.backend, c.chunk, c.lr) = (BackendChoice::Gpu, Some(2), 0.5);
        s.check_fits(&c, &here).expect("engine, chunk and base α may differ");
        c.seed = 4;
        assert!(s.check_fits(&c, &here).unwrap_err().to_string().contains("seed 3 ≠ 4"));
        // Same label, other layers (a hand-built model): told apart by the full description.
        let mut c = cfg("mlp:4");
        c.model.init = vec![crate::model::LayerInit { weight_std: 0.1, bias: 0.0 }; 2];
        let e = s.check_fits(&c, &here).unwrap_err().to_string();
        assert!(e.contains("weight_std: 0.1"), "{e}");
    }
}
