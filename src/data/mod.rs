//! Data sets: what a training/test split holds, how it is named on the command line and in
//! URLs, and how it is packed for the GPU. Pure Rust, no wgpu.

pub mod bundle;
pub mod cifar;
pub mod files;
pub mod idx;
pub mod named;
pub mod sampler;
pub mod synthetic;

use crate::error::{config, CabsError, Result};
use serde::Serialize;

/// A copy of `bytes` whose allocation may fail: user files can be larger than the memory left
/// (a wasm heap is at most 4 GiB), and a failed infallible allocation aborts the engine.
pub fn try_copy(what: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut v = try_with_capacity(what, bytes.len())?;
    v.extend_from_slice(bytes);
    Ok(v)
}

/// An empty vector with room for `n` elements, or an error that names the size.
pub fn try_with_capacity<T>(what: &str, n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        CabsError::Data(format!(
            "{what}: {} MB do not fit in the memory left; use a smaller file or a subset",
            (n as u64 * std::mem::size_of::<T>() as u64).div_ceil(1 << 20)
        ))
    })?;
    Ok(v)
}

/// Feature storage. Images stay as bytes (4× smaller on the GPU, where a full-size data set
/// must fit in one storage binding); generated 2-D points are `f32`.
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    /// Grey levels; value = byte · `scale`.
    U8 {
        bytes: Vec<u8>,
        scale: f32,
    },
    F32(Vec<f32>),
}

/// One split (training or test): `n` examples of `dim` features and a class label each.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub features: Features,
    pub labels: Vec<u32>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Feature `j` of example `e` as the kernels see it.
    pub fn feature(&self, dim: usize, e: usize, j: usize) -> f32 {
        match &self.features {
            Features::U8 { bytes, scale } => bytes[e * dim + j] as f32 * scale,
            Features::F32(v) => v[e * dim + j],
        }
    }

    /// The features as 32-bit words for a GPU storage buffer: four bytes per word
    /// (little-endian, zero-padded) or the bits of each `f32`.
    pub fn gpu_words(&self) -> Vec<u32> {
        match &self.features {
            Features::U8 { bytes, .. } => bytes
                .chunks(4)
                .map(|c| {
                    let mut w = [0u8; 4];
                    w[..c.len()].copy_from_slice(c);
                    u32::from_le_bytes(w)
                })
                .collect(),
            Features::F32(v) => v.iter().map(|x| x.to_bits()).collect(),
        }
    }

    /// Bytes of [`Split::gpu_words`], without building them.
    pub fn gpu_bytes(&self) -> u64 {
        match &self.features {
            Features::U8 { bytes, .. } => bytes.len().div_ceil(4) as u64 * 4,
            Features::F32(v) => v.len() as u64 * 4,
        }
    }

    /// 0 for bytes, 1 for f32 (the `format` field of the gather kernel), and the byte scale.
    pub fn gpu_format(&self) -> (u32, f32) {
        match &self.features {
            Features::U8 { scale, .. } => (0, *scale),
            Features::F32(_) => (1, 1.0),
        }
    }
}

/// The shape of an image example, stored channel-major (`[C, H, W]`, row-major): `dim = c·h·w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ImageShape {
    pub c: u32,
    pub h: u32,
    pub w: u32,
}

impl ImageShape {
    pub fn len(&self) -> u32 {
        self.c * self.h * self.w
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A named data set with both splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub dim: u32,
    /// How the `dim` features form an image (None for points such as the 2-D sets).
    pub image: Option<ImageShape>,
    pub classes: u32,
    pub train: Split,
    pub test: Split,
}

impl Dataset {
    /// Bytes the features and labels of both splits take in an engine (for memory plans).
    pub fn memory_bytes(&self) -> u64 {
        [&self.train, &self.test].iter().map(|s| s.gpu_bytes() + s.labels.len() as u64 * 4).sum()
    }

    /// Check sizes and labels once, so that kernels can index without checks.
    pub fn validate(&self) -> Result<()> {
        if let Some(img) = self.image {
            if img.len() != self.dim {
                return Err(CabsError::Data(format!("'{}': image shape {img:?} does not hold {} features", self.name, self.dim)));
            }
        }
        for (what, s) in [("training", &self.train), ("test", &self.test)] {
            let n_feat = match &s.features {
                Features::U8 { bytes, .. } => bytes.len(),
                Features::F32(v) => v.len(),
            };
            if n_feat != s.len() * self.dim as usize {
                return Err(CabsError::Data(format!(
                    "{what} split of '{}' has {n_feat} feature values for {} examples of dimension {}",
                    self.name,
                    s.len(),
                    self.dim
                )));
            }
            if let Some(bad) = s.labels.iter().find(|&&y| y >= self.classes) {
                return Err(CabsError::Data(format!("{what} label {bad} of '{}' is not below {} classes", self.name, self.classes)));
            }
            if let Features::F32(v) = &s.features {
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(CabsError::Data(format!("{what} split of '{}' has a non-finite feature", self.name)));
                }
            }
        }
        if self.train.is_empty() {
            return Err(CabsError::Data(format!("'{}' has no training examples", self.name)));
        }
        Ok(())
    }
}

/// The built-in data set names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataName {
    Mnist,
    Spirals,
    Moons,
    Blobs,
}

impl DataName {
    pub fn parse(s: &str) -> Result<DataName> {
        Ok(match s {
            "mnist" => DataName::Mnist,
            "spirals" => DataName::Spirals,
            "moons" => DataName::Moons,
            "blobs" => DataName::Blobs,
            _ if named::FileSet::by_name(s).is_some() => {
                return config(format!(
                    "data set '{s}' is read from files by the command-line runner only (`cabs train --data {s}`, after `bash \
                     scripts/fetch-data.sh`); here use mnist, spirals, moons or blobs"
                ))
            }
            _ => return config(format!("unknown data set '{s}': use mnist, spirals, moons or blobs")),
        })
    }

    /// Generate a synthetic set (for `Mnist` the bundle file must be loaded instead).
    pub fn generate(self, seed: u64) -> Result<Dataset> {
        match self {
            DataName::Mnist => config("the MNIST bundle is a file: load it with data::bundle::parse"),
            DataName::Spirals => Ok(synthetic::spirals(seed)),
            DataName::Moons => Ok(synthetic::moons(seed)),
            DataName::Blobs => Ok(synthetic::blobs(seed)),
        }
    }
}
