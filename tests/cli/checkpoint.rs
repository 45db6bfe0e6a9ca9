//! `cabs train --checkpoint` / `--resume-from` as a user drives them: a run stopped at a
//! checkpoint (by its budget, or killed) and resumed writes the same CSV as the run that never
//! stopped, in every column but `wall_ms`, bit for bit; rows a killed run wrote past its
//! checkpoint are cut, not repeated; a checkpoint for other flags, a damaged one and a CSV
//! that is not the checkpoint's are refused in one line, leaving the CSV as it was.
#![cfg(not(target_arch = "wasm32"))]

use crate::common;
use cabs::run_state::RunState;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The run every test shares (small and fast on the CPU engine), before its budget flags.
const RUN: [&str; 9] = ["train", "--data", "blobs", "--model", "mlp:16", "--m-min", "4", "--quiet", "--lr"];
const LR: &str = "1";

/// `cabs args…`: (exit code, stderr).
fn cabs(args: &[&str]) -> (i32, String) {
    let (code, _, err) = common::command::cabs(args);
    (code, err)
}

/// `RUN` + α + `more`; the run must succeed.
fn train(more: &[&str]) -> String {
    let args = [&RUN[..], &[LR], more].concat();
    let (code, err) = cabs(&args);
    assert_eq!(code, 0, "{args:?}: {err}");
    err
}

/// A fresh folder per test (tests run in parallel).
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cabs-checkpoint-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The CSV's lines with the `wall_ms` column (the 15th) taken out.
fn without_wall(csv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(csv).unwrap();
    assert!(text.ends_with('\n'), "{}: ends in half a row", csv.display());
    text.lines()
        .map(|l| {
            let mut c: Vec<&str> = l.split(',').collect();
            c.remove(14);
            c.join(",")
        })
        .collect()
}

fn wall_ms(csv: &Path) -> Vec<f64> {
    std::fs::read_to_string(csv).unwrap().lines().skip(1).map(|l| l.split(',').nth(14).unwrap().parse().unwrap()).collect()
}

/// Equal line by line, naming the first line that differs.
fn assert_same_run(resumed: &Path, whole: &Path) {
    let (r, w) = (without_wall(resumed), without_wall(whole));
    for (i, (a, b)) in r.iter().zip(&w).enumerate() {
        assert_eq!(a, b, "line {} of the resumed CSV differs from the uninterrupted run's", i + 1);
    }
    assert_eq!(r.len(), w.len(), "the resumed CSV has {} lines, the uninterrupted run's {}", r.len(), w.len());
    let wall = wall_ms(resumed);
    assert!(wall.windows(2).all(|p| p[1] >= p[0]), "wall_ms goes on from the checkpoint's row, never back: {wall:?}");
}

fn state(ck: &Path) -> RunState {
    RunState::from_bytes(&std::fs::read(ck).unwrap()).unwrap()
}

/// Stopped by its budget at step 120 (not an evaluated step: its end-of-run evaluation is not
/// the uninterrupted run's), then resumed to 300 steps.
#[test]
fn a_run_resumed_from_its_checkpoint_writes_the_uninterrupted_runs_csv() {
    let d = dir("steps");
    let (a, b, ck) = (d.join("a.csv"), d.join("b.csv"), d.join("run.ckpt"));
    let common = ["--backend", "cpu", "--eval-every", "50"];
    train(&[&common[..], &["--steps", "300", "--csv", s(&a)]].concat());
    train(&[&common[..], &["--steps", "120", "--csv", s(&b), "--checkpoint", s(&ck), "--checkpoint-every-steps", "50"]].concat());
    let st = state(&ck);
    assert_eq!((st.step, st.eval.map(|e| (e.every, e.next_step))), (120, Some((50, 150))), "the checkpoint at the end of the run");
    assert!(!d.join("run.ckpt.tmp").exists(), "the temporary file is renamed over the checkpoint");
    // The batch size moved: the rule's state, not only the weights, went through the file.
    let sizes: std::collections::BTreeSet<String> =
        std::fs::read_to_string(&a).unwrap().lines().skip(1).map(|l| l.split(',').nth(2).unwrap().to_string()).collect();
    assert!(sizes.len() > 1, "the batch size never changed: {sizes:?}");
    // No --eval-every: the checkpoint's schedule goes on.
    let err = train(&["--backend", "cpu", "--steps", "300", "--csv", s(&b), "--checkpoint", s(&ck), "--resume-from", s(&ck)]);
    assert!(err.contains("continuing from step 120"), "{err}");
    assert_same_run(&b, &a);
    assert_eq!(state(&ck).step, 300, "the resumed run saved its end");
}

/// A run with an example budget: stopped at 2,000 examples, resumed to 5,000.
#[test]
fn an_example_budget_resumes_to_the_uninterrupted_runs_csv() {
    let d = dir("examples");
    let (a, b, ck) = (d.join("a.csv"), d.join("b.csv"), d.join("run.ckpt"));
    let common = ["--backend", "cpu", "--eval-every", "40"];
    train(&[&common[..], &["--examples", "5000", "--csv", s(&a)]].concat());
    train(&[&common[..], &["--examples", "2000", "--csv", s(&b), "--checkpoint", s(&ck)]].concat());
    assert!(state(&ck).examples >= 2000);
    train(&[&common[..], &["--examples", "5000", "--csv", s(&b), "--resume-from", s(&ck)]].concat());
    assert_same_run(&b, &a);
    // Resuming a run already past its budget is refused, not silently a no-op.
    let (code, err) = cabs(&[&RUN[..], &[LR], &common[..], &["--examples", "1000", "--resume-from", s(&ck)]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already at --examples 1000") && err.trim_end().lines().count() == 1, "{err}");
}

/// Rows a run wrote after its last checkpoint (it was killed later) are cut back to the
/// checkpoint's step, half a row included, and written again by the resumed run: each once.
#[test]
fn rows_written_past_the_checkpoint_are_cut_and_written_once() {
    let d = dir("past");
    let (a, b, ck) = (d.join("a.csv"), d.join("b.csv"), d.join("run.ckpt"));
    let common = ["--backend", "cpu", "--eval-every", "25"];
    train(&[&common[..], &["--steps", "300", "--csv", s(&a)]].concat());
    train(&[&common[..], &["--steps", "150", "--csv", s(&b), "--checkpoint", s(&ck)]].concat());
    // What the run would have written after step 150 had it gone on: rows 151..=190 and half
    // of row 191, with other timings.
    let whole = std::fs::read_to_string(&a).unwrap();
    let mut past: String = whole.lines().skip(151).take(40).map(|l| format!("{l}\n")).collect();
    past.push_str(&whole.lines().nth(191).unwrap()[..20]);
    let mut text = std::fs::read_to_string(&b).unwrap();
    text.push_str(&past);
    std::fs::write(&b, &text).unwrap();
    let err = train(&[&common[..], &["--steps", "300", "--csv", s(&b), "--resume-from", s(&ck)]].concat());
    assert!(err.contains("41 rows past the checkpoint's step 150 removed"), "{err}");
    assert_same_run(&b, &a);
}

/// A run killed for real while it trains: whatever step its last checkpoint is at, the
/// resumed run's CSV is the uninterrupted run's with the same budget.
#[test]
fn a_killed_run_continues_from_its_last_checkpoint() {
    let d = dir("killed");
    let (a, b, ck) = (d.join("a.csv"), d.join("b.csv"), d.join("run.ckpt"));
    let common = ["--backend", "cpu", "--eval-every", "25"];
    let mut child = common::command::command(&[])
        .args(
            [
                &RUN[..],
                &[LR],
                &common[..],
                &["--steps", "100000000", "--csv", s(&b), "--checkpoint", s(&ck), "--checkpoint-every-steps", "50"],
            ]
            .concat(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ck.exists() {
        assert!(t0.elapsed() < Duration::from_secs(300), "no checkpoint after 300 s");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    let at = state(&ck).step;
    assert!(at > 0 && at.is_multiple_of(50), "checkpoint at step {at}");
    let total = (at + 80).to_string();
    train(&[&common[..], &["--steps", &total, "--csv", s(&a)]].concat());
    train(&[&common[..], &["--steps", &total, "--csv", s(&b), "--resume-from", s(&ck)]].concat());
    assert_same_run(&b, &a);
}

/// Other flags than the checkpoint's run: refused in one line naming both sides, before the
/// CSV is touched.
#[test]
fn a_checkpoint_for_other_flags_is_refused_naming_both() {
    let d = dir("other");
    let (b, ck) = (d.join("b.csv"), d.join("run.ckpt"));
    train(&["--backend", "cpu", "--eval-every", "50", "--steps", "100", "--csv", s(&b), "--checkpoint", s(&ck)]);
    let before = std::fs::read(&b).unwrap();
    let resume = ["--backend", "cpu", "--steps", "200", "--csv", s(&b), "--resume-from", s(&ck)];
    for (flags, lr, want) in [
        (&["--seed", "2"][..], LR, &["seed 1 ≠ 2"][..]),
        (&["--model", "mlp:8"], LR, &["\"mlp:16\"", "\"mlp:8\""]),
        (&["--data", "moons"], LR, &["'blobs'", "'moons'"]),
        (&["--rule", "const:32"], LR, &["rule "]),
        (&["--mu", "0.9"], LR, &["rule ", "0.95", "0.9"]),
        (&[], "0.1", &["α = 1 ", "--lr 0.1"]),
        (&["--eval-every", "10"], LR, &["every 50 steps", "--eval-every 10"]),
    ] {
        let args =
            [&["train", "--data", "blobs", "--model", "mlp:16", "--m-min", "4", "--quiet", "--lr", lr][..], flags, &resume[..]].concat();
        let (code, err) = cabs(&args);
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{flags:?}: one line: {err}");
        assert!(err.contains(s(&ck)), "{flags:?}: names the checkpoint: {err}");
        for w in want {
            assert!(err.contains(w), "{flags:?}: '{w}' not in: {err}");
        }
        assert_eq!(std::fs::read(&b).unwrap(), before, "{flags:?}: the CSV was changed");
    }
}

/// A damaged checkpoint, a file that is not one, and a CSV that does not reach the
/// checkpoint's step (or is not a `cabs train` CSV) are refused.
#[test]
fn a_damaged_checkpoint_or_a_foreign_csv_is_refused() {
    let d = dir("damaged");
    let (b, ck, bad) = (d.join("b.csv"), d.join("run.ckpt"), d.join("bad.ckpt"));
    train(&["--backend", "cpu", "--steps", "100", "--csv", s(&b), "--checkpoint", s(&ck)]);
    let before = std::fs::read(&b).unwrap();
    let mut bytes = std::fs::read(&ck).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&bad, &bytes).unwrap();
    let resume = |ckpt: &Path, csv: &Path| {
        let (code, err) =
            cabs(&[&RUN[..], &[LR, "--backend", "cpu", "--steps", "200", "--csv", s(csv), "--resume-from", s(ckpt)]].concat());
        assert_ne!(code, 0, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    };
    let err = resume(&bad, &b);
    assert!(err.contains("damaged") && err.contains("checksum") && err.contains(s(&bad)), "{err}");
    let err = resume(&b, &b);
    assert!(err.contains("not a CABS run state"), "{err}");
    assert_eq!(std::fs::read(&b).unwrap(), before, "the CSV was changed");
    let err = resume(&d.join("missing.ckpt"), &b);
    assert!(err.contains("missing.ckpt"), "{err}");
    // The CSV of the first 90 steps only: it does not belong to a checkpoint at step 100.
    let short = d.join("short.csv");
    let text = std::fs::read_to_string(&b).unwrap();
    std::fs::write(&short, text.lines().take(91).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let err = resume(&ck, &short);
    assert!(err.contains("does not belong to this checkpoint") && err.contains("90 whole rows") && err.contains("step 100"), "{err}");
    let other = d.join("other.csv");
    std::fs::write(&other, "a,b,c\n1,2,3\n").unwrap();
    let err = resume(&ck, &other);
    assert!(err.contains("not the header"), "{err}");
}

/// The GPU engine (lavapipe here: slow, so short), once.
#[test]
fn a_gpu_run_resumed_from_its_checkpoint_writes_the_uninterrupted_runs_csv() {
    let d = dir("gpu");
    let (a, b, ck) = (d.join("a.csv"), d.join("b.csv"), d.join("run.ckpt"));
    let common = ["--backend", "gpu", "--eval-every", "20"];
    let (code, err) = cabs(&[&RUN[..], &[LR], &common[..], &["--steps", "60", "--csv", s(&a)]].concat());
    assert_eq!(code, 0, "no GPU adapter? install lavapipe (apt mesa-vulkan-drivers libvulkan1): {err}");
    train(&[&common[..], &["--steps", "30", "--csv", s(&b), "--checkpoint", s(&ck)]].concat());
    assert_eq!(state(&ck).engine(), "gpu");
    train(&[&common[..], &["--steps", "60", "--csv", s(&b), "--resume-from", s(&ck)]].concat());
    assert_same_run(&b, &a);
}
