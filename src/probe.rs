//! The JSON probe of one step (`cabs train --dump-step N --dump PATH`): enough to recompute the
//! step's statistics in any framework. Shape convention: every tensor is row-major with the
//! shape given; a dense layer computes `z = W·a + b` with `W` of shape `[out, in]`
//! (PyTorch's `nn.Linear` convention).

use crate::cabs::xi_from_sums;
use crate::model::{Activation, Layout};
use crate::trainer::StepDetail;
use serde::Serialize;

#[derive(Serialize)]
pub struct LayerInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "in")]
    pub d_in: u32,
    pub out: u32,
    /// Activation after the layer ("none" for the last, which feeds the softmax).
    pub activation: &'static str,
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
    /// Σ_i ‖g_i‖² per parameter tensor, in the order of `parameters`.
    pub per_tensor_sum_sq_norms: Vec<f64>,
    pub lr: f64,
    pub loss: f64,
    pub grad_norm_sq: f64,
    pub xi_biased: f64,
    pub xi_unbiased: f64,
    pub sum_sq_norms: f64,
}

pub fn build(layout: &Layout, model: String, backend: String, detail: &StepDetail) -> Probe {
    let m = detail.stats.batch_size;
    let act = match layout.activation {
        Activation::Relu => "relu",
        Activation::Tanh => "tanh",
    };
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
    Probe {
        format: "cabs-probe/1",
        shape_convention: "row-major; dense layer z = W·a + b with W of shape [out, in]; inputs [batch, features]",
        step: detail.stats.step,
        model,
        layers: layout
            .layers
            .iter()
            .map(|d| LayerInfo { kind: "dense", d_in: d.d_in, out: d.d_out, activation: if d.activated { act } else { "none" } })
            .collect(),
        loss_function: "softmax cross-entropy, mean over the batch",
        backend,
        parameters,
        batch_indices: detail.indices.clone(),
        inputs: Tensor { name: "inputs".into(), shape: vec![m, layout.input_dim()], data: detail.snapshot.acts[0].clone() },
        labels: detail.snapshot.labels.clone(),
        per_example_losses: detail.snapshot.losses.clone(),
        per_tensor_sum_sq_norms: detail.snapshot.norms.iter().map(|r| r.iter().map(|&v| v as f64).sum()).collect(),
        lr: detail.stats.lr,
        loss: detail.stats.loss,
        grad_norm_sq: detail.stats.grad_norm_sq,
        xi_biased: xi_from_sums(sum_sq, detail.stats.grad_norm_sq, m, false),
        xi_unbiased: xi_from_sums(sum_sq, detail.stats.grad_norm_sq, m, true),
        sum_sq_norms: sum_sq,
    }
}
