//! Shapes of the convolution and pooling stages (sizes, stride, TensorFlow's padding rule) and
//! their output sizes: what the model layout, the step plan, both engines and the CPU twins agree
//! on. The patch arithmetic of the CPU twins stays with them (`reference::conv2d`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    Same,
    Valid,
}

/// Shape of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dSpec {
    pub in_c: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_c: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride: usize,
    pub padding: Padding,
}

/// Output size along one axis and the padding before the first input (TensorFlow's rule; shared
/// by convolution and pooling).
pub fn out_and_pad(input: usize, k: usize, stride: usize, padding: Padding) -> (usize, usize) {
    match padding {
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + k).saturating_sub(input);
            (out, total / 2)
        }
        Padding::Valid => ((input - k) / stride + 1, 0),
    }
}

impl Conv2dSpec {
    /// (out_h, out_w, pad_top, pad_left).
    pub fn output(&self) -> (usize, usize, usize, usize) {
        let (oh, pt) = out_and_pad(self.in_h, self.k_h, self.stride, self.padding);
        let (ow, pl) = out_and_pad(self.in_w, self.k_w, self.stride, self.padding);
        (oh, ow, pt, pl)
    }

    pub fn in_len(&self) -> usize {
        self.in_c * self.in_h * self.in_w
    }

    pub fn out_len(&self) -> usize {
        let (oh, ow, _, _) = self.output();
        self.out_c * oh * ow
    }

    /// Output positions P.
    pub fn positions(&self) -> usize {
        let (oh, ow, _, _) = self.output();
        oh * ow
    }

    /// Length of one input patch, C_in·K_h·K_w.
    pub fn patch_len(&self) -> usize {
        self.in_c * self.k_h * self.k_w
    }

    pub fn filter_len(&self) -> usize {
        self.out_c * self.patch_len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    pub c: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub window: usize,
    pub stride: usize,
    pub padding: Padding,
}

impl PoolSpec {
    /// (out_h, out_w, pad_top, pad_left).
    pub fn output(&self) -> (usize, usize, usize, usize) {
        let (oh, pt) = out_and_pad(self.in_h, self.window, self.stride, self.padding);
        let (ow, pl) = out_and_pad(self.in_w, self.window, self.stride, self.padding);
        (oh, ow, pt, pl)
    }

    pub fn in_len(&self) -> usize {
        self.c * self.in_h * self.in_w
    }

    pub fn out_len(&self) -> usize {
        let (oh, ow, _, _) = self.output();
        self.c * oh * ow
    }
}
