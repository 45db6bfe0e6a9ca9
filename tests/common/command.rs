//! The `cabs` command as a user runs it, for the tests of the native runner: from the
//! repository root (where `data/` is), with no `CABS_DATA_DIR` of the caller's leaking in.

use std::process::Command;

/// `cabs` with the tests' environment, not yet run (for tests that spawn and kill it).
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cabs"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("CABS_DATA_DIR");
    c
}

/// Runs `cabs args…` to the end: (exit code, or −1 when killed; stdout; stderr).
pub fn cabs(args: &[&str]) -> (i32, String, String) {
    let out = command(args).output().expect("the cabs binary runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}
