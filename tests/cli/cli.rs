//! The command-line runner as a user drives it: one-line errors and non-zero exits on bad input,
//! the documented CSV header, the step and example budgets, divergence that keeps the log, and a
//! probe file whose statistics an independent f64 implementation reproduces.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::model::{Layout, ModelSpec};
use common::command::cabs;
use common::*;

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cabs-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn bad_flags_and_files_give_one_line_and_a_nonzero_exit() {
    let bad_bundle = tmp("bad.bin");
    std::fs::write(&bad_bundle, b"CABSMNIST\0\0\0 definitely not a bundle").unwrap();
    let bad_bundle = bad_bundle.to_str().unwrap().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["train", "--bogus"],
        vec!["train", "--lr"],
        vec!["train", "--lr", "abc"],
        vec!["train", "--lr", "-1", "--data", "moons"],
        vec!["train", "--model", "mlp:x", "--data", "moons"],
        vec!["train", "--model", "cnn", "--data", "moons"],
        vec!["train", "--model", "cnn-mnist", "--data", "moons"],
        vec!["train", "--conv-norms", "approximately", "--data", "moons"],
        vec!["train", "--data", "imagenet"],
        vec!["train", "--rule", "const:0", "--data", "moons"],
        vec!["train", "--rule", "adam", "--data", "moons"],
        vec!["train", "--mu", "1.5", "--data", "moons"],
        vec!["train", "--m-min", "64", "--m-max", "32", "--data", "moons"],
        vec!["train", "--m-max", "9999", "--data", "moons"],
        vec!["train", "--steps", "5", "--examples", "10", "--data", "moons"],
        vec!["train", "--dump-step", "3", "--data", "moons"],
        vec!["train", "--mnist-bundle", "/nonexistent/mnist.bin"],
        vec!["train", "--mnist-bundle", &bad_bundle],
        vec!["train", "--data", "moons", "--csv", "/nonexistent/dir/run.csv"],
        vec!["frobnicate"],
    ];
    for args in cases {
        let (code, _out, err) = cabs(&args);
        assert!(code == 1 || code == 2, "{args:?}: exit code {code}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: expected one line, got:\n{err}");
        assert!(err.starts_with("cabs: error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `bench` reports errors through the same typed error as `train`: a bad setting is a usage
/// error (exit 2) with the same line, a file that cannot be read is not (exit 1).
#[test]
fn bench_errors_have_trains_exit_codes_and_lines() {
    for bad in [&["--model", "cnn-mnist", "--data", "moons"][..], &["--rule", "const:0", "--data", "moons"]] {
        let (train_code, _, train_err) = cabs(&[&["train", "--backend", "cpu"][..], bad].concat());
        let (code, _, err) = cabs(&[&["bench", "--backend", "cpu"][..], bad].concat());
        assert_eq!((code, err.as_str()), (train_code, train_err.as_str()), "bench {bad:?}");
        assert_eq!(code, 2, "bench {bad:?}: {err}");
        assert!(err.starts_with("cabs: error: usage: "), "bench {bad:?}: {err}");
    }
    let (code, _, err) = cabs(&["bench", "--backend", "cpu", "--batch", "0", "--data", "moons"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim_end(), "cabs: error: usage: invalid setting: a constant batch size must be at least 1");
    let (code, _, err) = cabs(&["bench", "--backend", "cpu", "--data", "idx:/nonexistent/images,/nonexistent/labels"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("cabs: error: ") && err.contains("/nonexistent/images") && !err.contains("usage"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn train_writes_the_documented_csv_and_honours_budgets() {
    let csv = tmp("run.csv");
    let (code, out, err) = cabs(&[
        "train",
        "--data",
        "spirals",
        "--model",
        "mlp:16,16",
        "--steps",
        "30",
        "--eval-every",
        "10",
        "--quiet",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("step 30 "), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "step,examples_seen,batch_size,next_batch_size,m_raw,loss,loss_avg,xi,xi_avg,grad_norm_sq,noise_scale,lr,test_loss,test_accuracy,wall_ms,conv_xi_exact,conv_xi_approx,engine,inner_product_var"
    );
    assert_eq!(lines.len(), 31);
    for (i, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 19, "{line}");
        assert!(f[15].is_empty() && f[16].is_empty(), "no conv ξ for an MLP: {line}");
        assert!(f[18].is_empty(), "no inner products for CABS: {line}");
        assert_eq!(f[0], (i + 1).to_string());
        let evaluated = (i + 1) % 10 == 0;
        assert_eq!(!f[12].is_empty(), evaluated, "row {}: test columns {line}", i + 1);
        assert!(f[5].parse::<f64>().unwrap().is_finite());
    }
    // A CNN with both conv norms fills the last two columns: the conv part of ξ, exact (a true
    // variance, positive) and approximate (different; it can even be negative, docs/METHOD.md).
    let (code, _, err) = cabs(&[
        "train",
        "--data",
        "mnist",
        "--model",
        "cnn-small",
        "--backend",
        "cpu",
        "--conv-norms",
        "both",
        "--steps",
        "3",
        "--quiet",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    for line in text.lines().skip(1) {
        let f: Vec<f64> = line.split(',').skip(15).take(2).map(|v| v.parse().unwrap()).collect();
        assert!(f[0] > 0.0 && f[1].is_finite() && f[0] != f[1], "conv ξ exact, approximate: {line}");
    }
    // Budget in examples: stop at the first step that reaches it.
    let (code, out, err) = cabs(&["train", "--data", "moons", "--model", "logreg", "--rule", "const:50", "--examples", "1020", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("examples 1050 "), "{out}");
}

/// The engine column says which engine ran each step: `cpu` with `--backend cpu`, `gpu` with
/// `--backend gpu` (a GPU adapter is needed: lavapipe natively).
#[test]
fn the_engine_column_names_the_engine_the_backend_flag_chose() {
    for backend in ["cpu", "gpu"] {
        let csv = tmp(&format!("engine-{backend}.csv"));
        let args = [
            "train",
            "--data",
            "blobs",
            "--model",
            "mlp:8",
            "--backend",
            backend,
            "--steps",
            "6",
            "--quiet",
            "--csv",
            csv.to_str().unwrap(),
        ];
        let (code, _, err) = cabs(&args);
        assert_eq!(code, 0, "--backend {backend}: {err}\n(a GPU run needs an adapter: `bash scripts/setup.sh` installs lavapipe)");
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = text.lines();
        let col = lines.next().unwrap().split(',').position(|c| c == "engine").expect("an engine column");
        let engines: Vec<&str> = lines.map(|l| l.split(',').nth(col).unwrap()).collect();
        assert_eq!(engines, [backend; 6], "--backend {backend}: {text}");
    }
}

#[test]
fn divergence_is_an_error_that_keeps_the_rows_so_far() {
    let csv = tmp("diverge.csv");
    let (code, _, err) =
        cabs(&["train", "--data", "blobs", "--model", "mlp:8", "--lr", "1e30", "--steps", "50", "--quiet", "--csv", csv.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("diverged at step"), "{err}");
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
    assert!(rows >= 2, "the header and the finite steps are kept ({rows} lines)");
}

#[test]
fn the_probe_file_lets_an_independent_implementation_reproduce_the_statistics() {
    let probe = tmp("probe.json");
    let (code, _, err) = cabs(&[
        "train",
        "--data",
        "moons",
        "--model",
        "mlp:7,5:tanh",
        "--steps",
        "4",
        "--dump-step",
        "3",
        "--dump",
        probe.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&probe).unwrap()).unwrap();
    assert_eq!(p["step"], 3);
    let layout = Layout::new(&ModelSpec::parse(p["model"].as_str().unwrap()).unwrap(), 2, 2).unwrap();
    // Rebuild the flat parameter vector from the named tensors.
    let mut params = vec![0.0f32; layout.param_count as usize];
    for (t, info) in p["parameters"].as_array().unwrap().iter().zip(layout.tensors()) {
        assert_eq!(t["name"], info.name.as_str());
        let shape: Vec<u32> = t["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(shape, info.shape);
        for (i, v) in t["data"].as_array().unwrap().iter().enumerate() {
            params[info.offset as usize + i] = v.as_f64().unwrap() as f32;
        }
    }
    let m = p["labels"].as_array().unwrap().len();
    assert_eq!(m, 16, "CABS starts at m_min = 16");
    let inputs: Vec<f64> = p["inputs"]["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let mut grads = Vec::new();
    let mut loss = 0.0;
    for i in 0..m {
        let y = p["labels"][i].as_u64().unwrap() as usize;
        let (l, g) = brute_example(&layout, &params, &inputs[2 * i..2 * i + 2], y);
        assert_close(&format!("loss of example {i}"), p["per_example_losses"][i].as_f64().unwrap(), l, 1e-4, 1e-6);
        loss += l / m as f64;
        grads.push(g);
    }
    let n = params.len();
    let mean: Vec<f64> = (0..n).map(|j| grads.iter().map(|g| g[j]).sum::<f64>() / m as f64).collect();
    let mean_sq: f64 = mean.iter().map(|v| v * v).sum();
    let sum_sq: f64 = grads.iter().map(|g| g.iter().map(|v| v * v).sum::<f64>()).sum();
    let xi = sum_sq / m as f64 - mean_sq;
    let f = |k: &str| p[k].as_f64().unwrap();
    assert_close("loss", f("loss"), loss, 1e-5, 1e-7);
    assert_close("‖ḡ‖²", f("grad_norm_sq"), mean_sq, 1e-3, 1e-8);
    assert_close("Σ‖g_i‖²", f("sum_sq_norms"), sum_sq, 1e-4, 1e-8);
    assert_close("biased ξ", f("xi_biased"), xi, 1e-3, 1e-6);
    assert_close("unbiased ξ", f("xi_unbiased"), xi * m as f64 / (m as f64 - 1.0), 1e-3, 1e-6);
}

use cabs::data::idx::encode as idx;

#[test]
fn trains_on_idx_files_and_rejects_broken_ones_in_one_line() {
    let n = 60u32;
    let images: Vec<u8> = (0..n * 16).map(|i| ((i * 37) % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    let (img, lab, trunc) = (tmp("img.idx"), tmp("lab.idx"), tmp("trunc.idx"));
    std::fs::write(&img, idx(&[n, 4, 4], &images)).unwrap();
    std::fs::write(&lab, idx(&[n], &labels)).unwrap();
    std::fs::write(&trunc, &idx(&[n, 4, 4], &images)[..100]).unwrap();
    let spec = format!("idx:{},{}", img.display(), lab.display());
    let (code, out, err) = cabs(&["train", "--data", &spec, "--model", "logreg", "--rule", "const:10", "--steps", "5", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("step 5 "), "{out}");
    let broken = format!("idx:{},{}", trunc.display(), lab.display());
    let mismatched = format!("idx:{},{}", img.display(), img.display());
    for spec in [broken.as_str(), mismatched.as_str(), "idx:/nonexistent,/nonexistent", "idx:onlyone", "cifar10:/nonexistent"] {
        let (code, _, err) = cabs(&["train", "--data", spec, "--model", "logreg", "--rule", "const:4", "--steps", "1"]);
        assert!(code == 1 || code == 2, "{spec}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{spec}: {err}");
    }
}

/// Exit code and the error line: stderr ends with exactly one `cabs: error:` line (after the
/// run's start line, when it got that far).
fn fails(args: &[&str]) -> (i32, String) {
    let (code, _out, err) = cabs(args);
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("cabs: error")).count(), 1, "{args:?}: expected one error line, got:\n{err}");
    let last = err.trim_end().lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("cabs: error: "), "{args:?}: {err}");
    (code, last)
}

#[test]
fn failed_writes_are_errors_not_silent_losses() {
    // The probe: a full disk (ENOSPC) must not exit 0 with nothing written.
    let (code, err) = fails(&["train", "--data", "moons", "--steps", "2", "--quiet", "--dump-step", "1", "--dump", "/dev/full"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot write /dev/full"), "{err}");
    // The CSV: short (buffered until the end) and long (written while training).
    for steps in ["2", "400"] {
        let (code, err) = fails(&["train", "--data", "moons", "--steps", steps, "--quiet", "--csv", "/dev/full"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("cannot write /dev/full"), "{err}");
    }
}

#[test]
fn runs_that_would_do_nothing_and_non_integers_are_refused_quoting_the_value() {
    let usage: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--steps", "0"], "--steps 0"),
        (vec!["--examples", "0"], "--examples 0"),
        (vec!["--steps", "2.5"], "'2.5'"),
        (vec!["--steps", "1e3"], "'1e3'"),
        (vec!["--steps", "-3"], "'-3'"),
        (vec!["--examples", "ten"], "'ten'"),
        (vec!["--seed", "1.5"], "'1.5'"),
        (vec!["--eval-every", "0.5"], "'0.5'"),
        (vec!["--m-max", "64.5"], "'64.5'"),
        // Finite as f64 but ∞ or 0 in the engine's f32.
        (vec!["--lr", "1e39"], "'1e39'"),
        (vec!["--lr", "1e-320"], "'1e-320'"),
        (vec!["--dump-step", "0", "--dump", "x.json"], "--dump-step 0"),
        // A probe step past the end of a step budget is refused before training …
        (vec!["--steps", "2", "--dump-step", "10", "--dump", "x.json"], "--dump-step 10"),
    ];
    for (extra, needle) in usage {
        let mut args = vec!["train", "--data", "moons", "--quiet"];
        args.extend(extra.iter());
        let (code, err) = fails(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // … and with an example budget (steps unknown up front) reported after it.
    let probe = tmp("never.json");
    let _ = std::fs::remove_file(&probe);
    let (code, err) = fails(&[
        "train",
        "--data",
        "moons",
        "--rule",
        "const:16",
        "--examples",
        "32",
        "--quiet",
        "--dump-step",
        "10",
        "--dump",
        probe.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--dump-step 10") && err.contains("ended at step 2") && err.contains("no probe"), "{err}");
    assert!(!probe.exists());
}
