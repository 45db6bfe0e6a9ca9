//! Network shapes and the flat parameter layout shared by the GPU kernels and the CPU twin.
//!
//! A model is an optional input transform (centre crop, per-image standardisation), then
//! convolution stages (conv + ReLU, optionally max-pool), then dense layers, then softmax
//! cross-entropy. Parameters live in one flat `f32` array, tensors in model order: conv `s`
//! owns its filters (`[C_out, C_in, K, K]`, PyTorch's convention) followed by its bias; dense
//! layer `l` owns `W` (`[d_out, d_in]`, row-major: `W[j, k]` at `w_offset + j·d_in + k`, the
//! PyTorch `Linear` convention) followed by `b`. The gradient buffer has the same layout.
//! Convolution outputs are flattened channel-major (`[C, H, W]`) into the first dense layer.

pub mod epilogue;
pub mod shapes;

use crate::data::ImageShape;
use crate::error::{config, Result};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use shapes::{Conv2dSpec, Padding, PoolSpec};
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    Tanh,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }
}

/// Max-pooling after a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStageSpec {
    pub window: u32,
    pub stride: u32,
    pub padding: Padding,
}

/// One convolution stage: `channels` filters of `kernel × kernel`, then ReLU, then the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvStageSpec {
    pub kernel: u32,
    pub channels: u32,
    pub stride: u32,
    pub padding: Padding,
    pub pool: Option<PoolStageSpec>,
}

/// How one layer's parameters start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerInit {
    /// Standard deviation of the truncated normal (±2σ) for the weights.
    pub weight_std: f64,
    pub bias: f32,
}

/// A network: input transform, convolution stages, dense layers. Serialised as its label.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// The preset's name (`cnn-mnist`, …), which is also its label.
    pub preset: Option<&'static str>,
    /// Centre crop to `crop × crop` (images only).
    pub crop: Option<u32>,
    /// Per-image standardisation, as TensorFlow's `per_image_standardization`.
    pub standardize: bool,
    pub convs: Vec<ConvStageSpec>,
    /// Widths of the hidden dense layers; empty for logistic regression.
    pub hidden: Vec<u32>,
    /// Activation of the hidden dense layers (convolutions always use ReLU).
    pub activation: Activation,
    /// One entry per layer (convolutions, then dense layers), or empty for He/LeCun normal
    /// weights and zero biases.
    pub init: Vec<LayerInit>,
}

/// The named models and what they are, for help texts and the page.
pub const PRESETS: [(&str, &str); 3] = [
    ("cnn-mnist", "the paper's MNIST net: conv5×5×32, pool, conv5×5×64, pool, dense 1024, dense 10"),
    ("cnn-cifar", "the paper's CIFAR-10 net: crop 24×24, standardise, conv5×5×64, pool3/2, conv5×5×64, pool3/2, dense 384, 192, 10"),
    ("cnn-small", "a small CNN for interactive use: conv5×5×8, pool, conv5×5×16, pool, dense 10"),
];

fn conv(kernel: u32, channels: u32, pool: (u32, u32)) -> ConvStageSpec {
    ConvStageSpec {
        kernel,
        channels,
        stride: 1,
        padding: Padding::Same,
        pool: Some(PoolStageSpec { window: pool.0, stride: pool.1, padding: Padding::Same }),
    }
}

fn preset(name: &str) -> Option<ModelSpec> {
    let init = |pairs: &[(f64, f32)]| pairs.iter().map(|&(weight_std, bias)| LayerInit { weight_std, bias }).collect();
    let base = |preset, convs, hidden| ModelSpec {
        preset: Some(preset),
        crop: None,
        standardize: false,
        convs,
        hidden,
        activation: Activation::Relu,
        init: Vec::new(),
    };
    Some(match name {
        // Truncated normal σ = 0.01 everywhere, biases 0.05: the reference code's init
        // (docs/METHOD.md, "The paper's models and initialisation").
        "cnn-mnist" => {
            ModelSpec { init: init(&[(0.01, 0.05); 4]), ..base("cnn-mnist", vec![conv(5, 32, (2, 2)), conv(5, 64, (2, 2))], vec![1024]) }
        }
        // The TensorFlow CIFAR-10 tutorial's net and init, which the paper used (without the
        // tutorial's local response normalisation, which the authors' model leaves out too).
        "cnn-cifar" => ModelSpec {
            crop: Some(24),
            standardize: true,
            init: init(&[(0.05, 0.0), (0.05, 0.1), (0.04, 0.1), (0.04, 0.1), (1.0 / 192.0, 0.0)]),
            ..base("cnn-cifar", vec![conv(5, 64, (3, 2)), conv(5, 64, (3, 2))], vec![384, 192])
        },
        "cnn-small" => base("cnn-small", vec![conv(5, 8, (2, 2)), conv(5, 16, (2, 2))], vec![]),
        _ => return None,
    })
}

impl ModelSpec {
    /// Parse a preset name, `logreg`, or `mlp:H1[,H2…]`, the latter two optionally followed by
    /// `:tanh` or `:relu` (default relu).
    pub fn parse(s: &str) -> Result<ModelSpec> {
        if let Some(p) = preset(s) {
            return Ok(p);
        }
        let mut parts = s.split(':');
        let kind = parts.next().unwrap_or("");
        let (hidden, act) = match kind {
            "logreg" => (Vec::new(), parts.next()),
            "mlp" => {
                let widths = parts
                    .next()
                    .ok_or_else(|| crate::CabsError::Config(format!("model '{s}' needs hidden widths, e.g. mlp:256 or mlp:128,64")))?;
                let hidden = widths
                    .split(',')
                    .map(|w| match w.trim().parse::<u32>() {
                        Ok(h) if (1..=65_536).contains(&h) => Ok(h),
                        _ => config(format!("hidden width '{w}' in model '{s}' must be a whole number from 1 to 65536")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                (hidden, parts.next())
            }
            _ => return config(format!("unknown model '{s}': use logreg, mlp:H1[,H2…][:tanh], cnn-mnist, cnn-cifar or cnn-small")),
        };
        let activation = match act {
            None | Some("relu") => Activation::Relu,
            Some("tanh") => Activation::Tanh,
            Some(a) => return config(format!("unknown activation '{a}' in model '{s}': use relu or tanh")),
        };
        if parts.next().is_some() {
            return config(format!("model '{s}' has too many ':' parts"));
        }
        Ok(ModelSpec { preset: None, crop: None, standardize: false, convs: Vec::new(), hidden, activation, init: Vec::new() })
    }

    /// The canonical text form, the inverse of [`ModelSpec::parse`].
    pub fn label(&self) -> String {
        if let Some(p) = self.preset {
            return p.into();
        }
        if self.hidden.is_empty() {
            return "logreg".into();
        }
        let widths: Vec<String> = self.hidden.iter().map(|h| h.to_string()).collect();
        match self.activation {
            Activation::Relu => format!("mlp:{}", widths.join(",")),
            Activation::Tanh => format!("mlp:{}:tanh", widths.join(",")),
        }
    }

    pub fn is_convolutional(&self) -> bool {
        !self.convs.is_empty() || self.crop.is_some() || self.standardize
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<ModelSpec, D::Error> {
        let label = String::deserialize(d)?;
        ModelSpec::parse(&label).map_err(serde::de::Error::custom)
    }
}

/// One dense layer's place in the flat parameter array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseLayer {
    pub d_in: u32,
    pub d_out: u32,
    pub w_offset: u32,
    pub b_offset: u32,
    /// Whether the activation follows this layer (all but the last).
    pub activated: bool,
}

/// One convolution stage's shapes and place in the flat parameter array. Its output (what the
/// next stage reads) is the pool's output if there is a pool, else the ReLU'd convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvLayer {
    pub conv: Conv2dSpec,
    pub pool: Option<PoolSpec>,
    pub w_offset: u32,
    pub b_offset: u32,
}

impl ConvLayer {
    /// Values per example after the stage (pooled if pooling).
    pub fn out_len(&self) -> usize {
        self.pool.map_or(self.conv.out_len(), |p| p.out_len())
    }

    pub fn out_shape(&self) -> ImageShape {
        let (h, w) = match self.pool {
            Some(p) => (p.output().0, p.output().1),
            None => (self.conv.output().0, self.conv.output().1),
        };
        ImageShape { c: self.conv.out_c as u32, h: h as u32, w: w as u32 }
    }
}

/// The input transform of an image model: centre crop and/or per-image standardisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prep {
    pub input: ImageShape,
    pub output: ImageShape,
    pub standardize: bool,
}

impl Prep {
    /// Top-left corner of the crop (TensorFlow's `resize_image_with_crop_or_pad` rounding).
    pub fn offset(&self) -> (u32, u32) {
        ((self.input.h - self.output.h) / 2, (self.input.w - self.output.w) / 2)
    }
}

/// A model bound to an input shape and a number of classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Features per example, as stored in the data set.
    pub input_dim: u32,
    pub prep: Option<Prep>,
    pub convs: Vec<ConvLayer>,
    pub layers: Vec<DenseLayer>,
    pub activation: Activation,
    pub param_count: u32,
    init: Vec<LayerInit>,
}

/// A named parameter tensor, for export (probe files, per-tensor statistics).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<u32>,
    pub offset: u32,
    pub len: u32,
}

const MAX_PARAMS: u64 = 1 << 28;

impl Layout {
    /// A dense model on `d_in` features.
    pub fn new(spec: &ModelSpec, d_in: u32, classes: u32) -> Result<Layout> {
        Self::for_input(spec, d_in, None, classes)
    }

    /// A model on examples of `dim` features that form `image` (if they are images).
    pub fn for_input(spec: &ModelSpec, dim: u32, image: Option<ImageShape>, classes: u32) -> Result<Layout> {
        if dim == 0 || classes < 2 {
            return config(format!("a model needs ≥ 1 input and ≥ 2 classes, got {dim} and {classes}"));
        }
        let mut offset: u64 = 0;
        let mut take = |len: u64, what: &str| -> Result<u32> {
            let at = offset;
            offset += len;
            if offset > MAX_PARAMS {
                return config(format!("model has more than 2^28 parameters ({what}); choose smaller widths"));
            }
            Ok(at as u32)
        };
        let mut prep = None;
        let mut convs = Vec::new();
        let mut features = dim;
        if spec.is_convolutional() {
            let label = spec.label();
            let Some(mut shape) = image.filter(|i| i.len() == dim) else {
                return config(format!("model '{label}' needs image data (MNIST, IDX or CIFAR-10 files), not {dim} plain features"));
            };
            if spec.crop.is_some() || spec.standardize {
                let crop = spec.crop.unwrap_or(shape.h.min(shape.w));
                if shape.h < crop || shape.w < crop {
                    return config(format!("model '{label}' crops to {crop}×{crop}, but the images are {}×{}", shape.h, shape.w));
                }
                let output = ImageShape { c: shape.c, h: crop, w: crop };
                prep = Some(Prep { input: shape, output, standardize: spec.standardize });
                shape = output;
            }
            for (s, c) in spec.convs.iter().enumerate() {
                let conv = Conv2dSpec {
                    in_c: shape.c as usize,
                    in_h: shape.h as usize,
                    in_w: shape.w as usize,
                    out_c: c.channels as usize,
                    k_h: c.kernel as usize,
                    k_w: c.kernel as usize,
                    stride: c.stride as usize,
                    padding: c.padding,
                };
                if c.padding == Padding::Valid && (shape.h < c.kernel || shape.w < c.kernel) {
                    return config(format!("model '{label}': conv {s} needs at least {0}×{0} inputs", c.kernel));
                }
                let pool = c.pool.map(|p| PoolSpec {
                    c: c.channels as usize,
                    in_h: conv.output().0,
                    in_w: conv.output().1,
                    window: p.window as usize,
                    stride: p.stride as usize,
                    padding: p.padding,
                });
                let w_offset = take(conv.filter_len() as u64, "conv")?;
                let b_offset = take(conv.out_c as u64, "conv")?;
                let layer = ConvLayer { conv, pool, w_offset, b_offset };
                shape = layer.out_shape();
                if shape.is_empty() {
                    return config(format!("model '{label}': the images are too small for conv stage {s}"));
                }
                convs.push(layer);
            }
            features = shape.len();
        }
        let mut widths = vec![features];
        widths.extend(&spec.hidden);
        widths.push(classes);
        let mut layers = Vec::new();
        for (l, w) in widths.windows(2).enumerate() {
            let (d_in, d_out) = (w[0], w[1]);
            let w_offset = take(d_in as u64 * d_out as u64, "dense")?;
            let b_offset = take(d_out as u64, "dense")?;
            layers.push(DenseLayer { d_in, d_out, w_offset, b_offset, activated: l + 2 < widths.len() });
        }
        if !spec.init.is_empty() && spec.init.len() != convs.len() + layers.len() {
            return config(format!(
                "model '{}' has {} initialisers for {} layers",
                spec.label(),
                spec.init.len(),
                convs.len() + layers.len()
            ));
        }
        Ok(Layout { input_dim: dim, prep, convs, layers, activation: spec.activation, param_count: offset as u32, init: spec.init.clone() })
    }

    pub fn input_dim(&self) -> u32 {
        self.input_dim
    }

    pub fn classes(&self) -> u32 {
        self.layers[self.layers.len() - 1].d_out
    }

    /// Parameter tensors, and rows of per-example squared norms, counted.
    pub fn n_tensors(&self) -> usize {
        2 * (self.convs.len() + self.layers.len())
    }

    /// Parameter tensors in storage order: `conv0.weight`, `conv0.bias`, …, `dense0.weight`,
    /// `dense0.bias`, ….
    pub fn tensors(&self) -> Vec<TensorInfo> {
        let mut out = Vec::new();
        for (s, c) in self.convs.iter().enumerate() {
            let k = &c.conv;
            out.push(TensorInfo {
                name: format!("conv{s}.weight"),
                shape: [k.out_c, k.in_c, k.k_h, k.k_w].map(|v| v as u32).to_vec(),
                offset: c.w_offset,
                len: k.filter_len() as u32,
            });
            out.push(TensorInfo { name: format!("conv{s}.bias"), shape: vec![k.out_c as u32], offset: c.b_offset, len: k.out_c as u32 });
        }
        for (l, d) in self.layers.iter().enumerate() {
            out.push(TensorInfo {
                name: format!("dense{l}.weight"),
                shape: vec![d.d_out, d.d_in],
                offset: d.w_offset,
                len: d.d_out * d.d_in,
            });
            out.push(TensorInfo { name: format!("dense{l}.bias"), shape: vec![d.d_out], offset: d.b_offset, len: d.d_out });
        }
        out
    }

    /// Initial parameters. With the model's own initialisers: truncated normal weights and
    /// constant biases per layer. Otherwise normal weights with std √(2/fan_in) (He) for layers
    /// followed by ReLU and √(1/fan_in) (LeCun) for layers followed by tanh or softmax; biases zero.
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = Rng::derive(seed, 1);
        let mut p = vec![0.0f32; self.param_count as usize];
        let mut spans: Vec<(u32, u32, u32, u32, bool)> =
            self.convs.iter().map(|c| (c.w_offset, c.b_offset, c.conv.out_c as u32, c.conv.patch_len() as u32, true)).collect();
        spans.extend(self.layers.iter().map(|d| (d.w_offset, d.b_offset, d.d_out, d.d_in, d.activated)));
        for (i, (w_off, b_off, n_bias, fan_in, activated)) in spans.into_iter().enumerate() {
            let w = w_off as usize..b_off as usize;
            let b = b_off as usize..(b_off + n_bias) as usize;
            match self.init.get(i) {
                Some(init) => {
                    fill_weights(&mut rng, &mut p[w], init.weight_std, Rng::truncated_normal);
                    p[b].fill(init.bias);
                }
                None => {
                    let relu = activated && (i < self.convs.len() || self.activation == Activation::Relu);
                    let std = (if relu { 2.0 } else { 1.0 } / fan_in as f64).sqrt();
                    fill_weights(&mut rng, &mut p[w], std, Rng::normal);
                }
            }
        }
        p
    }
}

/// `w[i] = draw() · std` in order, in slices of [`INIT_SLICE`] weights, each filled by a call
/// that is not inlined: in a browser a wasm function runs as baseline code until a later call
/// of it gets the optimised code, so one loop over all weights would run unoptimised to its end.
fn fill_weights<D: Fn(&mut Rng) -> f64>(rng: &mut Rng, w: &mut [f32], std: f64, draw: D) {
    #[inline(never)]
    fn fill_slice<D: Fn(&mut Rng) -> f64>(rng: &mut Rng, w: &mut [f32], std: f64, draw: &D) {
        for v in w {
            *v = (draw(rng) * std) as f32;
        }
    }
    for part in w.chunks_mut(INIT_SLICE) {
        fill_slice(rng, part, std, &draw);
    }
}

/// Weights per [`fill_weights`] call.
const INIT_SLICE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_layout() {
        let m = ModelSpec::parse("mlp:256").unwrap();
        let l = Layout::new(&m, 784, 10).unwrap();
        assert_eq!(l.param_count, 784 * 256 + 256 + 256 * 10 + 10);
        assert_eq!(l.layers[1].w_offset, 784 * 256 + 256);
        assert!(l.layers[0].activated && !l.layers[1].activated);
        assert_eq!(ModelSpec::parse("mlp:8,4:tanh").unwrap().label(), "mlp:8,4:tanh");
        assert_eq!(ModelSpec::parse("logreg").unwrap().hidden.len(), 0);
        for bad in ["mlp", "mlp:", "mlp:0", "mlp:a", "cnn", "mlp:4:sigmoid", "mlp:4:relu:x", "cnn-mnist:tanh"] {
            assert!(ModelSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paper_models_have_the_papers_shapes() {
        let mnist = ImageShape { c: 1, h: 28, w: 28 };
        let l = Layout::for_input(&ModelSpec::parse("cnn-mnist").unwrap(), 784, Some(mnist), 10).unwrap();
        assert_eq!(l.convs[1].out_shape(), ImageShape { c: 64, h: 7, w: 7 });
        assert_eq!(l.layers[0].d_in, 3136);
        let p = 5 * 5 * 32 + 32 + 5 * 5 * 32 * 64 + 64 + 3136 * 1024 + 1024 + 1024 * 10 + 10;
        assert_eq!(l.param_count, p);
        let names: Vec<String> = l.tensors().into_iter().map(|t| t.name).collect();
        assert_eq!(names[..3], ["conv0.weight", "conv0.bias", "conv1.weight"]);
        assert_eq!(l.n_tensors(), 8);
        let init = l.init_params(3);
        assert_eq!(init[l.convs[0].b_offset as usize], 0.05);
        assert!(init[..800].iter().all(|w| w.abs() <= 0.02) && init[..800].iter().any(|w| *w != 0.0));

        let cifar = ImageShape { c: 3, h: 32, w: 32 };
        let l = Layout::for_input(&ModelSpec::parse("cnn-cifar").unwrap(), 3072, Some(cifar), 10).unwrap();
        assert_eq!(l.prep.unwrap().output, ImageShape { c: 3, h: 24, w: 24 });
        assert_eq!(l.prep.unwrap().offset(), (4, 4));
        assert_eq!(l.convs[0].out_shape(), ImageShape { c: 64, h: 12, w: 12 });
        assert_eq!(l.layers.iter().map(|d| d.d_in).collect::<Vec<_>>(), [2304, 384, 192]);

        let err = Layout::for_input(&ModelSpec::parse("cnn-small").unwrap(), 2, None, 3).unwrap_err().to_string();
        assert!(err.contains("needs image data"), "{err}");
        let tiny = ImageShape { c: 1, h: 20, w: 20 };
        let err = Layout::for_input(&ModelSpec::parse("cnn-cifar").unwrap(), 400, Some(tiny), 10).unwrap_err().to_string();
        assert!(err.contains("crops to 24×24"), "{err}");
    }

    /// The weights as one plain loop per layer draws them, the way they were first defined.
    fn plain_init(l: &Layout, seed: u64) -> Vec<f32> {
        let mut rng = Rng::derive(seed, 1);
        let mut p = vec![0.0f32; l.param_count as usize];
        let mut i = 0;
        for c in &l.convs {
            let init = l.init.get(i).copied();
            for v in &mut p[c.w_offset as usize..c.b_offset as usize] {
                *v = match init {
                    Some(init) => (rng.truncated_normal() * init.weight_std) as f32,
                    None => (rng.normal() * (2.0 / c.conv.patch_len() as f64).sqrt()) as f32,
                };
            }
            p[c.b_offset as usize..c.b_offset as usize + c.conv.out_c].fill(init.map_or(0.0, |i| i.bias));
            i += 1;
        }
        for d in &l.layers {
            let init = l.init.get(i).copied();
            let relu = d.activated && l.activation == Activation::Relu;
            for v in &mut p[d.w_offset as usize..d.b_offset as usize] {
                *v = match init {
                    Some(init) => (rng.truncated_normal() * init.weight_std) as f32,
                    None => (rng.normal() * (if relu { 2.0 } else { 1.0 } / d.d_in as f64).sqrt()) as f32,
                };
            }
            p[d.b_offset as usize..(d.b_offset + d.d_out) as usize].fill(init.map_or(0.0, |i| i.bias));
            i += 1;
        }
        p
    }

    #[test]
    fn init_params_draws_the_weights_of_one_plain_loop_bit_for_bit() {
        let mnist = Some(ImageShape { c: 1, h: 28, w: 28 });
        for (model, dim, image) in [
            ("mlp:256", 784, None),
            ("mlp:64,32:tanh", 784, None),
            ("logreg", 2, None),
            ("cnn-small", 784, mnist),
            ("cnn-mnist", 784, mnist),
        ] {
            let l = Layout::for_input(&ModelSpec::parse(model).unwrap(), dim, image, 10).unwrap();
            for seed in [1, 7] {
                let (got, want) = (l.init_params(seed), plain_init(&l, seed));
                assert!(got.len() > INIT_SLICE || model == "logreg" || model == "cnn-small", "{model}: several slices");
                let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same && got.len() == want.len(), "{model}, seed {seed}: the weights differ from the plain loop's");
            }
        }
    }
}
