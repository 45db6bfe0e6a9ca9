//! The paper-scale study's runs kept in the repository while it goes on (`docs/study-mnist/`,
//! carried there by `scripts/study-carry.sh` once each is complete; docs/STUDY.md, amendment of
//! 2026-12-08). Each kept run must be whole, since a new machine adopts it without training it
//! again: its record, its gzipped CSV reaching the record's budget, and one prediction per test
//! digit; nothing unfinished (a checkpoint, a lock, a plain CSV) is among them. Before the first
//! run is kept the test says so and checks nothing.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

const KEPT: &str = "docs/study-mnist";

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn gunzip(path: &Path) -> String {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(file), &mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text
}

#[test]
fn every_kept_study_run_is_complete() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(KEPT);
    if !dir.exists() {
        eprintln!("note: no run of the study is kept in {KEPT} yet: nothing to check");
        return;
    }
    let all = files(&dir);
    let unfinished: Vec<_> =
        all.iter().filter(|p| p.extension().is_some_and(|e| e == "ckpt" || e == "lock" || e == "csv" || e == "part")).collect();
    assert!(unfinished.is_empty(), "unfinished or uncompressed run files are kept: {unfinished:?}");
    let records: Vec<_> = all.iter().filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    assert!(!records.is_empty(), "{KEPT} exists but keeps no run record");
    for record in records {
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
        let s = &r["settings"];
        let label = r["label"].as_str().unwrap();
        assert_eq!(record.file_stem().unwrap().to_str().unwrap(), label, "{}", record.display());
        assert_eq!(s["data"], "mnist-full", "{label}: the study runs on the full MNIST");
        let csv = gunzip(&record.with_extension("csv.gz"));
        if !r["diverged"].is_null() {
            continue; // its CSV ends where it diverged, and it made no predictions
        }
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let last: Vec<&str> = lines.last().unwrap().split(',').collect();
        let at = |name: &str| last[header.iter().position(|h| *h == name).unwrap()].parse::<u64>().unwrap();
        match (s["steps"].as_u64(), s["examples"].as_u64()) {
            (Some(steps), _) => assert_eq!(at("step"), steps, "{label}: its CSV ends before its {steps} steps"),
            (None, Some(examples)) => assert!(at("examples_seen") >= examples, "{label}: its CSV ends before {examples} examples"),
            _ => panic!("{label}: its record names no budget"),
        }
        let pred = std::fs::read(record.with_extension("pred")).unwrap_or_else(|e| panic!("{label}.pred: {e}"));
        assert_eq!(pred.len() as u64, s["test_examples"].as_u64().unwrap(), "{label}: one prediction per test digit");
        assert!(pred.iter().all(|&c| c < 10), "{label}: a prediction is a class 0–9");
    }
}
