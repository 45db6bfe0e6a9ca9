//! A grid any scheduler can run: `--emit-jobs FILE` writes one command line per run, and each
//! line is this same `cabs reproduce` command with `--run LABEL`, which trains exactly that run
//! (the same code path, CSV columns, record and predictions as a whole reproduction) and nothing
//! else. GNU parallel, `xargs -P`, a Slurm array or a shell loop can run the file; then
//! `reproduce … --resume` (or `--assemble-only`) builds the tables from the finished runs.
//!
//! The file is plain: one command per line, no comments, so that line N is job N for a Slurm
//! array (`sed -n "${SLURM_ARRAY_TASK_ID}p" FILE | bash`). The decay runs depend on the grid's
//! results (the best α of each batch size): they are emitted only once the grid's runs are
//! complete in `--out`; until then the command says so and how to emit them.
//! Not here: training (`run.rs`), the flags (`options.rs`).

use super::plan::RunSpec;
use crate::error::{CliError, CliResult};
use std::path::Path;

/// The flags a job line leaves out of the command that emitted it (with whether each takes a
/// value): the job sets its own `--run`, `--backend` and `--out`, runs one run (no `--jobs`),
/// and always reuses a finished run (no `--resume` needed).
const DROPPED: &[(&str, bool)] =
    &[("emit-jobs", true), ("run", true), ("jobs", true), ("backend", true), ("out", true), ("resume", false), ("assemble-only", false)];

/// A word as a POSIX shell reads it back unchanged: plain when it is only safe characters, else
/// in single quotes.
pub fn shell_word(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+@%".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// The command line of one job: `args` (the emitting command's, program first) without the
/// [`DROPPED`] flags, then `--backend BACKEND --out OUT --run LABEL`. `--flag value` and
/// `--flag=value` are both understood.
pub fn job_line(args: &[String], backend: &str, out: &Path, label: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut it = args.iter();
    if let Some(program) = it.next() {
        words.push(program.clone());
    }
    while let Some(a) = it.next() {
        let name = a.strip_prefix("--").map(|n| n.split('=').next().unwrap_or(n));
        if let Some(&(_, takes_value)) = name.and_then(|n| DROPPED.iter().find(|d| d.0 == n)) {
            if takes_value && !a.contains('=') {
                it.next();
            }
            continue;
        }
        words.push(a.clone());
    }
    words.extend(["--backend".into(), backend.into(), "--out".into(), out.display().to_string(), "--run".into(), label.into()]);
    words.iter().map(|w| shell_word(w)).collect::<Vec<_>>().join(" ")
}

/// Write the jobs file: one line per run of `specs`.
pub fn write_jobs(file: &Path, args: &[String], backend: &str, out: &Path, specs: &[RunSpec]) -> CliResult<()> {
    super::record::regular_or_absent(file)?;
    let text: String = specs.iter().map(|s| job_line(args, backend, out, &s.label()) + "\n").collect();
    std::fs::write(file, text).map_err(|e| CliError::write(file, e))
}
