//! The CPU engine: the reference kernels called in the same order, on the same buffers, as the
//! GPU engine dispatches them. Slow but exact, and available everywhere.

use super::{ConvNorms, ConvSnapshot, EvalSums, Snapshot};
use crate::data::{Dataset, Split};
use crate::error::{CabsError, Result};
use crate::model::Layout;
use crate::reference::matmul::{activation_flag, derivative_flag, matmul, MatmulSpec, ADD_BIAS, MUL_RELU_DERIV, SCALE_INV_M};
use crate::reference::reduce_stats::{reduce_stats, StepSums};
use crate::reference::{
    bias_grad::bias_grad, conv2d, crop_standardize::crop_standardize, gather::gather_batch, max_pool, per_example_norms::per_example_norms,
    sgd_update::sgd_update, softmax_xent::softmax_xent,
};

/// One convolution stage's buffers (see [`ConvSnapshot`]).
#[derive(Default)]
struct StageBufs {
    conv_out: Vec<f32>,
    pool_out: Vec<f32>,
    arg: Vec<u32>,
    d_pool: Vec<f32>,
    d_conv: Vec<f32>,
}

impl StageBufs {
    /// What the next layer reads, and where its error goes.
    fn out(&self, pooled: bool) -> &[f32] {
        if pooled {
            &self.pool_out
        } else {
            &self.conv_out
        }
    }
}

pub struct CpuEngine {
    layout: Layout,
    m_max: u32,
    dim: usize,
    /// Standardisation floor (see `reference::crop_standardize`).
    floor: f32,
    conv_norms: ConvNorms,
    train: Split,
    test: Split,
    perm: Vec<u32>,
    params: Vec<f32>,
    grads: Vec<f32>,
    input: Vec<f32>,
    prepped: Vec<f32>,
    stages: Vec<StageBufs>,
    /// Error at the first dense layer's input (convolutional models only).
    d_features: Vec<f32>,
    acts: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
    labels: Vec<u32>,
    losses: Vec<f32>,
    correct: Vec<f32>,
    norms: Vec<Vec<f32>>,
    partials: Vec<f32>,
}

/// Zero `d` where the ReLU output `a` is not positive (`MUL_RELU_DERIV` of the shaders).
fn mask_relu(d: &mut [f32], a: &[f32]) {
    for (d, &a) in d.iter_mut().zip(a) {
        if a <= 0.0 {
            *d = 0.0;
        }
    }
}

/// What stage `s` reads: the gathered batch, its transform, or the previous stage's output.
fn stage_input<'a>(layout: &Layout, input: &'a [f32], prepped: &'a [f32], stages: &'a [StageBufs], s: usize) -> &'a [f32] {
    match s {
        0 if layout.prep.is_some() => prepped,
        0 => input,
        _ => stages[s - 1].out(layout.convs[s - 1].pool.is_some()),
    }
}

impl CpuEngine {
    pub fn new(layout: Layout, data: &Dataset, m_max: u32, params: &[f32], conv_norms: ConvNorms) -> CpuEngine {
        let mm = m_max as usize;
        let d0 = layout.layers[0].d_in as usize;
        let mut acts = vec![vec![0.0; mm * d0]];
        let mut deltas = Vec::new();
        for d in &layout.layers {
            acts.push(vec![0.0; mm * d.d_out as usize]);
            deltas.push(vec![0.0; mm * d.d_out as usize]);
        }
        let stages = layout
            .convs
            .iter()
            .map(|c| {
                let pool = c.pool.map_or(0, |p| mm * p.out_len());
                StageBufs {
                    conv_out: vec![0.0; mm * c.conv.out_len()],
                    pool_out: vec![0.0; pool],
                    arg: vec![0; pool],
                    d_pool: vec![0.0; pool],
                    d_conv: vec![0.0; mm * c.conv.out_len()],
                }
            })
            .collect();
        let prep_len = layout.prep.map_or(0, |p| mm * p.output.len() as usize);
        let scale = data.train.gpu_format().1;
        CpuEngine {
            m_max,
            dim: data.dim as usize,
            floor: layout.prep.map_or(0.0, |p| scale / (p.output.len() as f32).sqrt()),
            conv_norms,
            train: data.train.clone(),
            test: data.test.clone(),
            perm: (0..data.train.len() as u32).collect(),
            params: params.to_vec(),
            grads: vec![0.0; layout.param_count as usize],
            input: vec![0.0; mm * data.dim as usize],
            prepped: vec![0.0; prep_len],
            stages,
            d_features: if layout.convs.is_empty() { Vec::new() } else { vec![0.0; mm * d0] },
            acts,
            deltas,
            labels: vec![0; mm],
            losses: vec![0.0; mm],
            correct: vec![0.0; mm],
            norms: vec![vec![0.0; mm]; conv_norms.rows(&layout)],
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

    /// The input of convolution stage `s` (`s` = number of stages: the dense layers' input).
    fn stage_input(&self, s: usize) -> &[f32] {
        stage_input(&self.layout, &self.input, &self.prepped, &self.stages, s)
    }

    /// Forward pass and loss of the batch (`perm` given: training; none: evaluation order).
    fn forward(&mut self, split_is_train: bool, offset: usize, m: usize) {
        let split = if split_is_train { &self.train } else { &self.test };
        let perm = if split_is_train { Some(self.perm.as_slice()) } else { None };
        let dense_only = self.layout.convs.is_empty() && self.layout.prep.is_none();
        let first = if dense_only { &mut self.acts[0] } else { &mut self.input };
        gather_batch(split, self.dim, perm, offset, m, first, &mut self.labels);
        if let Some(p) = self.layout.prep {
            crop_standardize(&p, &self.input, m, self.floor, &mut self.prepped);
        }
        for s in 0..self.layout.convs.len() {
            let c = self.layout.convs[s];
            let (done, rest) = self.stages.split_at_mut(s);
            let x = stage_input(&self.layout, &self.input, &self.prepped, done, s);
            let st = &mut rest[0];
            let w = &self.params[c.w_offset as usize..c.b_offset as usize];
            let b = &self.params[c.b_offset as usize..c.b_offset as usize + c.conv.out_c];
            conv2d::forward(&c.conv, x, w, b, m, &mut st.conv_out);
            st.conv_out[..m * c.conv.out_len()].iter_mut().for_each(|v| *v = v.max(0.0));
            if let Some(p) = c.pool {
                let arg = max_pool::forward(&p, &st.conv_out, m, &mut st.pool_out);
                st.arg[..arg.len()].copy_from_slice(&arg);
            }
        }
        if !dense_only {
            let n = m * self.layout.layers[0].d_in as usize;
            let features = stage_input(&self.layout, &self.input, &self.prepped, &self.stages, self.layout.convs.len());
            self.acts[0][..n].copy_from_slice(&features[..n]);
        }
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

    /// Errors of the convolution stages, from the error at the first dense layer's input.
    fn backward_convs(&mut self, m: usize) {
        let n_stages = self.layout.convs.len();
        let last = self.layout.convs[n_stages - 1];
        let n = m * last.out_len();
        let st = &mut self.stages[n_stages - 1];
        let into = if last.pool.is_some() { &mut st.d_pool } else { &mut st.d_conv };
        into[..n].copy_from_slice(&self.d_features[..n]);
        for s in (0..n_stages).rev() {
            let c = self.layout.convs[s];
            let st = &mut self.stages[s];
            if let Some(p) = c.pool {
                max_pool::backward(&p, &st.d_pool, &st.arg, m, &mut st.d_conv);
                let n = m * c.conv.out_len();
                mask_relu(&mut st.d_conv[..n], &st.conv_out[..n]);
            }
            if s > 0 {
                let w = &self.params[c.w_offset as usize..c.b_offset as usize];
                let mut dx = vec![0.0; m * c.conv.in_len()];
                conv2d::backward_input(&c.conv, &self.stages[s].d_conv, w, m, &mut dx);
                let prev = &mut self.stages[s - 1];
                if self.layout.convs[s - 1].pool.is_some() {
                    prev.d_pool[..dx.len()].copy_from_slice(&dx);
                } else {
                    let n = dx.len();
                    mask_relu(&mut dx, &prev.conv_out[..n]);
                    prev.d_conv[..dx.len()].copy_from_slice(&dx);
                }
            }
        }
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
        if let Some(last) = self.layout.convs.last() {
            // The last stage's ReLU derivative is applied here when no pool sits in between.
            let d = layers[0];
            let flags = if last.pool.is_some() { 0 } else { MUL_RELU_DERIV };
            let spec = MatmulSpec { m, n: d.d_in as usize, k: d.d_out as usize, trans_a: false, trans_b: false, flags };
            let w = &self.params[d.w_offset as usize..d.b_offset as usize];
            matmul(spec, &self.deltas[0], w, &[], &self.acts[0], 0.0, &mut self.d_features);
            self.backward_convs(m);
        }
        for (l, d) in layers.iter().enumerate() {
            let spec = MatmulSpec { m: d.d_out as usize, n: d.d_in as usize, k: m, trans_a: true, trans_b: false, flags: SCALE_INV_M };
            matmul(spec, &self.deltas[l], &self.acts[l], &[], &[], inv_m, &mut self.grads[d.w_offset as usize..d.b_offset as usize]);
        }
        for (l, d) in layers.iter().enumerate() {
            bias_grad(&self.deltas[l], m, d.d_out as usize, inv_m, &mut self.grads[d.b_offset as usize..(d.b_offset + d.d_out) as usize]);
        }
        let convs = self.layout.convs.clone();
        let mut grads = std::mem::take(&mut self.grads);
        for (s, c) in convs.iter().enumerate() {
            let (gw, gb) = grads[c.w_offset as usize..c.b_offset as usize + c.conv.out_c].split_at_mut(c.conv.filter_len());
            conv2d::filter_grad(&c.conv, self.stage_input(s), &self.stages[s].d_conv, m, gw, gb);
        }
        self.grads = grads;
        if with_stats {
            let base = 2 * convs.len();
            for (l, d) in layers.iter().enumerate() {
                let (w_rows, b_rows) = self.norms.split_at_mut(base + 2 * l + 1);
                per_example_norms(
                    &self.acts[l],
                    &self.deltas[l],
                    m,
                    d.d_in as usize,
                    d.d_out as usize,
                    &mut w_rows[base + 2 * l],
                    &mut b_rows[0],
                );
            }
            let n_tensors = self.layout.n_tensors();
            for (s, c) in convs.iter().enumerate() {
                let (x, dy) = (self.stage_input(s), &self.stages[s].d_conv);
                let mut rows = Vec::new();
                if self.conv_norms != ConvNorms::Reference {
                    rows.push((2 * s, conv2d::norms_per_example(&c.conv, x, dy, m)));
                }
                match self.conv_norms {
                    ConvNorms::Exact => {}
                    ConvNorms::Both => rows.push((n_tensors + 2 * s, conv2d::norms_reference_approx(&c.conv, x, dy, m))),
                    ConvNorms::Reference => rows.push((2 * s, conv2d::norms_reference_approx(&c.conv, x, dy, m))),
                }
                for (row, pairs) in rows {
                    for (i, (w, b)) in pairs.into_iter().enumerate() {
                        self.norms[row][i] = w;
                        self.norms[row + 1][i] = b;
                    }
                }
            }
        }
        self.partials = sgd_update(&mut self.params, &self.grads, lr);
        let flat: Vec<f32> = self.norms.iter().flatten().copied().collect();
        let n_tensors = if with_stats { self.layout.n_tensors() } else { 0 };
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

    pub fn norm_rows_and_grads(&self, m: u32, grad_len: usize) -> (Vec<Vec<f32>>, Vec<f32>) {
        (self.norms.iter().map(|r| r[..m as usize].to_vec()).collect(), self.grads[..grad_len].to_vec())
    }

    pub fn snapshot(&self, m: u32) -> Snapshot {
        let m = m as usize;
        let rows = |v: &[f32], w: usize| v[..m * w].to_vec();
        let mut acts = vec![rows(&self.acts[0], self.layout.layers[0].d_in as usize)];
        let mut deltas = Vec::new();
        for (l, d) in self.layout.layers.iter().enumerate() {
            acts.push(rows(&self.acts[l + 1], d.d_out as usize));
            deltas.push(rows(&self.deltas[l], d.d_out as usize));
        }
        let convs = self
            .layout
            .convs
            .iter()
            .zip(&self.stages)
            .map(|(c, st)| {
                let pooled = c.pool.map_or(0, |p| p.out_len());
                ConvSnapshot {
                    conv_out: rows(&st.conv_out, c.conv.out_len()),
                    pool_out: rows(&st.pool_out, pooled),
                    arg: st.arg[..m * pooled].to_vec(),
                    d_pool: rows(&st.d_pool, pooled),
                    d_conv: rows(&st.d_conv, c.conv.out_len()),
                }
            })
            .collect();
        Snapshot {
            labels: self.labels[..m].to_vec(),
            input: if self.layout.convs.is_empty() { acts[0].clone() } else { rows(&self.input, self.dim) },
            prepped: self.layout.prep.map_or(Vec::new(), |p| rows(&self.prepped, p.output.len() as usize)),
            convs,
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
