//! The data splits on the GPU: resident (the whole split, read through the permutation) or
//! streamed (a split larger than one storage binding, copied in batch order per step). Apart
//! from the engine because only the gather and the upload before a submission see the difference.

use super::super::small::GatherParams;
use super::dispatch::{storage, storage_init};
use crate::data::{Features, Split};

/// A data split on the GPU: its features (packed bytes or f32 bits) and labels. Resident: the
/// whole split, read through the permutation. Streamed (a split larger than one storage binding,
/// e.g. full CIFAR-10 on a 128 MiB adapter): buffers of `rows` examples into which each step or
/// evaluation group copies its examples in batch order; the gather then reads them in place.
pub(super) struct SplitBufs {
    pub(super) features: wgpu::Buffer,
    pub(super) labels: wgpu::Buffer,
    /// The gather's parameters for this split (how its features are stored).
    pub(super) gather: GatherParams,
    pub(super) stream: Option<Stream>,
}

pub(super) struct Stream {
    pub(super) split: Split,
    pub(super) dim: usize,
    pub(super) rows: u32,
}

impl SplitBufs {
    pub(super) fn new(device: &wgpu::Device, split: &Split, dim: u32, name: &str, stream_rows: Option<u32>) -> SplitBufs {
        let (format, scale) = split.gpu_format();
        let gather = GatherParams { dim, format, scale, _pad: 0 };
        match stream_rows {
            None => SplitBufs {
                features: storage_init(device, &format!("{name} features"), &split.gpu_words()),
                labels: storage_init(device, &format!("{name} labels"), &split.labels),
                gather,
                stream: None,
            },
            Some(rows) => {
                let words = match format {
                    0 => (rows as u64 * dim as u64).div_ceil(4),
                    _ => rows as u64 * dim as u64,
                };
                SplitBufs {
                    features: storage(device, &format!("{name} features (streamed)"), words * 4),
                    labels: storage(device, &format!("{name} labels (streamed)"), rows as u64 * 4),
                    gather,
                    stream: Some(Stream { split: split.clone(), dim: dim as usize, rows }),
                }
            }
        }
    }

    /// Copy the examples `indices` (in this order) into the streamed buffers; a no-op when resident.
    pub(super) fn upload(&self, queue: &wgpu::Queue, indices: &[u32]) {
        let Some(s) = &self.stream else { return };
        debug_assert!(indices.len() <= s.rows as usize);
        let mut bytes = Vec::with_capacity(indices.len() * s.dim * 4);
        match &s.split.features {
            Features::U8 { bytes: b, .. } => {
                for &e in indices {
                    bytes.extend_from_slice(&b[e as usize * s.dim..(e as usize + 1) * s.dim]);
                }
                bytes.resize(bytes.len().next_multiple_of(4), 0);
            }
            Features::F32(v) => {
                for &e in indices {
                    bytes.extend_from_slice(bytemuck::cast_slice(&v[e as usize * s.dim..(e as usize + 1) * s.dim]));
                }
            }
        }
        let labels: Vec<u32> = indices.iter().map(|&e| s.split.labels[e as usize]).collect();
        if !bytes.is_empty() {
            queue.write_buffer(&self.features, 0, &bytes);
            queue.write_buffer(&self.labels, 0, bytemuck::cast_slice(&labels));
        }
    }
}
