//! `--threads N` as a user gives it: bad values refused with the value quoted, and `cabs train`
//! on 1, 2 and 3 threads writing the same CSV (all but the wall-clock column) and the same
//! weights (the final checkpoint, byte for byte), for the MLP and `cnn-mnist`, in chunks.

use std::path::{Path, PathBuf};

use crate::common::command::cabs;

/// A fresh folder under target/ (ignored by git).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_thread_counts_are_refused_quoting_the_value() {
    for (command, flag) in [("train", "--threads"), ("bench", "--threads"), ("reproduce", "--threads"), ("bench", "--vs-threads")] {
        for (bad, why) in [
            ("0", "at least 1"),
            ("two", "not a whole number"),
            ("-2", "negative"),
            ("1.5", "not a whole number"),
            ("", "not a whole number"),
        ] {
            let (code, _, err) = cabs(&[command, flag, bad, "--steps", "1"]);
            assert_eq!(code, 2, "{command} {flag} '{bad}' must be a usage error: {err}");
            assert!(err.contains(&format!("{flag} '{bad}'")) && err.contains(why), "{command} {flag} '{bad}': {err}");
        }
    }
}

#[test]
fn oversubscribed_threads_are_named_in_a_warning() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let many = (cores + 1).to_string();
    let (code, _, err) =
        cabs(&["train", "--data", "blobs", "--model", "logreg", "--backend", "cpu", "--steps", "1", "--quiet", "--threads", &many]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("warning: --threads {many} on {cores} core(s)")), "{err}");
    let (_, _, err) =
        cabs(&["train", "--data", "blobs", "--model", "logreg", "--backend", "cpu", "--steps", "1", "--quiet", "--threads", "1"]);
    assert!(!err.contains("warning"), "{err}");
}

/// The CSV without its wall-clock column, and the final checkpoint's bytes.
fn train(dir: &Path, tag: &str, args: &[&str]) -> (String, Vec<u8>) {
    let (csv, state) = (dir.join(format!("{tag}.csv")), dir.join(format!("{tag}.state")));
    let mut all = vec!["train", "--backend", "cpu", "--quiet", "--csv", csv.to_str().unwrap(), "--checkpoint", state.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, _, err) = cabs(&all);
    assert_eq!(code, 0, "cabs {all:?}: {err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let wall = header.iter().position(|h| *h == "wall_ms").expect("a wall_ms column");
    let rows = text.lines().map(|l| l.split(',').enumerate().filter(|(i, _)| *i != wall).map(|(_, v)| v).collect::<Vec<_>>().join(","));
    (rows.collect::<Vec<_>>().join("\n"), std::fs::read(&state).unwrap())
}

#[test]
fn training_on_one_two_and_three_threads_writes_the_same_csv_and_weights() {
    let dir = scratch("threads_cli");
    let runs: [(&str, &[&str]); 2] = [
        ("mlp", &["--model", "mlp:256", "--steps", "40", "--eval-every", "20", "--lr", "0.5"]),
        ("cnn", &["--model", "cnn-mnist", "--steps", "4", "--chunk", "7", "--m-min", "16", "--lr", "0.1", "--conv-norms", "both"]),
    ];
    for (name, args) in runs {
        let one = train(&dir, &format!("{name}-1"), &[args, &["--threads", "1"]].concat());
        assert!(one.0.lines().count() > 4, "{name}: rows were written");
        for n in ["2", "3"] {
            let many = train(&dir, &format!("{name}-{n}"), &[args, &["--threads", n]].concat());
            assert!(many.0 == one.0, "{name}: the CSV on {n} threads differs from 1 thread:\n{}\nvs\n{}", many.0, one.0);
            assert!(many.1 == one.1, "{name}: the weights (final checkpoint) on {n} threads differ from 1 thread");
        }
    }
}
