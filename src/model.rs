//! Network shapes and the flat parameter layout shared by the GPU kernels and the CPU twin.
//!
//! Parameters live in one flat `f32` array. Layer `l` maps `d_in → d_out` and owns its weight
//! matrix `W` (shape `[d_out, d_in]`, row-major: `W[j, k]` at `w_offset + j·d_in + k`, the
//! PyTorch `Linear` convention) followed by its bias `b` (shape `[d_out]`). The gradient buffer
//! has the same layout.

use crate::error::{config, Result};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Tanh,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }
}

/// A multilayer perceptron: input → dense (+activation) … → dense → softmax cross-entropy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Widths of the hidden layers; empty for logistic regression.
    pub hidden: Vec<u32>,
    pub activation: Activation,
}

impl ModelSpec {
    /// Parse `logreg`, `mlp:H1[,H2…]`, optionally followed by `:tanh` or `:relu` (default relu).
    pub fn parse(s: &str) -> Result<ModelSpec> {
        let mut parts = s.split(':');
        let kind = parts.next().unwrap_or("");
        let (hidden, act) = match kind {
            "logreg" => (Vec::new(), parts.next()),
            "mlp" => {
                let widths = parts
                    .next()
                    .ok_or_else(|| crate::CabsError::Config(format!("model '{s}' needs hidden widths, e.g. mlp:256 or mlp:128,64")))?;
                let hidden = widths
                    .split(',')
                    .map(|w| match w.trim().parse::<u32>() {
                        Ok(h) if (1..=65_536).contains(&h) => Ok(h),
                        _ => config(format!("hidden width '{w}' in model '{s}' must be a whole number from 1 to 65536")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                (hidden, parts.next())
            }
            _ => return config(format!("unknown model '{s}': use logreg or mlp:H1[,H2…][:tanh]")),
        };
        let activation = match act {
            None | Some("relu") => Activation::Relu,
            Some("tanh") => Activation::Tanh,
            Some(a) => return config(format!("unknown activation '{a}' in model '{s}': use relu or tanh")),
        };
        if parts.next().is_some() {
            return config(format!("model '{s}' has too many ':' parts"));
        }
        Ok(ModelSpec { hidden, activation })
    }

    /// The canonical text form, the inverse of [`ModelSpec::parse`].
    pub fn label(&self) -> String {
        if self.hidden.is_empty() {
            return "logreg".into();
        }
        let widths: Vec<String> = self.hidden.iter().map(|h| h.to_string()).collect();
        match self.activation {
            Activation::Relu => format!("mlp:{}", widths.join(",")),
            Activation::Tanh => format!("mlp:{}:tanh", widths.join(",")),
        }
    }
}

/// One dense layer's place in the flat parameter array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseLayer {
    pub d_in: u32,
    pub d_out: u32,
    pub w_offset: u32,
    pub b_offset: u32,
    /// Whether the activation follows this layer (all but the last).
    pub activated: bool,
}

/// A model bound to an input dimension and a number of classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub layers: Vec<DenseLayer>,
    pub activation: Activation,
    pub param_count: u32,
}

/// A named parameter tensor, for export (probe files, per-tensor statistics).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<u32>,
    pub offset: u32,
    pub len: u32,
}

impl Layout {
    pub fn new(spec: &ModelSpec, d_in: u32, classes: u32) -> Result<Layout> {
        if d_in == 0 || classes < 2 {
            return config(format!("a model needs ≥ 1 input and ≥ 2 classes, got {d_in} and {classes}"));
        }
        let mut widths = vec![d_in];
        widths.extend(&spec.hidden);
        widths.push(classes);
        let mut layers = Vec::new();
        let mut offset: u64 = 0;
        for (l, w) in widths.windows(2).enumerate() {
            let (d_in, d_out) = (w[0], w[1]);
            let w_offset = offset;
            let b_offset = w_offset + d_in as u64 * d_out as u64;
            offset = b_offset + d_out as u64;
            if offset > (1 << 28) {
                return config(format!("model has more than 2^28 parameters (layer {l}); choose smaller widths"));
            }
            layers.push(DenseLayer { d_in, d_out, w_offset: w_offset as u32, b_offset: b_offset as u32, activated: l + 2 < widths.len() });
        }
        Ok(Layout { layers, activation: spec.activation, param_count: offset as u32 })
    }

    pub fn input_dim(&self) -> u32 {
        self.layers[0].d_in
    }

    pub fn classes(&self) -> u32 {
        self.layers[self.layers.len() - 1].d_out
    }

    /// Parameter tensors in storage order: `dense0.weight`, `dense0.bias`, `dense1.weight`, ….
    pub fn tensors(&self) -> Vec<TensorInfo> {
        let mut out = Vec::new();
        for (l, d) in self.layers.iter().enumerate() {
            out.push(TensorInfo {
                name: format!("dense{l}.weight"),
                shape: vec![d.d_out, d.d_in],
                offset: d.w_offset,
                len: d.d_out * d.d_in,
            });
            out.push(TensorInfo { name: format!("dense{l}.bias"), shape: vec![d.d_out], offset: d.b_offset, len: d.d_out });
        }
        out
    }

    /// Initial weights: normal with std √(2/d_in) (He) for layers followed by ReLU and
    /// √(1/d_in) (LeCun) for layers followed by tanh or softmax; biases zero.
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = Rng::derive(seed, 1);
        let mut p = vec![0.0f32; self.param_count as usize];
        for d in &self.layers {
            let gain = if d.activated && self.activation == Activation::Relu { 2.0 } else { 1.0 };
            let std = (gain / d.d_in as f64).sqrt();
            let w = &mut p[d.w_offset as usize..d.b_offset as usize];
            for v in w {
                *v = (rng.normal() * std) as f32;
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_layout() {
        let m = ModelSpec::parse("mlp:256").unwrap();
        let l = Layout::new(&m, 784, 10).unwrap();
        assert_eq!(l.param_count, 784 * 256 + 256 + 256 * 10 + 10);
        assert_eq!(l.layers[1].w_offset, 784 * 256 + 256);
        assert!(l.layers[0].activated && !l.layers[1].activated);
        assert_eq!(ModelSpec::parse("mlp:8,4:tanh").unwrap().label(), "mlp:8,4:tanh");
        assert_eq!(ModelSpec::parse("logreg").unwrap().hidden.len(), 0);
        for bad in ["mlp", "mlp:", "mlp:0", "mlp:a", "cnn", "mlp:4:sigmoid", "mlp:4:relu:x"] {
            assert!(ModelSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
