//! Named data found from anywhere, and the engine chosen without a flag: the built binary run
//! from another working directory finds the MNIST bundle; `CABS_DATA_DIR` is the only place
//! looked at when set, and an empty one gives an error naming the variable, the path tried and
//! the script that makes the file; `--data mnist-full` / `fashion-mnist` read a small generated
//! IDX set laid out as `scripts/fetch-data.sh` lays out the real one (the real download is not
//! needed); `--backend` defaults to `auto`, which falls back to the CPU engine with a note when
//! no GPU adapter can be found at all.
#![cfg(not(target_arch = "wasm32"))]

use cabs::data::idx::encode;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run the built `cabs` in `dir`, with `CABS_DATA_DIR` unset unless `env` sets it.
fn cabs_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cabs"));
    c.args(args).current_dir(dir).env_remove("CABS_DATA_DIR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A fresh, empty folder of this test process.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cabs-named-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The start line (stderr's line starting "cabs: "), or the whole of stderr.
fn start_line(err: &str) -> &str {
    err.lines().find(|l| l.starts_with("cabs: ") && !l.starts_with("cabs: error")).unwrap_or(err)
}

/// `n_train` + `n_test` 28×28 images in which a bright strip of 78 pixels tells the class, as raw IDX files
/// (or gzipped ones) in `dir/set`, under the names scripts/fetch-data.sh writes.
fn write_set(dir: &Path, set: &str, n_train: u32, n_test: u32, gzip: bool) {
    use std::io::Write;
    let d = dir.join(set);
    std::fs::create_dir_all(&d).unwrap();
    let split = |n: u32, offset: u32| {
        let labels: Vec<u8> = (0..n).map(|i| ((i + offset) % 10) as u8).collect();
        let pixels: Vec<u8> = labels
            .iter()
            .flat_map(|&y| (0..784u32).map(move |j| if j / 78 == y as u32 { 200 + (j % 50) as u8 } else { (j % 40) as u8 }))
            .collect();
        (encode(&[n, 28, 28], &pixels), encode(&[n], &labels))
    };
    let (ti, tl) = split(n_train, 0);
    let (vi, vl) = split(n_test, 3);
    for (name, bytes) in
        [("train-images-idx3-ubyte", ti), ("train-labels-idx1-ubyte", tl), ("t10k-images-idx3-ubyte", vi), ("t10k-labels-idx1-ubyte", vl)]
    {
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            std::fs::write(d.join(format!("{name}.gz")), gz.finish().unwrap()).unwrap();
        } else {
            std::fs::write(d.join(name), bytes).unwrap();
        }
    }
}

#[test]
fn the_binary_finds_the_bundle_from_another_working_directory() {
    let elsewhere = scratch("cwd");
    let (code, out, err) = cabs_in(&elsewhere, &[], &["train", "--data", "mnist", "--backend", "cpu", "--steps", "2", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    assert!(start_line(&err).contains("(8000 training / 2000 test examples)"), "{err}");
    assert!(out.starts_with("step 2 "), "{out}");
    // `--mnist-bundle` stays relative to the working directory, as any path on a command line.
    let (code, _, err) =
        cabs_in(&elsewhere, &[], &["train", "--mnist-bundle", "www/data/mnist.bin", "--backend", "cpu", "--steps", "1", "--quiet"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&elsewhere.join("www/data/mnist.bin").display().to_string()) || err.contains("www/data/mnist.bin"), "{err}");
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

#[test]
fn an_empty_data_dir_names_the_variable_the_path_and_the_script() {
    let empty = scratch("empty");
    let var = empty.to_str().unwrap();
    for (data, file, script) in [
        ("mnist", "mnist.bin", "scripts/setup.sh"),
        ("mnist-full", "mnist-full", "scripts/fetch-data.sh"),
        ("fashion-mnist", "fashion-mnist", "scripts/fetch-data.sh"),
    ] {
        // From the repository itself: the variable wins over the repository's own files.
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (code, _, err) = cabs_in(repo, &[("CABS_DATA_DIR", var)], &["train", "--data", data, "--backend", "cpu", "--steps", "1"]);
        assert_eq!(code, 1, "{data}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{data}: {err}");
        let path = empty.join(file).display().to_string();
        assert!(err.contains("CABS_DATA_DIR") && err.contains(&path) && err.contains(script), "{data}: {err}");
    }
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn full_sets_are_read_from_the_data_dir_by_train_and_bench() {
    let dir = scratch("sets");
    write_set(&dir, "mnist-full", 120, 30, false);
    write_set(&dir, "fashion-mnist", 90, 20, true);
    let var = dir.to_str().unwrap();
    let elsewhere = scratch("sets-cwd");
    let (code, out, err) = cabs_in(
        &elsewhere,
        &[("CABS_DATA_DIR", var)],
        &["train", "--data", "mnist-full", "--backend", "cpu", "--m-max", "64", "--model", "mlp:16", "--steps", "40", "--quiet"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(start_line(&err).starts_with("cabs: mnist-full on MNIST (full) (120 training / 30 test examples)"), "{err}");
    let acc: f64 = out.split("test accuracy ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(acc > 0.5, "the bright strip tells the class; accuracy {acc}: {out}");
    let (code, _, err) = cabs_in(
        &elsewhere,
        &[("CABS_DATA_DIR", var)],
        &["train", "--data", "fashion-mnist", "--backend", "cpu", "--m-max", "64", "--model", "cnn-mnist", "--steps", "2", "--quiet"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(start_line(&err).starts_with("cabs: fashion-mnist on Fashion-MNIST (90 training / 20 test examples)"), "{err}");
    let (code, out, err) = cabs_in(
        &elsewhere,
        &[("CABS_DATA_DIR", var)],
        &["bench", "--data", "fashion-mnist", "--backend", "cpu", "--m-max", "64", "--model", "mlp:8", "--batch", "8", "--steps", "10"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("model mlp:8 on fashion-mnist"), "{out}");
    // A set with a file missing names the file and the script that fetches the set again.
    std::fs::remove_file(dir.join("mnist-full/t10k-labels-idx1-ubyte")).unwrap();
    let (code, _, err) = cabs_in(&elsewhere, &[("CABS_DATA_DIR", var)], &["train", "--data", "mnist-full", "--backend", "cpu"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("t10k-labels-idx1-ubyte") && err.contains("fetch-data.sh mnist-full"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

/// A value of `WGPU_BACKEND` naming only a backend this platform's wgpu is built without: no
/// adapter at all, as on a machine without any GPU driver.
fn no_adapter() -> (&'static str, &'static str) {
    ("WGPU_BACKEND", if cfg!(target_os = "macos") { "dx12" } else { "metal" })
}

#[test]
fn the_backend_defaults_to_auto_which_falls_back_to_the_cpu_without_an_adapter() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, _) = cabs_in(repo, &[], &["--help"]);
    assert_eq!(code, 0);
    let line = out.lines().find(|l| l.trim_start().starts_with("--backend")).unwrap();
    assert!(line.trim_end().ends_with("[auto]"), "{line}");
    for command in ["train", "bench"] {
        let args = [command, "--data", "moons", "--model", "logreg", "--steps", "10", "--quiet"];
        let args = if command == "bench" { &args[..7] } else { &args[..] };
        let (code, out, err) = cabs_in(repo, &[no_adapter()], args);
        assert_eq!(code, 0, "{command}: {err}");
        if command == "train" {
            // train starts on the CPU engine at once and builds the GPU engine on another
            // thread (the hand-over); without an adapter that thread fails, and the run says so.
            assert!(start_line(&err).contains("engine: CPU engine [auto: started on the CPU engine"), "{err}");
            assert!(
                err.contains("cabs: auto: stayed on CPU") && err.contains("no usable GPU: ") && err.contains("no GPU adapter"),
                "{err}"
            );
        } else {
            assert!(out.contains("engine: CPU engine [auto, no gpu: "), "{command}: {out}");
            assert!(out.contains("no GPU adapter"), "{command}: {out}");
        }
    }
    // Named, the GPU is required: the same machine without an adapter is an error.
    let (code, _, err) = cabs_in(repo, &[no_adapter()], &["train", "--data", "moons", "--backend", "gpu", "--steps", "1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no GPU adapter"), "{err}");
}
