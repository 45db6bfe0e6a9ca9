//! Turns each op of the step [`Plan`] into a [`Dispatch`], launch by launch: the buffers of each
//! launch come from [`Plan::bindings`], resolved slot by slot ([`Builder::resolve`]); the
//! pipeline, parameters and grid come from the family that owns the launch's kernel
//! ([`Builder::call`]: `gpu::matmul`, `gpu::conv` or `gpu::small`). Nothing here knows what an
//! op computes. Run once when the engine is made; nothing here runs per step.

use super::super::conv::{self, ConvKernels};
use super::super::kernels::{Call, Kernels, StepShape};
use super::dispatch::{storage, uniform, Dispatch};
use super::stream::SplitBufs;
use crate::plan::{Buf, Launch, Op, Plan, Signature, Slot};
use std::collections::BTreeMap;

/// Everything needed to build the dispatches of a plan.
pub(super) struct Builder<'a> {
    pub(super) device: &'a wgpu::Device,
    pub(super) kernels: Kernels,
    pub(super) conv: Option<ConvKernels>,
    pub(super) plan: &'a Plan,
    pub(super) bufs: &'a BTreeMap<Buf, wgpu::Buffer>,
    pub(super) perm: &'a wgpu::Buffer,
    pub(super) stats: &'a wgpu::Buffer,
    pub(super) m_max: u32,
    /// Examples per chunk (sizes the scratch buffers of split reductions).
    pub(super) chunk: u32,
    pub(super) n_partials: u32,
    pub(super) byte_scale: f32,
}

impl Builder<'_> {
    /// The buffers of one launch in binding order, resolved from its slots: the plan's named
    /// buffers, the data split the gather reads, the permutation, the stats, the op's scratch.
    fn resolve<'b>(&'b self, launch: &Launch, split: &'b SplitBufs, scratch: Option<&'b wgpu::Buffer>) -> Vec<&'b wgpu::Buffer> {
        launch
            .slots
            .iter()
            .map(|&(slot, _)| match slot {
                Slot::Buf(b) => &self.bufs[&b],
                Slot::DataFeatures => &split.features,
                Slot::DataLabels => &split.labels,
                Slot::Perm => self.perm,
                Slot::Stats => self.stats,
                Slot::Scratch => scratch.expect("ops with a scratch slot get one (conv::scratch)"),
            })
            .collect()
    }

    /// What the family of `signature`'s kernel chooses for `op`'s launch of it.
    fn call(&self, op: Op, signature: Signature, shape: &StepShape) -> Call<'_> {
        if signature == crate::plan::bindings::MATMUL {
            self.kernels.matmul.call(op, shape)
        } else if conv::owns(signature) {
            self.conv.as_ref().expect("conv pipelines exist for models with conv ops").call(op, signature, shape)
        } else {
            self.kernels.small.call(op, signature, shape)
        }
    }

    /// The dispatch of one op, and the ones that complete it (`then`: the fixed-order reduction
    /// of partial sums, or the inner products' dot); `split` is the data the gather reads.
    pub(super) fn build(&self, op: Op, split: &SplitBufs) -> Dispatch {
        let shape = StepShape {
            plan: self.plan,
            m_max: self.m_max,
            n_partials: self.n_partials,
            gather: split.gather,
            byte_scale: self.byte_scale,
        };
        let scratch = conv::scratch(self.plan, op, self.chunk).map(|(label, floats)| storage(self.device, label, floats * 4));
        let mut launches: Vec<Dispatch> = self
            .plan
            .bindings(op)
            .iter()
            .map(|launch| {
                let call = self.call(op, launch.signature, &shape);
                let buffers = self.resolve(launch, split, scratch.as_ref());
                let params = uniform(self.device, &format!("{} params", launch.signature.kernel), &call.params);
                let mut all = vec![&params];
                all.extend_from_slice(&buffers);
                Dispatch {
                    op,
                    kernel: call.kernel.label,
                    pipeline: call.pipeline.unwrap_or_else(|| call.kernel.pipeline.clone()),
                    group: call.kernel.bind(self.device, &all),
                    bound: buffers.iter().map(|&b| b.clone()).collect(),
                    grid: call.grid,
                    small: call.small,
                    then: None,
                }
            })
            .collect();
        let mut first = launches.pop().expect("every op launches a kernel (Plan::bindings)");
        while let Some(mut before) = launches.pop() {
            before.then = Some(Box::new(first));
            first = before;
        }
        first
    }
}
