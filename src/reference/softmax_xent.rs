//! Twin of `shaders/softmax_xent.wgsl`: per-example softmax cross-entropy loss, its gradient
//! with respect to the logits (softmax − one-hot, *not* divided by m: per-example errors), and
//! whether the arg-max (first maximum on ties) is the label.

pub fn softmax_xent(logits: &[f32], labels: &[u32], m: usize, classes: usize, delta: &mut [f32], losses: &mut [f32], correct: &mut [f32]) {
    for i in 0..m {
        let z = &logits[i * classes..(i + 1) * classes];
        let y = labels[i] as usize;
        let (mut mx, mut arg) = (z[0], 0usize);
        for (c, &v) in z.iter().enumerate().skip(1) {
            if v > mx {
                mx = v;
                arg = c;
            }
        }
        let mut s = 0.0f32;
        for &v in z {
            s += (v - mx).exp();
        }
        let lse = mx + s.ln();
        losses[i] = lse - z[y];
        correct[i] = if arg == y { 1.0 } else { 0.0 };
        for c in 0..classes {
            let p = (z[c] - mx).exp() / s;
            delta[i * classes + c] = if c == y { p - 1.0 } else { p };
        }
    }
}
