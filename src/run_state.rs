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

use crate::data::sampler::SamplerState;
use crate::data::{Dataset, Features};
use crate::engine::{BackendChoice, ConvNorms};
use crate::error::{CabsError, Result};
use crate::learning_rate::LearningRate;
use crate::model::ModelSpec;
use crate::rules::{AdaDamp, CabsConfig, Gns, Grow, InnerTest, LrSchedule, NormTest, Rule, RuleState};
use crate::trainer::TrainerConfig;
use serde::Serialize;

/// The first bytes of every run-state file.
pub const MAGIC: &[u8; 8] = b"CABSRUN\0";
/// The byte format this build writes and reads.
pub const VERSION: u32 = 3;

/// Which data set a state belongs to: sizes, name, and a CRC-32 over the labels and a sample of
/// the features (at most 256 KiB of them, so that it is cheap even for MNIST in the browser).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EngineSpan {
    pub from_step: u64,
    pub engine: String,
}

/// The caller's evaluation schedule (the CLI and the page evaluate; the trainer does not):
/// every `every` steps, next after step `next_step`. Carried, never interpreted, by the trainer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// The longest text a state may carry (a model's description is a few KiB at most).
const MAX_TEXT: usize = 1 << 20;

fn corrupt<T>(why: impl std::fmt::Display) -> Result<T> {
    Err(CabsError::Data(format!("the run state cannot be read: {why}")))
}

/// Little-endian writer of the body (the reverse of [`Reader`]).
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// Floats as their bits: exact, NaN payloads and −0 included.
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }

    fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }

    /// UTF-8 after its length (u32), at most [`MAX_TEXT`] bytes.
    fn text(&mut self, what: &str, s: &str) -> Result<()> {
        if s.len() > MAX_TEXT {
            return Err(CabsError::Config(format!("the run state's {what} is {} bytes long, more than {MAX_TEXT}", s.len())));
        }
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// A length-prefixed (u64) array of 4-byte words.
    fn words(&mut self, w: impl ExactSizeIterator<Item = u32>) {
        self.u64(w.len() as u64);
        w.for_each(|v| self.u32(v));
    }
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

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
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

    /// A one-byte tag below `n`, else an error naming `what` and the tag.
    fn tag(&mut self, what: &str, n: u8) -> Result<u8> {
        let at = self.at;
        match self.u8()? {
            t if t < n => Ok(t),
            t => corrupt(format!("{what} has the unknown tag {t} at offset {at}")),
        }
    }

    fn bool(&mut self, what: &str) -> Result<bool> {
        Ok(self.tag(what, 2)? == 1)
    }

    fn option<T>(&mut self, what: &str, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        if self.bool(what)? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

    fn text(&mut self, what: &str) -> Result<String> {
        let at = self.at;
        let n = self.u32()? as usize;
        if n > MAX_TEXT {
            return corrupt(format!("{what} at offset {at} claims {n} bytes, more than {MAX_TEXT}"));
        }
        match std::str::from_utf8(self.take(n)?) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => corrupt(format!("{what} at offset {at} is not UTF-8 ({e})")),
        }
    }

    /// A length-prefixed array of 4-byte words.
    fn words(&mut self) -> Result<Vec<u32>> {
        let n = self.u64()?;
        let n = usize::try_from(n).ok().filter(|&n| n <= (self.bytes.len() - self.at) / 4);
        let Some(n) = n else { return corrupt("an array is longer than the file") };
        Ok(self.take(n * 4)?.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

// The header's fields, written and read by hand: a JSON header would bring serde_json's reader
// into the wasm (about 57 KB gzipped) for a few dozen numbers and strings. Enums are one tag
// byte each; the tags below are part of the format (change them only with VERSION).

fn write_config(w: &mut Writer, c: &TrainerConfig) -> Result<()> {
    // The model by its label, rebuilt by the model parser (see `RunState::config`).
    w.text("model", &c.model.label())?;
    match &c.rule {
        Rule::Cabs(k) => {
            w.u8(0);
            [k.mu, k.c, k.eps].into_iter().for_each(|v| w.f64(v));
            w.u32(k.m_min);
            w.u32(k.m_max);
            w.bool(k.unbiased);
            w.bool(k.bias_correction);
        }
        Rule::Constant { m, schedule } => {
            w.u8(1);
            w.u32(*m);
            match *schedule {
                LrSchedule::Constant => w.u8(0),
                LrSchedule::Step { every, factor } => {
                    w.u8(1);
                    w.u64(every);
                    w.f64(factor);
                }
                LrSchedule::InverseTime { k } => {
                    w.u8(2);
                    w.f64(k);
                }
            }
        }
        // The adaptive rules of format 3: a tag, the parameter(s), then m_min and m_max.
        Rule::Norm(r) => {
            w.u8(2);
            w.f64(r.theta);
            w.u32(r.m_min);
            w.u32(r.m_max);
        }
        Rule::Inner(r) => {
            w.u8(3);
            w.f64(r.theta);
            w.u32(r.m_min);
            w.u32(r.m_max);
        }
        Rule::Gns(r) => {
            w.u8(4);
            w.f64(r.k);
            w.u32(r.m_min);
            w.u32(r.m_max);
        }
        Rule::AdaDamp(r) => {
            w.u8(5);
            w.u32(r.m0);
            w.u32(r.m_min);
            w.u32(r.m_max);
        }
        Rule::Grow(r) => {
            w.u8(6);
            w.u32(r.m0);
            w.u64(r.every);
            w.f64(r.factor);
            w.u32(r.m_min);
            w.u32(r.m_max);
        }
    }
    w.f64(c.lr.get());
    w.u64(c.seed);
    w.u8(match c.backend {
        BackendChoice::Auto => 0,
        BackendChoice::Gpu => 1,
        BackendChoice::Cpu => 2,
    });
    w.bool(c.with_stats);
    w.u8(match c.conv_norms {
        ConvNorms::Exact => 0,
        ConvNorms::Both => 1,
        ConvNorms::Reference => 2,
    });
    w.bool(c.chunk.is_some());
    c.chunk.into_iter().for_each(|v| w.u32(v));
    Ok(())
}

fn read_config(r: &mut Reader) -> Result<TrainerConfig> {
    let label = r.text("the model")?;
    let model = ModelSpec::parse(&label).or_else(|e| corrupt(format!("its model \"{label}\": {e}")))?;
    let rule = match r.tag("the rule", 7)? {
        0 => Rule::Cabs(CabsConfig {
            mu: r.f64()?,
            c: r.f64()?,
            eps: r.f64()?,
            m_min: r.u32()?,
            m_max: r.u32()?,
            unbiased: r.bool("the rule's 'unbiased'")?,
            bias_correction: r.bool("the rule's 'bias correction'")?,
        }),
        1 => {
            let m = r.u32()?;
            let schedule = match r.tag("the learning-rate schedule", 3)? {
                0 => LrSchedule::Constant,
                1 => LrSchedule::Step { every: r.u64()?, factor: r.f64()? },
                _ => LrSchedule::InverseTime { k: r.f64()? },
            };
            Rule::Constant { m, schedule }
        }
        2 => Rule::Norm(NormTest { theta: r.f64()?, m_min: r.u32()?, m_max: r.u32()? }),
        3 => Rule::Inner(InnerTest { theta: r.f64()?, m_min: r.u32()?, m_max: r.u32()? }),
        4 => Rule::Gns(Gns { k: r.f64()?, m_min: r.u32()?, m_max: r.u32()? }),
        5 => Rule::AdaDamp(AdaDamp { m0: r.u32()?, m_min: r.u32()?, m_max: r.u32()? }),
        _ => Rule::Grow(Grow { m0: r.u32()?, every: r.u64()?, factor: r.f64()?, m_min: r.u32()?, m_max: r.u32()? }),
    };
    let (lr, seed) = (r.f64()?, r.u64()?);
    // The file is a boundary: its α becomes a checked one here, as a flag's or a setting's does.
    let lr = match LearningRate::new(lr) {
        Ok(lr) => lr,
        Err(CabsError::Config(why)) => return corrupt(format!("its configuration's α: {why}")),
        Err(e) => return Err(e),
    };
    let backend = [BackendChoice::Auto, BackendChoice::Gpu, BackendChoice::Cpu][r.tag("the backend", 3)? as usize];
    let with_stats = r.bool("'with statistics'")?;
    let conv_norms = [ConvNorms::Exact, ConvNorms::Both, ConvNorms::Reference][r.tag("the conv norms", 3)? as usize];
    let chunk = r.option("the chunk", Reader::u32)?;
    Ok(TrainerConfig { model, rule, lr, seed, backend, with_stats, conv_norms, chunk })
}

fn write_data(w: &mut Writer, d: &DataIdentity) -> Result<()> {
    w.text("data set's name", &d.name)?;
    w.u32(d.dim);
    w.bool(d.image.is_some());
    d.image.into_iter().flatten().for_each(|v| w.u32(v));
    w.u32(d.classes);
    w.u64(d.n_train);
    w.u64(d.n_test);
    w.u32(d.fingerprint);
    Ok(())
}

fn read_data(r: &mut Reader) -> Result<DataIdentity> {
    let name = r.text("the data set's name")?;
    let dim = r.u32()?;
    let image = r.option("the image shape", |r| Ok([r.u32()?, r.u32()?, r.u32()?]))?;
    Ok(DataIdentity { name, dim, image, classes: r.u32()?, n_train: r.u64()?, n_test: r.u64()?, fingerprint: r.u32()? })
}

/// The error that stopped the run: a tag per [`CabsError`] variant, its text, and the step of a
/// divergence.
fn write_failure(w: &mut Writer, e: &CabsError) -> Result<()> {
    let (tag, message, step) = match e {
        CabsError::Config(m) => (0, m, 0),
        CabsError::Data(m) => (1, m, 0),
        CabsError::Gpu(m) => (2, m, 0),
        CabsError::Diverged { step, what } => (3, what, *step),
        CabsError::Io(m) => (4, m, 0),
    };
    w.u8(tag);
    w.text("failure", message)?;
    if tag == 3 {
        w.u64(step);
    }
    Ok(())
}

fn read_failure(r: &mut Reader) -> Result<CabsError> {
    let tag = r.tag("the failure", 5)?;
    let message = r.text("the failure's message")?;
    Ok(match tag {
        0 => CabsError::Config(message),
        1 => CabsError::Data(message),
        2 => CabsError::Gpu(message),
        3 => CabsError::Diverged { step: r.u64()?, what: message },
        _ => CabsError::Io(message),
    })
}

impl RunState {
    /// The state as bytes: `MAGIC`, version (u32), the header written field by field
    /// (configuration, model description, data identity, engines, failure, evaluation schedule:
    /// numbers little-endian, floats as their bits, text as length + UTF-8, enums and options as
    /// a tag byte), then the numbers (weights as f32 bits, averages and α as f64 bits, the
    /// permutation), then a CRC-32 of everything before it.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut w = Writer(Vec::with_capacity(512 + self.model_detail.len() + 4 * (self.params.len() + self.sampler.perm.len())));
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        write_config(&mut w, &self.config)?;
        w.text("model description", &self.model_detail)?;
        write_data(&mut w, &self.data)?;
        w.u32(self.engines.len() as u32);
        for s in &self.engines {
            w.u64(s.from_step);
            w.text("engine", &s.engine)?;
        }
        w.bool(self.failed.is_some());
        if let Some(e) = &self.failed {
            write_failure(&mut w, e)?;
        }
        w.bool(self.eval.is_some());
        if let Some(e) = self.eval {
            w.u64(e.every);
            w.u64(e.next_step);
        }
        w.words(self.params.iter().map(|p| p.to_bits()));
        let rs = &self.rule;
        [rs.loss_avg.to_bits(), rs.xi_avg.to_bits(), rs.t, rs.first_loss_avg.to_bits(), rs.g2_avg.to_bits()]
            .into_iter()
            .for_each(|v| w.u64(v));
        let s = &self.sampler;
        [s.rng, s.pos.unwrap_or(u64::MAX), s.epoch].into_iter().for_each(|v| w.u64(v));
        w.words(s.perm.iter().copied());
        w.f64(self.lr);
        w.u32(self.next_batch);
        w.u64(self.step);
        w.u64(self.examples);
        let crc = crc32fast::hash(&w.0);
        w.u32(crc);
        Ok(w.0)
    }

    /// Read [`Self::to_bytes`]'s output back, exactly. Refuses other files, a damaged state (by
    /// its checksum) and other versions, each with its own message. Whether the state fits a
    /// trainer is checked where it is loaded ([`Self::check_fits`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<RunState> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return corrupt("it is not a CABS run state (it does not start with \"CABSRUN\")");
        }
        let Some(body_end) = bytes.len().checked_sub(4).filter(|&e| e >= MAGIC.len() + 4) else {
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
            let by = if version < VERSION { "an older" } else { "a newer" };
            return corrupt(format!(
                "it is version {version} of the format, made by {by} build, and this build reads version {VERSION}; \
                 continue it with the build that made it or start the run again"
            ));
        }
        let config = read_config(&mut r)?;
        let model_detail = r.text("the model description")?;
        let data = read_data(&mut r)?;
        let n = r.u32()? as usize;
        // Each span takes at least 12 bytes: refuse a count the file cannot hold before allocating.
        if n > (r.bytes.len() - r.at) / 12 {
            return corrupt(format!("it claims {n} engine spans, more than the file holds"));
        }
        let mut engines = Vec::with_capacity(n);
        for _ in 0..n {
            engines.push(EngineSpan { from_step: r.u64()?, engine: r.text("an engine's name")? });
        }
        let failed = r.option("the failure", read_failure)?;
        let eval = r.option("the evaluation schedule", |r| Ok(EvalSchedule { every: r.u64()?, next_step: r.u64()? }))?;
        let params = r.words()?.into_iter().map(f32::from_bits).collect();
        let rule = RuleState { loss_avg: r.f64()?, xi_avg: r.f64()?, t: r.u64()?, first_loss_avg: r.f64()?, g2_avg: r.f64()? };
        let (rng, pos, epoch) = (r.u64()?, r.u64()?, r.u64()?);
        let perm = r.words()?;
        let sampler = SamplerState { rng, perm, pos: (pos != u64::MAX).then_some(pos), epoch };
        let (lr, next_batch, step, examples) = (r.f64()?, r.u32()?, r.u64()?, r.u64()?);
        if r.at != r.bytes.len() {
            return corrupt(format!("{} unexpected bytes after the state", r.bytes.len() - r.at));
        }
        Ok(RunState { config, model_detail, data, engines, params, rule, sampler, lr, next_batch, step, examples, failed, eval })
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
    use crate::data::Split;

    fn data(name: &str, n: usize) -> Dataset {
        let split = |n: usize| Split { features: Features::F32((0..2 * n).map(|i| i as f32 * 0.1).collect()), labels: vec![1; n] };
        Dataset { name: name.into(), dim: 2, image: None, classes: 2, train: split(n), test: split(3) }
    }

    fn cfg(model: &str) -> TrainerConfig {
        TrainerConfig {
            model: ModelSpec::parse(model).unwrap(),
            rule: Rule::Cabs(CabsConfig { mu: 0.9, c: 0.7, m_min: 4, m_max: 8, ..CabsConfig::default() }),
            lr: LearningRate::new(0.1).unwrap(),
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
            rule: RuleState { loss_avg: 0.1 + 0.2, xi_avg: 1.0 / 3.0, t: 3, first_loss_avg: 2.0 / 3.0, g2_avg: -1e-300 },
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
        s.config.lr = LearningRate::new(0.1 + 0.2).unwrap();
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

    /// `b` with its checksum made right again: what the body's own checks must refuse.
    fn resealed(mut b: Vec<u8>) -> Vec<u8> {
        let end = b.len() - 4;
        let crc = crc32fast::hash(&b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// `b`'s body cut to `len` bytes, sealed with a right checksum.
    fn cut(b: &[u8], len: usize) -> Vec<u8> {
        let mut c = b[..len].to_vec();
        c.extend_from_slice(&[0; 4]);
        resealed(c)
    }

    #[test]
    fn another_version_is_refused_by_name() {
        for (v, by) in [(2u32, "older"), (4, "newer")] {
            let mut b = state().to_bytes().unwrap();
            b[8..12].copy_from_slice(&v.to_le_bytes());
            let e = RunState::from_bytes(&resealed(b)).unwrap_err().to_string();
            assert!(e.contains(&format!("version {v}")) && e.contains(by) && e.contains("reads version 3"), "{e}");
        }
    }

    #[test]
    fn every_field_round_trips_in_every_shape() {
        let mut s = state();
        // Floats whose text form is lossy or special: their bits come back.
        s.params = vec![f32::from_bits(0x7fc0_1234), f32::NEG_INFINITY, -0.0, f32::from_bits(1)];
        (s.rule.loss_avg, s.rule.xi_avg, s.lr) = (f64::from_bits(0x7ff8_0000_0000_0abc), -0.0, 5e-324);
        s.data.image = Some([3, 32, 32]);
        s.data.name = "CIFAR-10 «échantillon» ✓".into();
        s.model_detail = "x".repeat(5000);
        let rules = [
            Rule::Cabs(CabsConfig {
                mu: 0.1 + 0.2,
                c: 1e-300,
                eps: 1.0 / 3.0,
                m_min: 1,
                m_max: u32::MAX,
                unbiased: true,
                bias_correction: false,
            }),
            Rule::Cabs(CabsConfig { unbiased: false, bias_correction: true, ..CabsConfig::default() }),
            Rule::Constant { m: 7, schedule: LrSchedule::Constant },
            Rule::Constant { m: 7, schedule: LrSchedule::Step { every: u64::MAX, factor: 0.1 + 0.7 } },
            Rule::Constant { m: 7, schedule: LrSchedule::InverseTime { k: 1e-7 } },
            Rule::Norm(NormTest { theta: 0.1 + 0.2, m_min: 3, m_max: u32::MAX }),
            Rule::Inner(InnerTest { theta: 1e-300, m_min: 1, m_max: 9 }),
            Rule::Gns(Gns { k: 1.0 / 3.0, m_min: 2, m_max: 5 }),
            Rule::AdaDamp(AdaDamp { m0: 17, m_min: 16, m_max: 18 }),
            Rule::Grow(Grow { m0: 4, every: u64::MAX, factor: 1.0 + 1e-15, m_min: 4, m_max: 1 << 20 }),
        ];
        let failures = [
            None,
            Some(CabsError::Config("c".into())),
            Some(CabsError::Data("d".into())),
            Some(CabsError::Gpu("g".into())),
            Some(CabsError::Diverged { step: u64::MAX, what: "ξ is ∞".into() }),
            Some(CabsError::Io(String::new())),
        ];
        for (i, rule) in rules.into_iter().enumerate() {
            s.config.rule = rule;
            s.config.backend = [BackendChoice::Auto, BackendChoice::Gpu, BackendChoice::Cpu][i % 3];
            s.config.conv_norms = [ConvNorms::Exact, ConvNorms::Both, ConvNorms::Reference][i % 3];
            (s.config.with_stats, s.config.chunk, s.config.seed) = (i % 2 == 0, [None, Some(0), Some(u32::MAX)][i % 3], i as u64);
            s.config.model = ModelSpec::parse(["mlp:4", "logreg", "mlp:8,3:tanh"][i % 3]).unwrap();
            s.failed = failures[i % failures.len()].clone();
            s.eval = (i % 2 == 1).then_some(EvalSchedule { every: 1 + i as u64, next_step: u64::MAX });
            s.engines = (0..i as u64).map(|k| EngineSpan { from_step: k * 10, engine: ["cpu", "gpu"][k as usize % 2].into() }).collect();
            let b = s.to_bytes().unwrap();
            let back = RunState::from_bytes(&b).unwrap();
            assert_eq!(format!("{back:?}"), format!("{s:?}"), "shape {i}");
            assert_eq!(back.to_bytes().unwrap(), b, "shape {i}: written again, the same bytes (NaNs' bits included)");
        }
        // A failure on its own, after the loop's last shape.
        s.failed = failures[5].clone();
        assert_eq!(RunState::from_bytes(&s.to_bytes().unwrap()).unwrap().failed, failures[5]);
    }

    #[test]
    fn every_truncated_body_and_extra_bytes_are_refused() {
        let b = state().to_bytes().unwrap();
        let body = b.len() - 4;
        // Cut anywhere and resealed, so that the checksum passes: the reader itself must stop.
        for len in MAGIC.len()..body {
            let e = RunState::from_bytes(&cut(&b, len)).unwrap_err().to_string();
            assert!(
                e.contains("ends early") || e.contains("too short") || e.contains("more than") || e.contains("longer than the file"),
                "cut at {len}: {e}"
            );
        }
        let mut longer = b[..body].to_vec();
        longer.extend_from_slice(&[0; 5 + 4]); // 5 extra bytes, then room for the checksum
        let e = RunState::from_bytes(&resealed(longer)).unwrap_err().to_string();
        assert!(e.contains("5 unexpected bytes"), "{e}");
        // And a whole prefix, checksum not resealed: refused as damaged or too short.
        for len in 0..b.len() {
            assert!(RunState::from_bytes(&b[..len]).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn every_flipped_byte_resealed_is_refused_or_read_without_panic() {
        // With the checksum made right, a flipped byte either changes a value (the state reads
        // as another one) or breaks the structure: then a clear error, never a panic.
        let b = state().to_bytes().unwrap();
        let mut refused = 0;
        for i in MAGIC.len()..b.len() - 4 {
            let mut c = b.clone();
            c[i] ^= 0x81;
            match RunState::from_bytes(&resealed(c)) {
                Ok(s) => assert_ne!(s, state(), "byte {i} changed nothing"),
                Err(e) => {
                    assert!(e.to_string().starts_with("the run state cannot be read") || e.to_string().contains("run state"), "{e}");
                    refused += 1;
                }
            }
        }
        assert!(refused > 10, "only {refused} flips refused");
    }

    #[test]
    fn unknown_tags_and_bad_text_are_refused_by_name() {
        let b = state().to_bytes().unwrap();
        // The model's label comes first after the version: u32 length, then "mlp:4".
        assert_eq!(&b[12..16], &5u32.to_le_bytes());
        assert_eq!(&b[16..21], b"mlp:4");
        let mut c = b.clone();
        c[21] = 9; // the rule's tag
        let e = RunState::from_bytes(&resealed(c)).unwrap_err().to_string();
        assert!(e.contains("the rule has the unknown tag 9 at offset 21"), "{e}");
        let mut c = b.clone();
        c[16..21].copy_from_slice(b"mlp:x");
        let e = RunState::from_bytes(&resealed(c)).unwrap_err().to_string();
        assert!(e.contains("its model \"mlp:x\""), "{e}");
        let mut c = b.clone();
        c[16] = 0xff;
        let e = RunState::from_bytes(&resealed(c)).unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
        let mut c = b.clone();
        c[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = RunState::from_bytes(&resealed(c)).unwrap_err().to_string();
        assert!(e.contains("claims 4294967295 bytes"), "{e}");
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
        (c.backend, c.chunk, c.lr) = (BackendChoice::Gpu, Some(2), LearningRate::new(0.5).unwrap());
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
