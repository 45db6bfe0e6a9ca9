//! Encoding and running steps: the uniform slot of each chunk, a training step as one
//! submission (chunk ops per chunk, then finish ops, then a 16-byte readback), the per-kernel
//! profile, and the evaluation over the test split in chunks.

use super::super::kernels::{StepUniform, STEP_STRIDE};
use super::dispatch::Dispatch;
use super::GpuEngine;
use crate::error::{CabsError, Result};
use crate::plan::Buf;
use crate::plan::EvalSums;
use crate::reference::reduce_stats::StepSums;

impl GpuEngine {
    fn encode(&self, pass: &mut wgpu::ComputePass<'_>, d: &Dispatch, m: u32, slot: u32) {
        let (pipeline, grid) = d.pick(m);
        let (x, y) = grid.size(m);
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &d.group, &[]);
        pass.set_bind_group(1, &self.step_group, &[slot * STEP_STRIDE as u32]);
        pass.dispatch_workgroups(x, y, 1);
        if let Some(then) = &d.then {
            self.encode(pass, then, m, slot);
        }
    }

    fn write_step(&self, slot: u32, s: StepUniform) {
        self.ctx.queue.write_buffer(&self.step, slot as u64 * STEP_STRIDE, bytemuck::bytes_of(&s));
    }

    /// Write the uniform slot of every chunk of a training step (and, when the training split is
    /// streamed, upload the batch's examples); returns (slot, rows) per chunk.
    fn write_train_slots(&self, offset: u32, m: u32, lr: f32, with_stats: bool) -> Vec<(u32, u32)> {
        let streamed = self.train.stream.is_some();
        if streamed {
            self.train.upload(&self.ctx.queue, &self.perm_host[offset as usize..(offset + m) as usize]);
        }
        self.chunking
            .spans(m)
            .enumerate()
            .map(|(k, (row_base, rows))| {
                let slot = k as u32;
                self.write_step(
                    slot,
                    StepUniform {
                        m: rows,
                        // A streamed batch sits in batch order in the upload buffer.
                        offset: if streamed { row_base } else { offset + row_base },
                        lr,
                        inv_m: 1.0 / m as f32,
                        use_perm: !streamed as u32,
                        stats_slot: 0,
                        with_norms: with_stats as u32,
                        row_base,
                        batch: m,
                        accumulate: (k > 0) as u32,
                        ..Default::default()
                    },
                );
                (slot, rows)
            })
            .collect()
    }

    /// The inner products' second pass over a step's chunks `slots` (slot, rows), as dispatches
    /// with their rows and uniform slot: [`crate::plan::Plan::inner_pass`], the recomputation
    /// of earlier chunks by the chunk ops' own dispatches.
    fn inner_dispatches(&self, slots: &[(u32, u32)]) -> Result<Vec<(&Dispatch, u32, u32)>> {
        let mut v = Vec::new();
        for (k, op) in self.plan.inner_pass(slots.len()) {
            let d = self.inner_ops.iter().chain(&self.chunk_ops).find(|d| d.op == op);
            let d = d.ok_or_else(|| CabsError::Gpu(format!("no dispatch was built for the inner-product op '{}'", op.label())))?;
            let (slot, rows) = slots[k];
            v.push((d, rows, slot));
        }
        Ok(v)
    }

    /// One SGD step on the batch `perm[offset .. offset + m]`, in chunks; returns the step's sums.
    pub async fn train_step(&mut self, offset: u32, m: u32, lr: f32, with_stats: bool) -> Result<StepSums> {
        if m == 0 || m > self.m_max {
            return Err(CabsError::Config(format!("batch of {m} outside 1 … m_max = {}", self.m_max)));
        }
        let slots = self.write_train_slots(offset, m, lr, with_stats);
        let inner = if self.inner_on { self.inner_dispatches(&slots)? } else { Vec::new() };
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("training step") });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("training step"), timestamp_writes: None });
            for &(slot, rows) in &slots {
                for d in self.chunk_ops.iter().filter(|d| with_stats || !d.op.is_norm()) {
                    self.encode(&mut pass, d, rows, slot);
                }
            }
            for &(d, rows, slot) in &inner {
                self.encode(&mut pass, d, rows, slot);
            }
            let (last_slot, last_rows) = slots[slots.len() - 1];
            for d in &self.finish_ops {
                self.encode(&mut pass, d, last_rows, last_slot);
            }
        }
        enc.copy_buffer_to_buffer(&self.stats, 0, &self.staging, 0, 16);
        // The inner products' mean and variance ride in the same readback (the staging buffer
        // holds at least two 16-byte slots).
        let bytes = if self.inner_on { 32 } else { 16 };
        if self.inner_on {
            enc.copy_buffer_to_buffer(&self.bufs[&Buf::InnerStats], 0, &self.staging, 16, 8);
        }
        self.ctx.queue.submit([enc.finish()]);
        self.last_rows = slots[slots.len() - 1].1;
        let s = self.ctx.read_f32(&self.staging, bytes).await?;
        self.inner_stats = self.inner_on.then(|| (s[4], s[5]));
        Ok(StepSums { loss_sum: s[0], correct: s[1], sq_norm_sum: s[2], mean_grad_sq: s[3] })
    }

    /// GPU time of each dispatch of one training step with statistics (each in its own timed
    /// pass), in milliseconds, on the batch `perm[offset .. offset + m]` with α = 0 (the weights
    /// do not change): (label, shape, ms) per dispatch, chunk after chunk. None when the adapter
    /// cannot time passes.
    pub async fn profile_step(&mut self, offset: u32, m: u32) -> Result<Option<Vec<(&'static str, String, f64)>>> {
        if !self.ctx.timestamps {
            return Ok(None);
        }
        let slots = self.write_train_slots(offset, m, 0.0, true);
        let (last_slot, last_rows) = slots[slots.len() - 1];
        let mut list: Vec<(&Dispatch, u32, u32)> = Vec::new();
        for &(slot, rows) in &slots {
            list.extend(self.chunk_ops.iter().map(|d| (d, rows, slot)));
        }
        list.extend(self.finish_ops.iter().map(|d| (d, last_rows, last_slot)));
        let n = list.len() as u32;
        let device = &self.ctx.device;
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kernel timings"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * n,
        });
        let bytes = 2 * n as u64 * 8;
        let resolved = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel timings"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel timings readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("profiled step") });
        for (i, (d, rows, slot)) in list.iter().enumerate() {
            let writes = wgpu::ComputePassTimestampWrites {
                query_set: &queries,
                beginning_of_pass_write_index: Some(2 * i as u32),
                end_of_pass_write_index: Some(2 * i as u32 + 1),
            };
            let mut pass =
                enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(d.op.label()), timestamp_writes: Some(writes) });
            self.encode(&mut pass, d, *rows, *slot);
        }
        enc.resolve_query_set(&queries, 0..2 * n, &resolved, 0);
        enc.copy_buffer_to_buffer(&resolved, 0, &staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        self.last_rows = last_rows;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&self.ctx.read_bytes(&staging, bytes).await?);
        let period_ms = self.ctx.queue.get_timestamp_period() as f64 * 1e-6;
        Ok(Some(
            list.iter()
                .enumerate()
                .map(|(i, (d, _, _))| {
                    let ms = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period_ms;
                    (d.op.label(), self.plan.describe(d.op), ms)
                })
                .collect(),
        ))
    }

    /// Loss and accuracy over the whole test split: every chunk writes its sums to its own stats
    /// slot, one readback at the end. A resident split is one submission; a streamed one is one
    /// submission per group of chunks that fits its upload buffers (each group's upload is
    /// queued just before its submission, so no group sees another's examples).
    pub async fn evaluate(&mut self) -> Result<EvalSums> {
        if self.n_test == 0 {
            return Ok(EvalSums::default());
        }
        let chunk = self.chunking.chunk;
        let chunks = self.n_test.div_ceil(chunk);
        let group = self.test.stream.as_ref().map_or(self.n_test, |s| s.rows);
        let mut start = 0;
        while start < self.n_test {
            let end = (start + group).min(self.n_test);
            let indices: Vec<u32> = (start..end).collect();
            self.test.upload(&self.ctx.queue, &indices);
            let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("evaluation") });
            for c in start / chunk..end.div_ceil(chunk) {
                let slot = self.train_slots + c;
                let offset = c * chunk;
                let m = (end - offset).min(chunk);
                let at = if self.test.stream.is_some() { offset - start } else { offset };
                let s = StepUniform { m, offset: at, inv_m: 1.0 / m as f32, stats_slot: c + 1, batch: m, ..Default::default() };
                self.write_step(slot, s);
                // One pass per chunk: chunks reuse the same activation buffers.
                let mut pass =
                    enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("evaluation chunk"), timestamp_writes: None });
                for d in &self.eval_ops {
                    self.encode(&mut pass, d, m, slot);
                }
                self.last_rows = m;
            }
            self.ctx.queue.submit([enc.finish()]);
            start = end;
        }
        let bytes = (1 + chunks as u64) * 16;
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("evaluation readback") });
        enc.copy_buffer_to_buffer(&self.stats, 0, &self.staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let s = self.ctx.read_f32(&self.staging, bytes).await?;
        let mut out = EvalSums { n: self.n_test as usize, ..Default::default() };
        for c in 1..=chunks as usize {
            out.loss_sum += s[4 * c] as f64;
            out.correct += s[4 * c + 1] as f64;
        }
        Ok(out)
    }
}
