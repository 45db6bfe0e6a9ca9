//! The crate's one error type. Every message names the cause and, where there is one, the fix,
//! because it is shown verbatim to users (command line, web page).

use std::fmt;

/// Everything that can go wrong, grouped by who can fix it.
#[derive(Debug, Clone, PartialEq)]
pub enum CabsError {
    /// A setting that cannot work (a user can fix it by changing the setting).
    Config(String),
    /// A data file that is malformed, truncated or inconsistent.
    Data(String),
    /// No usable GPU, a missing feature, a too-small limit, a lost device, a shader error.
    Gpu(String),
    /// Training produced a non-finite loss or statistic.
    Diverged { step: u64, what: String },
    /// Reading or writing a file failed.
    Io(String),
}

pub type Result<T> = std::result::Result<T, CabsError>;

impl fmt::Display for CabsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CabsError::Config(m) => write!(f, "invalid setting: {m}"),
            CabsError::Data(m) => write!(f, "bad data: {m}"),
            CabsError::Gpu(m) => write!(f, "GPU: {m}"),
            CabsError::Diverged { step, what } => {
                write!(f, "training diverged at step {step}: {what}; lower the learning rate α and reset")
            }
            CabsError::Io(m) => write!(f, "file: {m}"),
        }
    }
}

impl std::error::Error for CabsError {}

/// Shorthand for returning a configuration error.
pub fn config<T>(msg: impl Into<String>) -> Result<T> {
    Err(CabsError::Config(msg.into()))
}
