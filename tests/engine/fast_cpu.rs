//! The fast CPU kernels (`cabs::fast`) against their plain twins (`cabs::reference`) on random
//! shapes: odd sizes that leave partial register tiles, sizes past one cache block (depth > 256,
//! columns > 512, rows > one packed block), both transposes, every epilogue flag, accumulation,
//! and convolutions with SAME/VALID padding and strides 1–3. The fast kernels sum in another
//! order (blocked, fused multiply-adds natively), so agreement is to rounding: each value within
//! `TOL · (Σ|products| + |value|)`, a bound that does not depend on cancellation. Natively
//! and in the browser.

use cabs::fast::{conv, gemm};
use cabs::model::epilogue::{ACCUMULATE, ADD_BIAS, MUL_RELU_DERIV, MUL_TANH_DERIV, RELU, SCALE_INV_M, TANH};
use cabs::reference::conv2d::{self, Conv2dSpec, Padding};
use cabs::reference::matmul::{self, MatmulSpec};
use cabs::rng::Rng;
// In the browser (`wasm-pack test --headless --chrome`) the same tests check the simd128 kernel.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const TOL: f32 = 2e-6;

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.normal() as f32).collect()
}

/// `got` against `want`, each allowed `TOL` times its `scale` entry (its sum of |products|).
fn check(what: &str, got: &[f32], want: &[f32], scale: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let tol = TOL * (s + w.abs()) + 1e-30;
        assert!((g - w).abs() <= tol, "{what}: [{i}] fast {g} vs reference {w} (tolerance {tol})");
    }
}

/// Σ|a||b| per output: the scale of the rounding error of any summation order.
fn abs_scale(s: MatmulSpec, a: &[f32], b: &[f32]) -> Vec<f32> {
    let (a, b): (Vec<f32>, Vec<f32>) = (a.iter().map(|v| v.abs()).collect(), b.iter().map(|v| v.abs()).collect());
    let mut out = vec![0.0; s.m * s.n];
    matmul::matmul(MatmulSpec { flags: 0, ..s }, &a, &b, &[], &[], 0.0, &mut out);
    out
}

#[test]
fn matmul_matches_reference_on_random_shapes_transposes_and_flags() {
    let mut rng = Rng::new(41);
    let flag_sets = [
        0,
        ADD_BIAS,
        ADD_BIAS | RELU,
        ADD_BIAS | TANH,
        MUL_RELU_DERIV,
        MUL_TANH_DERIV,
        SCALE_INV_M,
        SCALE_INV_M | ACCUMULATE,
        ACCUMULATE,
        ADD_BIAS | RELU | ACCUMULATE,
    ];
    let shapes = [(1, 1, 1), (3, 5, 7), (7, 13, 17), (16, 10, 256), (33, 17, 300), (65, 530, 9), (100, 21, 520), (6, 16, 0)];
    for (case, &(m, n, k)) in shapes.iter().enumerate() {
        for ta in [false, true] {
            for tb in [false, true] {
                let flags = flag_sets[(case * 4 + ta as usize * 2 + tb as usize) % flag_sets.len()];
                check_matmul(&mut rng, MatmulSpec { m, n, k, trans_a: ta, trans_b: tb, flags });
            }
        }
    }
    for &flags in &flag_sets {
        check_matmul(&mut rng, MatmulSpec { m: 11, n: 19, k: 23, trans_a: false, trans_b: true, flags });
    }
    // A product past every block size (rows > 16 panels, columns > 512, depth > 256).
    check_matmul(&mut rng, MatmulSpec { m: 131, n: 600, k: 700, trans_a: true, trans_b: false, flags: ADD_BIAS | RELU });
}

fn check_matmul(rng: &mut Rng, s: MatmulSpec) {
    let a = random(rng, s.m * s.k);
    let b = random(rng, s.k * s.n);
    let bias = random(rng, s.n);
    let aux: Vec<f32> = random(rng, s.m * s.n).iter().map(|v| v.tanh()).collect();
    let start = random(rng, s.m * s.n);
    let inv_m = 1.0 / 7.0;
    let (mut want, mut got) = (start.clone(), start.clone());
    matmul::matmul(s, &a, &b, &bias, &aux, inv_m, &mut want);
    gemm::matmul(s, &a, &b, &bias, &aux, inv_m, &mut got);
    // The epilogue scales by at most max(1, |bias|, 1/m) and adds |start|: widen the bound.
    let scale: Vec<f32> = abs_scale(s, &a, &b).iter().zip(&start).map(|(p, st)| p * 2.0 + st.abs() + 1.0).collect();
    check(&format!("{s:?}"), &got, &want, &scale);
}

#[test]
fn gemm_on_strided_views_and_adding_into_c() {
    for (m, n, k, ldc) in [(9, 14, 31, 20), (70, 530, 260, 531)] {
        check_strided_gemm(m, n, k, ldc);
    }
}

/// `C += A·Bᵀ` on views with C's row stride past its width.
fn check_strided_gemm(m: usize, n: usize, k: usize, ldc: usize) {
    let mut rng = Rng::new(7);
    let a = random(&mut rng, m * k);
    let b = random(&mut rng, n * k); // used as Bᵀ stored [n, k]
    let mut c = random(&mut rng, m * ldc);
    let before = c.clone();
    gemm::gemm(m, n, k, gemm::Mat::rows(&a, k), gemm::Mat::cols(&b, k), &mut c, ldc, true);
    for r in 0..m {
        for j in 0..ldc {
            let want =
                if j < n { before[r * ldc + j] + (0..k).map(|t| a[r * k + t] * b[j * k + t]).sum::<f32>() } else { before[r * ldc + j] };
            let scale = 1.0 + (0..k).map(|t| (a[r * k + t] * b[j.min(n - 1) * k + t]).abs()).sum::<f32>();
            assert!((c[r * ldc + j] - want).abs() <= TOL * scale * 4.0, "C[{r},{j}] {} vs {want} ", c[r * ldc + j]);
        }
    }
}

fn conv_specs() -> Vec<Conv2dSpec> {
    let spec = |in_c, in_h, in_w, out_c, k_h, k_w, stride, padding| Conv2dSpec { in_c, in_h, in_w, out_c, k_h, k_w, stride, padding };
    vec![
        spec(1, 28, 28, 32, 5, 5, 1, Padding::Same), // cnn-mnist conv1
        spec(3, 9, 7, 5, 3, 3, 1, Padding::Same),
        spec(2, 9, 8, 3, 3, 2, 2, Padding::Same),
        spec(3, 11, 10, 4, 4, 3, 3, Padding::Same),
        spec(2, 8, 9, 6, 3, 3, 1, Padding::Valid),
        spec(4, 10, 11, 3, 2, 3, 2, Padding::Valid),
        spec(5, 6, 6, 7, 6, 6, 1, Padding::Valid),
        spec(2, 5, 5, 3, 5, 5, 3, Padding::Same),
        spec(32, 14, 14, 20, 5, 5, 1, Padding::Same), // conv2-like: depth 800 > one block
    ]
}

#[test]
fn conv_forward_input_grad_filter_grad_and_norms_match_reference() {
    let mut rng = Rng::new(3);
    for (case, s) in conv_specs().into_iter().enumerate() {
        let m = 1 + case % 3;
        let x = random(&mut rng, m * s.in_len());
        let w = random(&mut rng, s.filter_len());
        let b = random(&mut rng, s.out_c);
        let dy = random(&mut rng, m * s.out_len());
        let (ax, aw, ady) = (abs(&x), abs(&w), abs(&dy));

        let (mut want, mut got) = (vec![0.0; m * s.out_len()], vec![f32::NAN; m * s.out_len()]);
        conv2d::forward(&s, &x, &w, &b, m, &mut want);
        conv::forward(&s, &x, &w, &b, m, &mut got);
        let mut scale = vec![0.0; want.len()];
        conv2d::forward(&s, &ax, &aw, &abs(&b), m, &mut scale);
        check(&format!("forward {s:?}"), &got, &want, &scale);

        let (mut want, mut got) = (vec![0.0; m * s.in_len()], vec![f32::NAN; m * s.in_len()]);
        conv2d::backward_input(&s, &dy, &w, m, &mut want);
        conv::backward_input(&s, &dy, &w, m, &mut got);
        let mut scale = vec![0.0; want.len()];
        conv2d::backward_input(&s, &ady, &aw, m, &mut scale);
        check(&format!("backward_input {s:?}"), &got, &want, &scale);

        for accumulate in [false, true] {
            let start = random(&mut rng, s.filter_len() + s.out_c);
            let (mut want, mut got) = (start.clone(), start.clone());
            let inv_m = 1.0 / (m as f32 + 2.0);
            let (ww, wb) = want.split_at_mut(s.filter_len());
            conv2d::filter_grad(&s, &x, &dy, m, inv_m, accumulate, ww, wb);
            let (gw, gb) = got.split_at_mut(s.filter_len());
            conv::filter_grad(&s, &x, &dy, m, inv_m, accumulate, gw, gb);
            let mut scale = vec![0.0; want.len()];
            let (sw, sb) = scale.split_at_mut(s.filter_len());
            conv2d::filter_grad(&s, &ax, &ady, m, inv_m, false, sw, sb);
            scale.iter_mut().zip(&start).for_each(|(v, st)| *v += st.abs());
            check(&format!("filter_grad (accumulate {accumulate}) {s:?}"), &got, &want, &scale);
        }

        let want = conv2d::norms_per_example(&s, &x, &dy, m);
        let got = conv::norms_per_example(&s, &x, &dy, m);
        let scale = conv2d::norms_per_example(&s, &ax, &ady, m);
        for ((g, w), sc) in got.iter().zip(&want).zip(&scale) {
            // ‖G‖² from entries each within TOL·|G|abs: relative error ≤ 2·TOL of Σ (|G|abs)².
            assert!((g.0 - w.0).abs() <= 4.0 * TOL * sc.0 + 1e-30, "weight norm {s:?}: {} vs {}", g.0, w.0);
            assert!((g.1 - w.1).abs() <= 4.0 * TOL * sc.1 + 1e-30, "bias norm {s:?}: {} vs {}", g.1, w.1);
        }
    }
}

fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

#[test]
fn im2col_is_the_transpose_of_unfold() {
    let mut rng = Rng::new(9);
    for s in conv_specs() {
        let x = random(&mut rng, s.in_len());
        let (p, k) = (s.positions(), s.patch_len());
        let mut rows = vec![0.0; p * k];
        s.unfold(&x, &mut rows);
        let mut cols = vec![f32::NAN; p * k];
        conv::im2col(&s, &x, &mut cols);
        for pp in 0..p {
            for j in 0..k {
                assert_eq!(cols[j * p + pp], rows[pp * k + j], "{s:?}: position {pp}, tap {j}");
            }
        }
    }
}
