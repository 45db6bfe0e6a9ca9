//! Reading GPU buffers back to the host for tests, probes and the parameters: never part of a
//! plain training step, which reads back only its 16 bytes of sums.

use super::GpuEngine;
use crate::error::Result;
use crate::plan::Buf;
use crate::plan::{ConvSnapshot, Snapshot};

impl GpuEngine {
    /// Copy the first `len` f32s of each buffer to the CPU (tests, probes; not per step).
    async fn read_many(&self, what: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<f32>>> {
        let total: u64 = what.iter().map(|(_, n)| n * 4).sum();
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("debug readback"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("debug readback") });
        let mut at = 0;
        for (buf, n) in what {
            if *n > 0 {
                enc.copy_buffer_to_buffer(buf, 0, &staging, at, n * 4);
            }
            at += n * 4;
        }
        self.ctx.queue.submit([enc.finish()]);
        let all = self.ctx.read_f32(&staging, total.max(4)).await?;
        let mut out = Vec::new();
        let mut at = 0usize;
        for (_, n) in what {
            out.push(all[at..at + *n as usize].to_vec());
            at += *n as usize;
        }
        Ok(out)
    }

    pub async fn params(&self) -> Result<Vec<f32>> {
        Ok(self.read_many(&[(&self.bufs[&Buf::Params], self.plan.layout.param_count as u64)]).await?.remove(0))
    }

    /// The last step's per-example inner products p_i, first `m` (tests; not part of a step).
    pub async fn inner_products(&self, m: u32) -> Result<Vec<f32>> {
        Ok(self.read_many(&[(&self.bufs[&Buf::Inner], m as u64)]).await?.remove(0))
    }

    /// The first `m` values of every per-example norm row, and the first `grad_len` gradient
    /// entries (one readback; for the conv-ξ comparison, not part of a plain step).
    pub async fn norm_rows_and_grads(&self, m: u32, grad_len: usize) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
        let rows = self.plan.norm_rows() as u64 * self.m_max as u64;
        let mut r = self.read_many(&[(&self.bufs[&Buf::Norms], rows), (&self.bufs[&Buf::Grads], grad_len as u64)]).await?;
        let grads = r.pop().unwrap_or_default();
        let flat = r.pop().unwrap_or_default();
        Ok((flat.chunks(self.m_max as usize).map(|row| row[..m as usize].to_vec()).collect(), grads))
    }

    /// Every buffer after the last step of batch size `m`: the per-example statistics of the
    /// whole batch, the per-chunk buffers of its last chunk.
    pub async fn snapshot(&self, m: u32) -> Result<Snapshot> {
        let (m, r) = (m as u64, self.last_rows as u64);
        let lay = &self.plan.layout;
        let b = |x: Buf| &self.bufs[&x];
        let mut what: Vec<(&wgpu::Buffer, u64)> = vec![
            (b(Buf::Labels), r),
            (b(Buf::Losses), m),
            (b(Buf::Correct), m),
            (b(Buf::Grads), lay.param_count as u64),
            (b(Buf::Params), lay.param_count as u64),
            (b(Buf::Partials), self.n_partials as u64),
            (b(Buf::Norms), self.plan.norm_rows() as u64 * self.m_max as u64),
            (b(Buf::Input), r * lay.input_dim as u64),
        ];
        if let Some(p) = lay.prep {
            what.push((b(Buf::Prepped), r * p.output.len() as u64));
        }
        for (s, c) in lay.convs.iter().enumerate() {
            let conv = r * c.conv.out_len() as u64;
            what.extend([(b(Buf::ConvOut(s)), conv), (b(Buf::DConv(s)), conv)]);
            if let Some(p) = c.pool {
                let pooled = r * p.out_len() as u64;
                what.extend([(b(Buf::PoolOut(s)), pooled), (b(Buf::Arg(s)), pooled), (b(Buf::DPool(s)), pooled)]);
            }
        }
        what.push((b(self.plan.layer_input(0)), r * lay.layers[0].d_in as u64));
        for (l, d) in lay.layers.iter().enumerate() {
            what.push((b(Buf::Act(l)), r * d.d_out as u64));
            what.push((b(Buf::Delta(l)), r * d.d_out as u64));
        }
        let mut it = self.read_many(&what).await?.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let labels = next().into_iter().map(f32::to_bits).collect();
        let (losses, correct, grads, params, partials, norms_flat, input) = (next(), next(), next(), next(), next(), next(), next());
        let prepped = if lay.prep.is_some() { next() } else { Vec::new() };
        let convs = lay
            .convs
            .iter()
            .map(|c| {
                let (conv_out, d_conv) = (next(), next());
                let (pool_out, arg, d_pool) = match c.pool {
                    Some(_) => (next(), next().into_iter().map(f32::to_bits).collect(), next()),
                    None => (Vec::new(), Vec::new(), Vec::new()),
                };
                ConvSnapshot { conv_out, pool_out, arg, d_pool, d_conv }
            })
            .collect();
        let mut acts = vec![next()];
        let mut deltas = Vec::new();
        for _ in 0..lay.layers.len() {
            acts.push(next());
            deltas.push(next());
        }
        let norms = norms_flat.chunks(self.m_max as usize).map(|row| row[..m as usize].to_vec()).collect();
        Ok(Snapshot { rows: r as usize, labels, input, prepped, convs, acts, deltas, grads, params, losses, correct, norms, partials })
    }
}
