//! The CPU engine: the reference kernels called in the same order, on the same buffers, as the
//! GPU engine dispatches them. Slow but exact, and available everywhere.

use super::{EvalSums, Snapshot};
use crate::data::{Dataset, Split};
use crate::error::{CabsError, Result};
use crate::model::Layout;
use crate::reference::matmul::{activation_flag, derivative_flag, matmul, MatmulSpec, ADD_BIAS, SCALE_INV_M};
use crate::reference::reduce_stats::{reduce_stats, StepSums};
use crate::reference::{
    bias_grad::bias_grad, gather::gather_batch, per_example_norms::per_example_norms, sgd_update::sgd_update, softmax_xent::softmax_xent,
};

pub struct CpuEngine {
    layout: Layout,
    m_max: u32,
    dim: usize,
    train: Split,
    test: Split,
    perm: Vec<u32>,
    params: Vec<f32>,
    grads: Vec<f32>,
    acts: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
    labels: Vec<u32>,
    losses: Vec<f32>,
    correct: Vec<f32>,
    norms: Vec<Vec<f32>>,
    partials: Vec<f32>,
}

impl CpuEngine {
    pub fn new(layout: Layout, data: &Dataset, m_max: u32, params: &[f32]) -> CpuEngine {
        let mm = m_max as usize;
        let mut acts = vec![vec![0.0; mm * layout.input_dim() as usize]];
        let mut deltas = Vec::new();
        for d in &layout.layers {
            acts.push(vec![0.0; mm * d.d_out as usize]);
            deltas.push(vec![0.0; mm * d.d_out as usize]);
        }
        CpuEngine {
            m_max,
            dim: data.dim as usize,
            train: data.train.clone(),
            test: data.test.clone(),
            perm: (0..data.train.len() as u32).collect(),
            params: params.to_vec(),
            grads: vec![0.0; layout.param_count as usize],
            acts,
            deltas,
            labels: vec![0; mm],
            losses: vec![0.0; mm],
            correct: vec![0.0; mm],
            norms: vec![vec![0.0; mm]; 2 * layout.layers.len()],
            partials: Vec::new(),
            layout,
        }
    }

    pub fn set_permutation(&mut self, perm: &[u32]) {
        self.perm = perm.to_vec();
    }

    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        if params.len() != self.params.len() {
            return Err(CabsError::Config(format!("expected {} parameters, got {}", self.params.len(), params.len())));
        }
        self.params.copy_from_slice(params);
        Ok(())
    }

    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Forward pass and loss of the batch (`perm` given: training; none: evaluation order).
    fn forward(&mut self, split_is_train: bool, offset: usize, m: usize) {
        let split = if split_is_train { &self.train } else { &self.test };
        let perm = if split_is_train { Some(self.perm.as_slice()) } else { None };
        gather_batch(split, self.dim, perm, offset, m, &mut self.acts[0], &mut self.labels);
        let act = self.layout.activation;
        for (l, d) in self.layout.layers.iter().enumerate() {
            let flags = ADD_BIAS | if d.activated { activation_flag(act) } else { 0 };
            let spec = MatmulSpec { m, n: d.d_out as usize, k: d.d_in as usize, trans_a: false, trans_b: true, flags };
            let (before, after) = self.acts.split_at_mut(l + 1);
            let w = &self.params[d.w_offset as usize..d.b_offset as usize];
            let b = &self.params[d.b_offset as usize..(d.b_offset + d.d_out) as usize];
            matmul(spec, &before[l], w, b, &[], 0.0, &mut after[0]);
        }
        let last = self.layout.layers.len();
        softmax_xent(
            &self.acts[last],
            &self.labels,
            m,
            self.layout.classes() as usize,
            &mut self.deltas[last - 1],
            &mut self.losses,
            &mut self.correct,
        );
    }

    pub fn train_step(&mut self, offset: u32, m: u32, lr: f32, with_stats: bool) -> StepSums {
        let (m, inv_m) = (m as usize, 1.0 / m as f32);
        self.forward(true, offset as usize, m);
        let act = self.layout.activation;
        let layers = self.layout.layers.clone();
        for l in (1..layers.len()).rev() {
            let d = layers[l];
            let spec =
                MatmulSpec { m, n: d.d_in as usize, k: d.d_out as usize, trans_a: false, trans_b: false, flags: derivative_flag(act) };
            let (lo, hi) = self.deltas.split_at_mut(l);
            let w = &self.params[d.w_offset as usize..d.b_offset as usize];
            matmul(spec, &hi[0], w, &[], &self.acts[l], 0.0, &mut lo[l - 1]);
        }
        for (l, d) in layers.iter().enumerate() {
            let spec = MatmulSpec { m: d.d_out as usize, n: d.d_in as usize, k: m, trans_a: true, trans_b: false, flags: SCALE_INV_M };
            matmul(spec, &self.deltas[l], &self.acts[l], &[], &[], inv_m, &mut self.grads[d.w_offset as usize..d.b_offset as usize]);
        }
        for (l, d) in layers.iter().enumerate() {
            bias_grad(&self.deltas[l], m, d.d_out as usize, inv_m, &mut self.grads[d.b_offset as usize..(d.b_offset + d.d_out) as usize]);
        }
        if with_stats {
            for (l, d) in layers.iter().enumerate() {
                let (w_rows, b_rows) = self.norms.split_at_mut(2 * l + 1);
                per_example_norms(&self.acts[l], &self.deltas[l], m, d.d_in as usize, d.d_out as usize, &mut w_rows[2 * l], &mut b_rows[0]);
            }
        }
        self.partials = sgd_update(&mut self.params, &self.grads, lr);
        let flat: Vec<f32> = self.norms.iter().flatten().copied().collect();
        let n_tensors = if with_stats { self.norms.len() } else { 0 };
        let partials: &[f32] = if with_stats { &self.partials } else { &[] };
        reduce_stats(&self.losses, &self.correct, &flat, n_tensors, m, self.m_max as usize, partials)
    }

    pub fn evaluate(&mut self) -> EvalSums {
        let n = self.test.len();
        let mut out = EvalSums { n, ..Default::default() };
        let mut offset = 0;
        while offset < n {
            let m = (n - offset).min(self.m_max as usize);
            self.forward(false, offset, m);
            let s = reduce_stats(&self.losses, &self.correct, &[], 0, m, self.m_max as usize, &[]);
            out.loss_sum += s.loss_sum as f64;
            out.correct += s.correct as f64;
            offset += m;
        }
        out
    }

    pub fn snapshot(&self, m: u32) -> Snapshot {
        let m = m as usize;
        let rows = |v: &Vec<f32>, w: usize| v[..m * w].to_vec();
        let mut acts = vec![rows(&self.acts[0], self.dim)];
        let mut deltas = Vec::new();
        for (l, d) in self.layout.layers.iter().enumerate() {
            acts.push(rows(&self.acts[l + 1], d.d_out as usize));
            deltas.push(rows(&self.deltas[l], d.d_out as usize));
        }
        Snapshot {
            labels: self.labels[..m].to_vec(),
            acts,
            deltas,
            grads: self.grads.clone(),
            params: self.params.clone(),
            losses: self.losses[..m].to_vec(),
            correct: self.correct[..m].to_vec(),
            norms: self.norms.iter().map(|r| r[..m].to_vec()).collect(),
            partials: self.partials.clone(),
        }
    }
}
