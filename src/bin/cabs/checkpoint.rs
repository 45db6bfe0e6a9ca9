//! Run-state files on disk, shared by `cabs train --checkpoint/--resume-from` and `cabs reproduce`
//! (`OUT/runs/<label>.ckpt`): one format, the library's [`RunState`] bytes, written atomically.
//! Not here: when to save, or what must match before a saved run continues (each caller's own
//! checks: `train.rs`, `reproduce/run.rs`).

use crate::error::{CliError, CliResult};
use cabs::run_state::{EvalSchedule, RunState};
use cabs::trainer::Trainer;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `FILE.tmp`, next to `FILE` (same file system, so that the rename is atomic).
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "checkpoint".into());
    name.push(".tmp");
    path.with_file_name(name)
}

/// Save the trainer's state with the caller's evaluation schedule: written to `FILE.tmp`,
/// synced, then renamed over `FILE`, so that a kill at any moment leaves the old or the new
/// checkpoint whole, never half of one.
pub fn save(trainer: &Trainer, eval: EvalSchedule, path: &Path) -> CliResult<()> {
    let mut state = pollster::block_on(trainer.export_state())?;
    state.eval = Some(eval);
    let bytes = state.to_bytes()?;
    let tmp = tmp_path(path);
    let mut f = File::create(&tmp).map_err(|e| CliError::write(&tmp, e))?;
    f.write_all(&bytes).and_then(|_| f.sync_all()).map_err(|e| CliError::write(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| CliError::write(path, e))?;
    // The rename itself is durable once the folder is synced (best effort: not every system
    // lets a folder be opened).
    if let Some(dir) = path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The run state in `path`; a damaged or foreign file is refused by its reader, `what` (the flag
/// or file that named it) leading the message.
pub fn load(path: &Path, what: &str) -> CliResult<RunState> {
    let bytes = std::fs::read(path).map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))?;
    RunState::from_bytes(&bytes).map_err(|e| CliError::Io(format!("{what}: {e}")))
}
