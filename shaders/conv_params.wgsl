// conv_params.wgsl — prelude of the convolution and pooling kernels (after step.wgsl): the
// parameter structs, mirrored by ConvParams and PoolParams in src/gpu/conv.rs, and the flag bits
// (the same values as the matmul epilogue's).
struct Conv {
    in_c: u32, in_h: u32, in_w: u32, out_c: u32,
    k_h: u32, k_w: u32, stride: u32, pad_top: u32,
    pad_left: u32, out_h: u32, out_w: u32, flags: u32,
    w_off: u32, b_off: u32, w_row: u32, m_max: u32,
}
struct Pool {
    c: u32, in_h: u32, in_w: u32, window: u32,
    stride: u32, pad_top: u32, pad_left: u32, out_h: u32,
    out_w: u32, flags: u32, _p1: u32, _p2: u32,
}
const APPROX: u32 = 1u;          // conv2d_norms: the reference code's approximation
const RELU: u32 = 2u;            // apply ReLU to the output
const MUL_RELU_DERIV: u32 = 8u;  // multiply the gradient by relu'(aux)
// conv2d_filter_grad: rows (example, position) of the reduction per split (SPLIT_K in src/gpu/conv.rs).
const SPLIT_K: u32 = 4096u;
