//! The record of a run (`OUT/runs/<label>.json`, beside its CSV): every setting the run was
//! trained with, and the engine that trained it. `--resume` reuses a run file only when its
//! record matches this reproduction's settings exactly ([`differences`]); the engine is recorded
//! for the reader, not compared (a comment edit in a shader must not orphan hours of runs).
//!
//! The engine's version is the crate version and a hash of the engine's sources as compiled into
//! this binary ([`ENGINE_SOURCES`], through `include_str!`): it needs neither git nor a build
//! script, so it is the same in a clean clone, a tarball and a checkout. A test keeps the list
//! complete (`engine_sources_list_every_kernel_and_engine_file`).
//!
//! A sidecar, not a comment line in the CSV: the CSV stays what `cabs train --csv` writes, which
//! other readers (tests, the page's "load a run") parse without knowing about comments.
//! Not here: reading the CSV itself (`run.rs`).

use crate::error::{CliError, CliResult};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The environment variable that lets `--resume` adopt complete run files that predate records:
/// it writes their record from this reproduction's flags, marked as adopted (engine unknown).
/// Its value, unless `1`, is kept in the record as the runs' provenance (e.g. the commit that
/// trained them). Explicit on purpose: without it such files are refused.
pub const ADOPT_ENV: &str = "CABS_REPRODUCE_ADOPT";

/// Everything a run's numbers depend on (the flags of the reproduction, resolved: the backend is
/// `cpu` or `gpu`, never `auto`). Compared field by field by `--resume`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub data: String,
    pub train_examples: usize,
    pub test_examples: usize,
    pub model: String,
    /// The `--rule` string of the run.
    pub rule: String,
    pub alpha: f64,
    pub seed: u64,
    pub m_min: u32,
    pub m_max: u32,
    pub mu: f64,
    pub c: f64,
    pub eps: f64,
    pub unbiased: bool,
    pub bias_correction: bool,
    pub conv_norms: String,
    pub chunk: Option<u32>,
    pub backend: String,
    /// The example budget of the run (`--examples`) and its evaluation period; absent in a run
    /// budgeted by steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every_examples: Option<u64>,
    /// The step budget of the run (`--steps`) and its evaluation period (`--eval-every-steps`);
    /// absent in a run budgeted by examples (so that records written before steps budgets
    /// existed read and compare as they did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every_steps: Option<u64>,
}

/// The engine that trained a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineVersion {
    pub crate_version: String,
    /// FNV-1a 64 over [`ENGINE_SOURCES`], as `fnv1a64:<16 hex digits>`.
    pub source_hash: String,
    /// The device, as the results' header names it, e.g. "cpu (CPU engine)".
    pub device: String,
}

/// The sidecar of one run file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub label: String,
    pub settings: RunSettings,
    /// None for an adopted run (trained before records existed).
    pub engine: Option<EngineVersion>,
    /// Why the record was written after the run, for adopted runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted: Option<String>,
    /// How a run that diverged ended ("diverged at step 12: …"): its CSV stops before the budget
    /// on purpose, so `--resume` and `--assemble-only` take it as finished, not as killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
}

macro_rules! source {
    ($p:literal) => {
        ($p, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $p)))
    };
}

/// The shaders and the engine's sources (kernels, both engines, the step plan, the trainer, the
/// rule, the sampler, the training loop, the CSV row): what decides a run's numbers.
pub const ENGINE_SOURCES: &[(&str, &str)] = &[
    source!("build.rs"), // the shaders as the engine embeds them
    source!("shaders/inner_product_var.wgsl"),
    source!("shaders/inner_products.wgsl"),
    source!("shaders/bias_grad.wgsl"),
    source!("shaders/block8x8.wgsl"),
    source!("shaders/conv2d_backward_input.wgsl"),
    source!("shaders/conv2d_filter_grad.wgsl"),
    source!("shaders/conv2d_forward.wgsl"),
    source!("shaders/conv2d_grad_reduce.wgsl"),
    source!("shaders/conv2d_norms.wgsl"),
    source!("shaders/conv2d_norms_approx.wgsl"),
    source!("shaders/conv2d_norms_reduce.wgsl"),
    source!("shaders/conv_filter_operands.wgsl"),
    source!("shaders/conv_gemm.wgsl"),
    source!("shaders/conv_params.wgsl"),
    source!("shaders/crop_standardize.wgsl"),
    source!("shaders/gather_batch.wgsl"),
    source!("shaders/matmul.wgsl"),
    source!("shaders/max_pool_backward.wgsl"),
    source!("shaders/max_pool_forward.wgsl"),
    source!("shaders/per_example_norms.wgsl"),
    source!("shaders/reduce_stats.wgsl"),
    source!("shaders/sgd_update.wgsl"),
    source!("shaders/softmax_xent.wgsl"),
    source!("shaders/step.wgsl"),
    source!("src/bin/cabs/session.rs"),
    source!("src/cabs.rs"),
    source!("src/data/sampler.rs"),
    source!("src/engine/auto.rs"),
    source!("src/engine/cpu/conv.rs"),
    source!("src/engine/cpu/dense.rs"),
    source!("src/engine/cpu/mod.rs"),
    source!("src/engine/cpu/small.rs"),
    source!("src/engine/mod.rs"),
    source!("src/fast/conv.rs"),
    source!("src/fast/gemm.rs"),
    source!("src/fast/mod.rs"),
    source!("src/fast/pool.rs"),
    source!("src/gpu/context.rs"),
    source!("src/gpu/conv.rs"),
    source!("src/gpu/engine/builder.rs"),
    source!("src/gpu/engine/dispatch.rs"),
    source!("src/gpu/engine/mod.rs"),
    source!("src/gpu/engine/readback.rs"),
    source!("src/gpu/engine/step.rs"),
    source!("src/gpu/engine/stream.rs"),
    source!("src/gpu/kernels.rs"),
    source!("src/gpu/matmul.rs"),
    source!("src/gpu/mod.rs"),
    source!("src/gpu/small.rs"),
    source!("src/model.rs"),
    source!("src/model/epilogue.rs"),
    source!("src/plan/bindings.rs"),
    source!("src/plan/conv_norms.rs"),
    source!("src/plan/memory.rs"),
    source!("src/plan/mod.rs"),
    source!("src/plan/readback.rs"),
    source!("src/reference/inner_products.rs"),
    source!("src/reference/bias_grad.rs"),
    source!("src/reference/conv2d.rs"),
    source!("src/reference/crop_standardize.rs"),
    source!("src/reference/gather.rs"),
    source!("src/reference/matmul.rs"),
    source!("src/reference/max_pool.rs"),
    source!("src/reference/mod.rs"),
    source!("src/reference/per_example_norms.rs"),
    source!("src/reference/reduce_stats.rs"),
    source!("src/reference/sgd_update.rs"),
    source!("src/record.rs"),
    source!("src/reference/softmax_xent.rs"),
    source!("src/rng.rs"),
    source!("src/rules/adadamp.rs"),
    source!("src/rules/cabs.rs"),
    source!("src/rules/fixed.rs"),
    source!("src/rules/gns.rs"),
    source!("src/rules/grow.rs"),
    source!("src/rules/inner.rs"),
    source!("src/rules/mod.rs"),
    source!("src/trainer.rs"),
];

/// The folders whose every file must be in [`ENGINE_SOURCES`] (checked by a test).
#[cfg(test)]
pub const ENGINE_FOLDERS: &[&str] = &["shaders", "src/engine", "src/gpu", "src/reference", "src/fast", "src/plan"];

/// FNV-1a 64 over each file's path and text (stable across platforms and builds).
pub fn source_hash(sources: &[(&str, &str)]) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (path, text) in sources {
        for b in path.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    format!("fnv1a64:{h:016x}")
}

/// This binary's engine.
pub fn this_engine(device: &str) -> EngineVersion {
    EngineVersion { crate_version: env!("CARGO_PKG_VERSION").into(), source_hash: source_hash(ENGINE_SOURCES), device: device.into() }
}

/// The record's path beside a run file: `runs/<label>.json`.
pub fn record_path(csv: &Path) -> PathBuf {
    csv.with_extension("json")
}

/// Whether `path` exists; an error if it exists but is not a regular file (a FIFO would block
/// the reader or writer for ever, a device or folder is no run file). Checked before opening.
pub fn regular_or_absent(path: &Path) -> CliResult<bool> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CliError::Io(format!("cannot read {}: {e}", path.display()))),
        Ok(m) if m.is_file() => Ok(true),
        Ok(m) => Err(CliError::Io(format!(
            "{} is not a regular file (it is {}); remove it or choose another --out",
            path.display(),
            kind_of(&m.file_type())
        ))),
    }
}

fn kind_of(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "not a plain file"
    }
}

/// The record beside `csv`, None if there is none.
pub fn read_record(csv: &Path) -> CliResult<Option<Record>> {
    let path = record_path(csv);
    if !regular_or_absent(&path)? {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| CliError::Io(format!("{}: not a run record ({e}); delete it and its run file to train the run again", path.display())))
}

/// Written whole under a name of this process's own, then renamed into place: the jobs of one
/// set run at once (GNU parallel), and each reads the others' records as it starts (the engine
/// they resolved `auto` to), so a record being written must never be seen half-written (it
/// was: "not a run record (EOF while parsing…)" under load, failing that job).
pub fn write_record(csv: &Path, r: &Record) -> CliResult<()> {
    let path = record_path(csv);
    regular_or_absent(&path)?;
    let text = serde_json::to_string_pretty(r).map_err(|e| CliError::write(&path, e))? + "\n";
    let mut part = path.clone().into_os_string();
    part.push(format!(".part{}", std::process::id()));
    let part = PathBuf::from(part);
    std::fs::write(&part, text).map_err(|e| CliError::write(&part, e))?;
    std::fs::rename(&part, &path).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        CliError::write(&path, e)
    })
}

/// A setting as a message shows it: text without quotes; a setting one side lacks (a steps
/// budget beside an examples budget) as "none".
fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".into(),
        v => v.to_string(),
    }
}

/// The settings that differ, as `(name, recorded, wanted)`, by name.
pub fn differences(recorded: &RunSettings, wanted: &RunSettings) -> Vec<(String, String, String)> {
    let (a, b) = (serde_json::to_value(recorded), serde_json::to_value(wanted));
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (a, b) else {
        return vec![("settings".into(), format!("{recorded:?}"), format!("{wanted:?}"))];
    };
    // Every name either side has, in the record's order, then the wanted side's new ones.
    let null = serde_json::Value::Null;
    let names = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
    names
        .filter_map(|k| {
            let (va, vb) = (a.get(k).unwrap_or(&null), b.get(k).unwrap_or(&null));
            (va != vb).then(|| (k.clone(), shown(va), shown(vb)))
        })
        .collect()
}
