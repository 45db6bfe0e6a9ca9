//! The JSON probe of one step (`cabs train --dump-step N --dump PATH`): enough to recompute the
//! step's statistics in any framework. Shape convention: every tensor is row-major with the
//! shape given; a dense layer computes `z = W·a + b` with `W` of shape `[out, in]`
//! (PyTorch's `nn.Linear` convention).

use crate::cabs::xi_from_sums;
use crate::engine::ConvNorms;
use crate::model::Layout;
use crate::reference::conv2d::Padding;
use crate::trainer::{StepDetail, TrainerConfig};
use serde::Serialize;

/// One layer, in the order the model applies them. Dense layers keep the `cabs-probe/1` fields
/// (`type: "dense"`, `in`, `out`, `activation`); image layers give shapes as `[C, H, W]`.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerInfo {
    /// Centre crop to `out`, then (if `standardize`) TensorFlow's per-image standardisation
    /// `(x − mean) / max(std, scale/√N)` over the whole cropped image.
    CropStandardize {
        #[serde(rename = "in")]
        input: [u32; 3],
        out: [u32; 3],
        standardize: bool,
        /// Top-left corner of the crop, (row, column).
        offset: [u32; 2],
        /// The standardisation floor's `scale` (the data set's byte scale).
        scale: f32,
    },
    /// Cross-correlation with filters `[C_out, C_in, K, K]` (PyTorch's layout), TensorFlow's
    /// SAME/VALID padding (the extra row/column at the bottom/right), then ReLU.
    Conv2d {
        #[serde(rename = "in")]
        input: [u32; 3],
        out: [u32; 3],
        kernel: u32,
        stride: u32,
        padding: &'static str,
        activation: &'static str,
    },
    /// Max-pooling with TensorFlow's padding rule (padded cells never win).
    MaxPool {
        #[serde(rename = "in")]
        input: [u32; 3],
        out: [u32; 3],
        window: u32,
        stride: u32,
        padding: &'static str,
    },
    /// `z = W·a + b` with `W` of shape `[out, in]`; activation "none" for the last layer, which
    /// feeds the softmax. Image activations enter flattened channel-major (`[C, H, W]`).
    Dense {
        #[serde(rename = "in")]
        d_in: u32,
        out: u32,
        activation: &'static str,
    },
}

/// Every setting that changes the step's statistics.
#[derive(Serialize)]
pub struct StatSettings {
    /// exact | both | reference: how conv filters' per-example norms are computed.
    pub conv_norms: ConvNorms,
    /// Whether the run's ξ is the unbiased ξ·m/(m−1) (`xi_biased` and `xi_unbiased` are both given).
    pub unbiased: bool,
    pub bias_correction: bool,
    pub mu: Option<f64>,
    pub c: Option<f64>,
    pub eps: Option<f64>,
    /// Examples per chunk the engine ran the step in (the result equals the unchunked step up
    /// to float rounding).
    pub chunk: u32,
}

/// One row of per-example squared gradient norms.
#[derive(Serialize)]
pub struct NormRow {
    /// The parameter tensor (a name of `parameters`).
    pub tensor: String,
    /// "exact", or "approx" (the reference code's approximation: cross terms between positions dropped).
    pub kind: &'static str,
    /// Whether this row is part of Σ‖g_i‖² (and so of ξ).
    pub drives_xi: bool,
    pub per_example: Vec<f32>,
}

#[derive(Serialize)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<u32>,
    pub data: Vec<f32>,
}

#[derive(Serialize)]
pub struct Probe {
    pub format: &'static str,
    pub shape_convention: &'static str,
    pub step: u64,
    pub model: String,
    pub layers: Vec<LayerInfo>,
    pub loss_function: &'static str,
    pub backend: String,
    /// Parameters at the start of the step.
    pub parameters: Vec<Tensor>,
    pub batch_indices: Vec<u32>,
    pub inputs: Tensor,
    pub labels: Vec<u32>,
    pub per_example_losses: Vec<f32>,
    /// Σ_i ‖g_i‖² per parameter tensor, in the order of `parameters` (the rows that drive ξ).
    pub per_tensor_sum_sq_norms: Vec<f64>,
    /// Every per-example norm row the engine computed, labelled.
    pub norm_rows: Vec<NormRow>,
    pub settings: StatSettings,
    pub lr: f64,
    pub loss: f64,
    pub grad_norm_sq: f64,
    pub xi_biased: f64,
    pub xi_unbiased: f64,
    pub sum_sq_norms: f64,
}

fn padding(p: Padding) -> &'static str {
    match p {
        Padding::Same => "same",
        Padding::Valid => "valid",
    }
}

/// The layers of a layout in order, with their geometry.
pub fn layers(layout: &Layout, byte_scale: f32) -> Vec<LayerInfo> {
    let shape = |s: crate::data::ImageShape| [s.c, s.h, s.w];
    let mut out = Vec::new();
    if let Some(p) = layout.prep {
        let (top, left) = p.offset();
        out.push(LayerInfo::CropStandardize {
            input: shape(p.input),
            out: shape(p.output),
            standardize: p.standardize,
            offset: [top, left],
            scale: byte_scale,
        });
    }
    for c in &layout.convs {
        let k = &c.conv;
        let (oh, ow, _, _) = k.output();
        let u = |v: usize| v as u32;
        out.push(LayerInfo::Conv2d {
            input: [u(k.in_c), u(k.in_h), u(k.in_w)],
            out: [u(k.out_c), u(oh), u(ow)],
            kernel: u(k.k_h),
            stride: u(k.stride),
            padding: padding(k.padding),
            activation: "relu",
        });
        if let Some(p) = c.pool {
            let (ph, pw, _, _) = p.output();
            out.push(LayerInfo::MaxPool {
                input: [u(p.c), u(p.in_h), u(p.in_w)],
                out: [u(p.c), u(ph), u(pw)],
                window: u(p.window),
                stride: u(p.stride),
                padding: padding(p.padding),
            });
        }
    }
    let act = layout.activation.name();
    out.extend(layout.layers.iter().map(|d| LayerInfo::Dense {
        d_in: d.d_in,
        out: d.d_out,
        activation: if d.activated { act } else { "none" },
    }));
    out
}

pub fn build(layout: &Layout, model: String, backend: String, detail: &StepDetail) -> Probe {
    let m = detail.stats.batch_size;
    let parameters = layout
        .tensors()
        .into_iter()
        .map(|t| Tensor {
            data: detail.params_before[t.offset as usize..(t.offset + t.len) as usize].to_vec(),
            name: t.name,
            shape: t.shape,
        })
        .collect();
    let sum_sq = detail.sums.sq_norm_sum as f64;
    let cfg: &TrainerConfig = &detail.config;
    let cabs = match &cfg.rule {
        crate::cabs::Rule::Cabs(c) => Some(c),
        _ => None,
    };
    let input_shape = match layout.prep.map(|p| p.input).or(layout.convs.first().map(|c| crate::data::ImageShape {
        c: c.conv.in_c as u32,
        h: c.conv.in_h as u32,
        w: c.conv.in_w as u32,
    })) {
        Some(img) => vec![m, img.c, img.h, img.w],
        None => vec![m, layout.input_dim()],
    };
    let names: Vec<String> = layout.tensors().into_iter().map(|t| t.name).collect();
    let n_tensors = names.len();
    let first_kind = if cfg.conv_norms == ConvNorms::Reference { "approx" } else { "exact" };
    let norm_rows = detail
        .snapshot
        .norms
        .iter()
        .enumerate()
        .map(|(r, row)| {
            let (tensor, kind) = if r < n_tensors {
                let conv = r < 2 * layout.convs.len();
                (names[r].clone(), if conv { first_kind } else { "exact" })
            } else {
                (names[r - n_tensors].clone(), "approx")
            };
            NormRow { tensor, kind, drives_xi: r < n_tensors, per_example: row.clone() }
        })
        .collect();
    Probe {
        format: "cabs-probe/1",
        shape_convention: "row-major; dense layer z = W·a + b with W of shape [out, in]; conv filters [out, in, k, k]; inputs [batch, features] or [batch, C, H, W] for images, as the first layer receives them",
        step: detail.stats.step,
        model,
        layers: layers(layout, detail.byte_scale),
        loss_function: "softmax cross-entropy, mean over the batch",
        backend,
        parameters,
        batch_indices: detail.indices.clone(),
        inputs: Tensor { name: "inputs".into(), shape: input_shape, data: detail.inputs.clone() },
        labels: detail.labels.clone(),
        per_example_losses: detail.snapshot.losses.clone(),
        per_tensor_sum_sq_norms: detail.snapshot.norms[..n_tensors].iter().map(|r| r.iter().map(|&v| v as f64).sum()).collect(),
        norm_rows,
        settings: StatSettings {
            conv_norms: cfg.conv_norms,
            unbiased: cfg.rule.unbiased(),
            bias_correction: cabs.is_some_and(|c| c.bias_correction),
            mu: cabs.map(|c| c.mu),
            c: cabs.map(|c| c.c),
            eps: cabs.map(|c| c.eps),
            chunk: detail.chunk,
        },
        lr: detail.stats.lr,
        loss: detail.stats.loss,
        grad_norm_sq: detail.stats.grad_norm_sq,
        xi_biased: xi_from_sums(sum_sq, detail.stats.grad_norm_sq, m, false),
        xi_unbiased: xi_from_sums(sum_sq, detail.stats.grad_norm_sq, m, true),
        sum_sq_norms: sum_sq,
    }
}
