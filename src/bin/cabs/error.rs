//! The runner's one error type. Its kind decides the exit code: 2 for a usage error (a flag,
//! a value or a combination the user can fix on the command line), 1 for anything else (a run
//! that failed, a file that could not be read or written). The message is printed as one line.

use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum CliError {
    /// Bad flags or values: exit 2. Printed as "usage: …".
    Usage(String),
    /// The engine or a run failed: exit 1.
    Run(String),
    /// A file could not be read or written: exit 1.
    Io(String),
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError::Usage(msg.into())
    }

    pub fn run(msg: impl Into<String>) -> CliError {
        CliError::Run(msg.into())
    }

    /// "cannot write PATH: why".
    pub fn write(path: &Path, e: impl fmt::Display) -> CliError {
        CliError::Io(format!("cannot write {}: {e}", path.display()))
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Run(_) | CliError::Io(_) => 1,
        }
    }

    /// The same error with `prefix: ` in front of its message (e.g. a run's label).
    pub fn context(self, prefix: &str) -> CliError {
        match self {
            CliError::Usage(m) => CliError::Usage(format!("{prefix}: {m}")),
            CliError::Run(m) => CliError::Run(format!("{prefix}: {m}")),
            CliError::Io(m) => CliError::Io(format!("{prefix}: {m}")),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => write!(f, "usage: {m}"),
            CliError::Run(m) | CliError::Io(m) => f.write_str(m),
        }
    }
}

/// Errors of the library: its settings checks are about values the user gave, so they are
/// usage errors; everything else happened while running.
impl From<cabs::CabsError> for CliError {
    fn from(e: cabs::CabsError) -> CliError {
        match e {
            cabs::CabsError::Config(_) => CliError::Usage(e.to_string()),
            cabs::CabsError::Io(_) => CliError::Io(e.to_string()),
            _ => CliError::Run(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_decides_the_exit_code_and_usage_says_so() {
        let u = CliError::usage("--steps 0: the run would do nothing");
        assert_eq!(u.exit_code(), 2);
        assert_eq!(u.to_string(), "usage: --steps 0: the run would do nothing");
        assert_eq!(CliError::run("diverged").exit_code(), 1);
        let w = CliError::write(Path::new("/dev/full"), "No space left on device");
        assert_eq!(w.exit_code(), 1);
        assert_eq!(w.to_string(), "cannot write /dev/full: No space left on device");
        // A run message that happens to start with "usage" is still a run error.
        assert_eq!(CliError::run("usage of memory too high").exit_code(), 1);
        assert_eq!(CliError::usage("x").context("run a").to_string(), "usage: run a: x");
    }
}
