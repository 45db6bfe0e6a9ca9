//! How the per-example squared norms of convolution filters are computed: a setting of the step
//! plan (which norm ops it holds, how many norm rows a step keeps), read by both engines.

use crate::error::Result;
use crate::model::Layout;
use serde::{Deserialize, Serialize};

/// How the per-example squared norms of convolution filters are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvNorms {
    /// Exact (the default): ξ is the true trace of the gradient covariance.
    #[default]
    Exact,
    /// Exact for ξ, and the reference code's approximation as well, in extra rows after the
    /// exact ones (for side-by-side comparison on the same batches).
    Both,
    /// The reference TensorFlow code's approximation drives ξ (cross terms between positions
    /// dropped), to reproduce its behaviour.
    Reference,
}

impl ConvNorms {
    pub fn parse(s: &str) -> Result<ConvNorms> {
        match s {
            "exact" => Ok(ConvNorms::Exact),
            "both" => Ok(ConvNorms::Both),
            "reference" => Ok(ConvNorms::Reference),
            _ => crate::error::config(format!("unknown conv-norms '{s}': use exact, both or reference")),
        }
    }

    /// Rows of per-example norms the engine keeps for a layout.
    pub fn rows(self, layout: &Layout) -> usize {
        layout.n_tensors() + if self == ConvNorms::Both { 2 * layout.convs.len() } else { 0 }
    }
}
