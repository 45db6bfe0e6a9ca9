//! The batch-size rules' former path, kept so that `cabs::cabs::…` keeps working: everything
//! lives in [`crate::rules`] (one rule per file) and is re-exported here.

pub use crate::rules::*;
