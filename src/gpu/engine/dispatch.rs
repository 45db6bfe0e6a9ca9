//! One pre-built dispatch per plan op ([`Dispatch`]) and how its workgroup grid follows the
//! chunk's rows ([`Grid`]), plus the buffer constructors the engine uses everywhere. Kept apart
//! from the builder so that what a dispatch *is* reads in one screen, whatever op made it.

use crate::plan::Op;
use wgpu::util::DeviceExt;

pub(super) const COPY: wgpu::BufferUsages = wgpu::BufferUsages::COPY_SRC.union(wgpu::BufferUsages::COPY_DST);

/// One pre-built dispatch of a plan op: pipeline, group-0 bind group, and how to size the grid.
pub(super) struct Dispatch {
    pub(super) op: Op,
    /// The kernel's label (its [`crate::plan::Signature`]'s name).
    pub(super) kernel: &'static str,
    pub(super) pipeline: wgpu::ComputePipeline,
    pub(super) group: wgpu::BindGroup,
    /// The storage buffers of `group`, in binding order (what [`super::GpuEngine::bound`] reports).
    pub(super) bound: Vec<wgpu::Buffer>,
    pub(super) grid: Grid,
    /// For chunks of at most this many rows: another pipeline with the same bindings and its
    /// grid (the matmul's 16-row tiles).
    pub(super) small: Option<(u32, wgpu::ComputePipeline, Grid)>,
    /// A second dispatch that completes the op (the fixed-order reduction of partial sums).
    pub(super) then: Option<Box<Dispatch>>,
}

impl Dispatch {
    /// The pipeline and grid for a chunk of `m` rows.
    pub(super) fn pick(&self, m: u32) -> (&wgpu::ComputePipeline, Grid) {
        match &self.small {
            Some((rows, pipeline, grid)) if m <= *rows => (pipeline, *grid),
            _ => (&self.pipeline, self.grid),
        }
    }

    /// The most workgroups along one dimension, this dispatch and the one that completes it.
    pub(super) fn widest(&self, chunk: u32) -> u32 {
        let mine = self.grid.widest(chunk).max(self.small.as_ref().map_or(0, |s| s.2.widest(chunk)));
        mine.max(self.then.as_ref().map_or(0, |t| t.widest(chunk)))
    }
}

/// Workgroup counts as a function of the rows m of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// (ceil(x / wx), ceil(m / wy)) — kernels over a batch of rows.
    Rows { x: u32, wx: u32, wy: u32 },
    /// (ceil(x / wx), ceil(y / wy)) — independent of m.
    Fixed { x: u32, wx: u32, y: u32, wy: u32 },
    /// (ceil(m / w), 1) — one thread (or workgroup, w = 1) per example.
    Examples { w: u32 },
    /// (ceil(m·per_row / w), y) — implicit-GEMM convolutions, whose columns run over the
    /// chunk's examples × positions.
    ExampleCols { per_row: u32, w: u32, y: u32 },
    /// (x, y·ceil(m·per_row / w)) — y rows of workgroups per split of the chunk's examples ×
    /// positions (filter gradient), or per example (per_row = w = 1: exact conv norms).
    ExampleSplits { x: u32, y: u32, per_row: u32, w: u32 },
}

impl Grid {
    /// The workgroups of a dispatch over a chunk of `m` rows.
    pub fn size(self, m: u32) -> (u32, u32) {
        match self {
            Grid::Rows { x, wx, wy } => (x.div_ceil(wx), m.div_ceil(wy)),
            Grid::Fixed { x, wx, y, wy } => (x.div_ceil(wx), y.div_ceil(wy)),
            Grid::Examples { w } => (m.div_ceil(w), 1),
            Grid::ExampleCols { per_row, w, y } => ((m * per_row).div_ceil(w), y),
            Grid::ExampleSplits { x, y, per_row, w } => (x, y * (m * per_row).div_ceil(w).max(1)),
        }
    }

    /// The most workgroups along one dimension for chunks of up to `chunk` rows.
    pub(super) fn widest(self, chunk: u32) -> u32 {
        let (x, y) = self.size(chunk);
        x.max(y)
    }
}

pub(super) fn storage(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE | COPY,
        mapped_at_creation: false,
    })
}

pub(super) fn storage_init(device: &wgpu::Device, label: &str, words: &[u32]) -> wgpu::Buffer {
    let data: &[u32] = if words.is_empty() { &[0; 4] } else { words };
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(data),
        usage: wgpu::BufferUsages::STORAGE | COPY,
    })
}

/// A uniform buffer holding `bytes` (a kernel's parameters: [`crate::gpu::kernels::Call`]).
pub(super) fn uniform(device: &wgpu::Device, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytes, usage: wgpu::BufferUsages::UNIFORM })
}
