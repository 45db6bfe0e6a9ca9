//! A convolutional probe file is enough on its own: an independent f64 implementation that reads
//! only the probe (its `layers` with their geometry, `parameters`, `inputs` as the first layer
//! receives them, `labels`) recomputes every per-example loss, and — by central finite
//! differences of each example's loss — every per-example gradient, hence Σ‖g_i‖², ‖ḡ‖², ξ and
//! each labelled per-tensor norm row. Nothing of the crate is used to compute the oracle.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::Value;

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cabs-probe-cnn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// An IDX file: magic (unsigned bytes, `dims.len()` dimensions), big-endian sizes, the bytes.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(data);
    v
}

/// Output size and padding before the first input along one axis (TensorFlow's SAME / VALID).
fn out_pad(input: usize, k: usize, stride: usize, padding: &str) -> (usize, usize) {
    if padding == "same" {
        let out = input.div_ceil(stride);
        let total = ((out - 1) * stride + k).saturating_sub(input);
        (out, total / 2)
    } else {
        ((input - k) / stride + 1, 0)
    }
}

fn dims(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

/// The loss of one example, in f64, from the probe's layer list; `params` are the parameter
/// tensors in the probe's order, flattened.
fn example_loss(layers: &[Value], params: &[f64], x: &[f64], y: usize) -> f64 {
    let mut a = x.to_vec();
    let mut at = 0; // next parameter
    for layer in layers {
        match layer["type"].as_str().unwrap() {
            "conv2d" => {
                let (i, o) = (dims(&layer["in"]), dims(&layer["out"]));
                let (k, s, pad) = (
                    layer["kernel"].as_u64().unwrap() as usize,
                    layer["stride"].as_u64().unwrap() as usize,
                    layer["padding"].as_str().unwrap(),
                );
                let ((oh, pt), (ow, pl)) = (out_pad(i[1], k, s, pad), out_pad(i[2], k, s, pad));
                assert_eq!((oh, ow), (o[1], o[2]), "conv output shape");
                let w = &params[at..at + o[0] * i[0] * k * k];
                let b = &params[at + w.len()..at + w.len() + o[0]];
                at += w.len() + o[0];
                let mut z = vec![0.0; o[0] * oh * ow];
                for oc in 0..o[0] {
                    for (oy, ox) in (0..oh).flat_map(|r| (0..ow).map(move |c| (r, c))) {
                        let mut v = b[oc];
                        for c in 0..i[0] {
                            for (u, vv) in (0..k).flat_map(|u| (0..k).map(move |vv| (u, vv))) {
                                let (yy, xx) = ((oy * s + u) as isize - pt as isize, (ox * s + vv) as isize - pl as isize);
                                if yy >= 0 && xx >= 0 && (yy as usize) < i[1] && (xx as usize) < i[2] {
                                    v += w[((oc * i[0] + c) * k + u) * k + vv] * a[(c * i[1] + yy as usize) * i[2] + xx as usize];
                                }
                            }
                        }
                        z[(oc * oh + oy) * ow + ox] = v.max(0.0); // ReLU
                    }
                }
                a = z;
            }
            "max_pool" => {
                let (i, o) = (dims(&layer["in"]), dims(&layer["out"]));
                let (k, s, pad) = (
                    layer["window"].as_u64().unwrap() as usize,
                    layer["stride"].as_u64().unwrap() as usize,
                    layer["padding"].as_str().unwrap(),
                );
                let ((oh, pt), (ow, pl)) = (out_pad(i[1], k, s, pad), out_pad(i[2], k, s, pad));
                assert_eq!((oh, ow), (o[1], o[2]), "pool output shape");
                let mut z = vec![f64::NEG_INFINITY; i[0] * oh * ow];
                for c in 0..i[0] {
                    for (oy, ox) in (0..oh).flat_map(|r| (0..ow).map(move |q| (r, q))) {
                        for (u, v) in (0..k).flat_map(|u| (0..k).map(move |v| (u, v))) {
                            let (yy, xx) = ((oy * s + u) as isize - pt as isize, (ox * s + v) as isize - pl as isize);
                            if yy >= 0 && xx >= 0 && (yy as usize) < i[1] && (xx as usize) < i[2] {
                                let cell = &mut z[(c * oh + oy) * ow + ox];
                                *cell = cell.max(a[(c * i[1] + yy as usize) * i[2] + xx as usize]);
                            }
                        }
                    }
                }
                a = z;
            }
            "dense" => {
                let (d_in, d_out) = (layer["in"].as_u64().unwrap() as usize, layer["out"].as_u64().unwrap() as usize);
                assert_eq!(a.len(), d_in, "dense input width");
                let (w, b) = (&params[at..at + d_in * d_out], &params[at + d_in * d_out..at + d_in * d_out + d_out]);
                at += d_in * d_out + d_out;
                let act = layer["activation"].as_str().unwrap();
                a = (0..d_out)
                    .map(|j| {
                        let z = b[j] + (0..d_in).map(|q| w[j * d_in + q] * a[q]).sum::<f64>();
                        match act {
                            "relu" => z.max(0.0),
                            "tanh" => z.tanh(),
                            _ => z,
                        }
                    })
                    .collect();
            }
            other => panic!("layer type {other} not covered by this oracle"),
        }
    }
    assert_eq!(at, params.len(), "every parameter used once");
    let mx = a.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = mx + a.iter().map(|z| (z - mx).exp()).sum::<f64>().ln();
    lse - a[y]
}

fn close(what: &str, got: f64, want: f64, rel: f64, abs: f64) {
    let tol = abs + rel * want.abs();
    assert!((got - want).abs() <= tol, "{what}: probe says {got}, the f64 oracle {want} (tolerance {tol})");
}

#[test]
fn a_cnn_probe_is_rederived_from_the_probe_alone() {
    // 8×8 grey images: cnn-small's conv–pool–conv–pool–dense stack, small enough for finite
    // differences over all 4,074 parameters of every example.
    let n = 40u32;
    let images: Vec<u8> = (0..n * 64).map(|i| ((i * 97 + i / 7) % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let (img, lab, probe) = (tmp("img.idx"), tmp("lab.idx"), tmp("probe.json"));
    std::fs::write(&img, idx(&[n, 8, 8], &images)).unwrap();
    std::fs::write(&lab, idx(&[n], &labels)).unwrap();
    let data = format!("idx:{},{}", img.display(), lab.display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cabs"))
        .args([
            "train",
            "--data",
            &data,
            "--model",
            "cnn-small",
            "--backend",
            "cpu",
            "--lr",
            "0.3",
            "--m-min",
            "4",
            "--m-max",
            "32",
            "--steps",
            "3",
        ])
        .args(["--dump-step", "3", "--dump", probe.to_str().unwrap(), "--quiet", "--conv-norms", "both", "--chunk", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&probe).unwrap()).unwrap();
    assert_eq!(p["settings"]["conv_norms"], "both");
    assert_eq!(p["settings"]["chunk"], 3, "the step ran in chunks of 3");
    let layers = p["layers"].as_array().unwrap();
    let types: Vec<&str> = layers.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["conv2d", "max_pool", "conv2d", "max_pool", "dense"]);
    let shape = dims(&p["inputs"]["shape"]);
    let m = shape[0];
    assert_eq!(shape[1..], [1, 8, 8], "inputs are [m, C, H, W] images");
    let dim = 64;
    let inputs: Vec<f64> = p["inputs"]["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(inputs.len(), m * dim);
    let mut params = Vec::new();
    let mut spans = Vec::new(); // (name, range) of each tensor
    for t in p["parameters"].as_array().unwrap() {
        let data: Vec<f64> = t["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        spans.push((t["name"].as_str().unwrap().to_string(), params.len()..params.len() + data.len()));
        params.extend(data);
    }
    // Per-example losses, and per-example gradients by central differences.
    let mut grads = Vec::new();
    let mut loss = 0.0;
    for i in 0..m {
        let (x, y) = (&inputs[i * dim..(i + 1) * dim], p["labels"][i].as_u64().unwrap() as usize);
        let l = example_loss(layers, &params, x, y);
        close(&format!("loss of example {i}"), p["per_example_losses"][i].as_f64().unwrap(), l, 1e-4, 1e-6);
        loss += l / m as f64;
        let mut w = params.clone();
        let g: Vec<f64> = (0..params.len())
            .map(|j| {
                let h = 1e-5 * params[j].abs().max(1.0);
                w[j] = params[j] + h;
                let up = example_loss(layers, &w, x, y);
                w[j] = params[j] - h;
                let down = example_loss(layers, &w, x, y);
                w[j] = params[j];
                (up - down) / (2.0 * h)
            })
            .collect();
        grads.push(g);
    }
    let n_params = params.len();
    let mean: Vec<f64> = (0..n_params).map(|j| grads.iter().map(|g| g[j]).sum::<f64>() / m as f64).collect();
    let mean_sq: f64 = mean.iter().map(|v| v * v).sum();
    let sum_sq: f64 = grads.iter().map(|g| g.iter().map(|v| v * v).sum::<f64>()).sum();
    let f = |k: &str| p[k].as_f64().unwrap();
    close("loss", f("loss"), loss, 1e-5, 1e-7);
    close("‖ḡ‖²", f("grad_norm_sq"), mean_sq, 2e-3, 1e-7);
    close("Σ‖g_i‖²", f("sum_sq_norms"), sum_sq, 2e-3, 1e-7);
    let xi = sum_sq / m as f64 - mean_sq;
    close("biased ξ", f("xi_biased"), xi, 2e-3, 1e-6);
    close("unbiased ξ", f("xi_unbiased"), xi * m as f64 / (m as f64 - 1.0), 2e-3, 1e-6);
    // Every exact row that drives ξ, tensor by tensor and example by example.
    let rows = p["norm_rows"].as_array().unwrap();
    let mut checked = 0;
    for r in rows.iter().filter(|r| r["kind"] == "exact") {
        let name = r["tensor"].as_str().unwrap();
        let span = &spans.iter().find(|(n, _)| n == name).unwrap().1;
        for (i, v) in r["per_example"].as_array().unwrap().iter().enumerate() {
            let want: f64 = grads[i][span.clone()].iter().map(|g| g * g).sum();
            close(&format!("‖∂ℓ_{i}/∂{name}‖²"), v.as_f64().unwrap(), want, 2e-3, 1e-8);
        }
        checked += 1;
    }
    assert_eq!(checked, spans.len(), "one exact row per tensor");
    let approx: Vec<&str> = rows.iter().filter(|r| r["kind"] == "approx").map(|r| r["tensor"].as_str().unwrap()).collect();
    assert_eq!(approx, ["conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias"], "the labelled approximate rows");
    assert!(rows.iter().filter(|r| r["kind"] == "approx").all(|r| r["drives_xi"] == false));
}
