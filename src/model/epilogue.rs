//! The epilogue flag bits of the kernels, defined once: the matmul's epilogue
//! (`shaders/matmul.wgsl`), the convolutions' and pools' flags (`shaders/conv_params.wgsl`) and
//! their CPU twins (`reference::matmul`, `fast::gemm`) all use these values. The plan picks them
//! per op ([`activation_flag`], [`derivative_flag`]), so this sits low in the layer order, beside
//! [`Activation`], where the plan, the twins and the GPU side can all import it. The WGSL copies
//! of the constants are checked against [`WGSL_FLAGS`] by the engine tests.
//!
//! Not here: what each kernel does with a flag (its shader and its twin say that).

use super::Activation;

/// Add the bias (indexed by output column) after the product.
pub const ADD_BIAS: u32 = 1;
/// Apply ReLU to the output.
pub const RELU: u32 = 2;
/// Apply tanh (clamped, see `reference::matmul::safe_tanh`) to the output.
pub const TANH: u32 = 4;
/// Multiply the result by relu′ of the auxiliary activations (zero where they are not positive).
pub const MUL_RELU_DERIV: u32 = 8;
/// Multiply the result by tanh′ of the auxiliary activations (1 − aux²).
pub const MUL_TANH_DERIV: u32 = 16;
/// Scale the result by 1 / the whole batch (gradients are means).
pub const SCALE_INV_M: u32 = 32;
/// Add the result to `out` instead of overwriting it (gradient accumulation over chunks; on the
/// GPU it takes effect on the chunks whose step uniform says `accumulate`).
pub const ACCUMULATE: u32 = 64;
/// `conv2d_norms`: the reference code's approximation instead of the exact norms (its own flag
/// word: no other bit is read by that kernel).
pub const APPROX: u32 = 1;

/// Every flag the shaders declare, by its WGSL name, for the test that compares the WGSL copies.
pub const WGSL_FLAGS: [(&str, u32); 8] = [
    ("ADD_BIAS", ADD_BIAS),
    ("RELU", RELU),
    ("TANH", TANH),
    ("MUL_RELU_DERIV", MUL_RELU_DERIV),
    ("MUL_TANH_DERIV", MUL_TANH_DERIV),
    ("SCALE_INV_M", SCALE_INV_M),
    ("ACCUMULATE", ACCUMULATE),
    ("APPROX", APPROX),
];

/// The flag of a hidden layer's activation.
pub fn activation_flag(a: Activation) -> u32 {
    match a {
        Activation::Relu => RELU,
        Activation::Tanh => TANH,
    }
}

/// The flag that multiplies an error by the derivative of that activation.
pub fn derivative_flag(a: Activation) -> u32 {
    match a {
        Activation::Relu => MUL_RELU_DERIV,
        Activation::Tanh => MUL_TANH_DERIV,
    }
}
