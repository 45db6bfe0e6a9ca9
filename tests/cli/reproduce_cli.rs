//! `cabs reproduce` as a user runs it: every promised file, with the documented headers and
//! row counts, figures with their legends, diverged runs recorded rather than fatal, `--only`
//! subsets with shared runs trained once, and one-line errors that name the bad flag.
//! Small budgets on the generated blobs set and the CPU engine, so it runs anywhere in seconds.
//! (The committed reproduction in docs/ is checked in `committed_reproduction.rs`.)
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A run file's header: the step record's columns (`cabs train --csv`), then the reproduction's
/// `train_ms` and `train_subset_loss`.
static RUN_HEADER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{},train_ms,train_subset_loss", cabs::record::header()));
const SUMMARY_HEADER: &str = "label,role,rule,alpha,status,final_test_accuracy,final_test_loss,final_train_loss_smoothed,examples_to_target,seconds_to_target,steps,examples,wall_seconds,batch_at_25,batch_at_50,batch_at_75,batch_at_100";
const FIGURES: [&str; 6] =
    ["loss_vs_examples", "accuracy_vs_examples", "loss_vs_time", "accuracy_vs_time", "batch_vs_steps", "sensitivity"];

pub(crate) use crate::common::command::cabs;

pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cabs-reproduce-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(crate) fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Data rows of a CSV, checking the header.
fn rows(p: &Path, header: &str) -> Vec<Vec<String>> {
    let text = read(p);
    let mut lines = text.lines();
    // The columns named here, in this order, then any appended ones (the contract: existing
    // columns keep their name and place; new ones come after them).
    let first = lines.next().unwrap_or_default();
    assert!(first == header || first.starts_with(&format!("{header},")), "{}: header {first}", p.display());
    let n = first.split(',').count();
    lines
        .map(|l| {
            let f: Vec<String> = l.split(',').map(str::to_string).collect();
            assert_eq!(f.len(), n, "{}: {l}", p.display());
            f
        })
        .collect()
}

pub(crate) fn col(header: &str, name: &str) -> usize {
    header.split(',').position(|c| c == name).unwrap()
}

#[test]
fn quick_reproduction_writes_every_promised_file() {
    let out = fresh_dir("full");
    let (code, stdout, stderr) = cabs(&[
        "reproduce",
        "--quick",
        "--data",
        "blobs",
        "--model",
        "mlp:16",
        "--backend",
        "cpu",
        "--examples",
        "3000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("33 runs"), "{stdout}");
    // One line when each run starts and one when it ends.
    assert_eq!(stderr.lines().filter(|l| l.contains("reproduce [")).count(), 66, "{stderr}");

    // Per-run logs: the `cabs train --csv` columns plus train_ms; 1 CABS + 5×4 grid + 5 decay
    // + 4 more CABS α for the sensitivity study (α ∈ {0.05, 0.1, 0.2, 0.5, 1}) + m = 16, 64, 256
    // at α = 1 (its other fixed-m runs are grid runs, reused).
    let mut files: Vec<String> =
        std::fs::read_dir(out.join("runs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    let csvs: Vec<String> = files.iter().filter(|f| f.ends_with(".csv")).cloned().collect();
    assert_eq!(csvs.len(), 33, "{csvs:?}");
    // Beside each run file, its record.
    for c in &csvs {
        assert!(files.contains(&c.replace(".csv", ".json")), "no record for {c}");
    }
    // And, for every run that did not diverge, its final predictions: one byte per test example.
    let preds: Vec<&String> = files.iter().filter(|f| f.ends_with(".pred")).collect();
    assert_eq!(files.len(), 66 + preds.len(), "{files:?}");
    assert!(preds.len() >= 20, "{preds:?}");
    let n_test = std::fs::metadata(out.join("runs/cabs-a0.1.pred")).unwrap().len();
    assert!(n_test > 0);
    for p in &preds {
        assert_eq!(std::fs::metadata(out.join("runs").join(p)).unwrap().len(), n_test, "{p}");
    }
    for name in ["cabs-a0.1.csv", "cabs-a0.05.csv", "cabs-a1.csv", "const-m64-a0.2.csv", "const-m256-a0.5.csv", "const-m256-a1.csv"] {
        assert!(csvs.iter().any(|c| c == name), "{name} missing from {csvs:?}");
    }
    assert_eq!(csvs.iter().filter(|c| c.ends_with("-invtime.csv")).count(), 5);
    let cabs_rows = rows(&out.join("runs/cabs-a0.1.csv"), &RUN_HEADER);
    assert_eq!(cabs_rows.len(), 3000 / 16 + 1, "16-example steps until the budget is spent");
    let last = cabs_rows.last().unwrap();
    assert!(last[1].parse::<u64>().unwrap() >= 3000);
    assert!(!last[13].is_empty(), "the last step is evaluated");
    let evals = cabs_rows.iter().filter(|r| !r[13].is_empty()).count();
    assert!((9..=12).contains(&evals), "about 10 evaluations with --quick, got {evals}");
    let (wall, train): (f64, f64) =
        (last[col(&RUN_HEADER, "wall_ms")].parse().unwrap(), last[col(&RUN_HEADER, "train_ms")].parse().unwrap());
    assert!(train > 0.0 && train <= wall, "train_ms {train} excludes evaluations, wall_ms {wall} does not");
    // The training-subset loss on every evaluated row, and only there.
    let sub = col(&RUN_HEADER, "train_subset_loss");
    for r in &cabs_rows {
        assert_eq!(r[sub].is_empty(), r[13].is_empty(), "{r:?}");
    }
    let l: f64 = last[sub].parse().unwrap();
    assert!(l.is_finite() && l > 0.0, "{l}");

    // Summary: CABS + the best α of each of 5 batch sizes + their decayed versions.
    let summary = rows(&out.join("summary.csv"), SUMMARY_HEADER);
    assert_eq!(summary.len(), 11);
    let role = col(SUMMARY_HEADER, "role");
    assert_eq!(summary[0][0], "cabs-a0.1");
    assert_eq!(summary.iter().filter(|r| r[role] == "best-fixed").count(), 5);
    assert_eq!(summary.iter().filter(|r| r[role] == "decay").count(), 5);
    for r in &summary {
        assert_eq!(r[col(SUMMARY_HEADER, "status")], "ok");
        let acc: f64 = r[col(SUMMARY_HEADER, "final_test_accuracy")].parse().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        assert!(r[col(SUMMARY_HEADER, "examples")].parse::<u64>().unwrap() >= 3000);
    }
    let decay = summary.iter().find(|r| r[0].starts_with("const-m64-") && r[0].ends_with("-invtime")).unwrap();
    assert!(decay[col(SUMMARY_HEADER, "rule")].starts_with("const:64:invtime:0.0426667"), "{decay:?}");
    assert_eq!(rows(&out.join("all_runs.csv"), SUMMARY_HEADER).len(), 33);

    let md = read(&out.join("results.md"));
    for needle in [
        "| run | role | rule | α | final test accuracy | final test loss | smoothed train loss | examples to 97 % |",
        "## Tuning grid",
        "| m \\ α | 0.05 | 0.1 | 0.2 | 0.5 | best α |",
        "## Sensitivity",
        "| α | CABS | m = 16 | m = 64 | m = 256 |",
        "## Verdicts",
        "**One seed**",
        "### 1. \"Per training example, CABS is at least as fast as fixed-batch SGD with a tuned α\"",
        "### 2. \"CABS needs no learning-rate schedule\"",
        "### 3. \"CABS is less sensitive to α than fixed batches\"",
        "Training loss at equal steps",
        "Seeds that learnt (final training loss below 90 % of the initial loss",
        "the spread (max − min) of the training loss over the α at which both rules learnt in every seed",
        "Over the α where both learnt, CABS is less sensitive to α (at equal examples and at equal steps):",
        "## Flags",
        "**Did not learn** (diverged, or final test accuracy at most chance + 1 point",
        "**Identical runs**",
        "Every comparison is paired by seed",
        "**Environment:** engine cpu",
        "model `mlp:16`",
        "budget 3000 training examples",
        "**Command:** `cabs reproduce --quick",
        "figures/loss_vs_examples.svg",
    ] {
        assert!(md.contains(needle), "results.md lacks {needle:?}:\n{md}");
    }

    for f in FIGURES {
        let svg = read(&out.join(format!("figures/{f}.svg")));
        assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"), "{f}");
        assert!(svg.len() > 5_000, "{f}: only {} bytes", svg.len());
        assert!(svg.contains("CABS"), "{f}: no CABS legend");
        assert!(svg.contains("m=16"), "{f}: no m=16 legend");
        assert!(!svg.contains("no data"), "{f}: empty panel");
    }
    let loss = read(&out.join("figures/loss_vs_examples.svg"));
    assert!(loss.contains("CABS α=0.1") && loss.contains("m=64 α=") && loss.contains("inv-time decay"));
    assert!(loss.contains("training examples") && loss.contains("training loss (smoothed)"));
    let time = read(&out.join("figures/accuracy_vs_time.svg"));
    assert!(time.contains("training time [s]"));
    let sens = read(&out.join("figures/sensitivity.svg"));
    assert!(sens.contains("learning rate α") && sens.contains("m=256"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn subsets_share_runs_and_record_divergence() {
    let out = fresh_dir("subset");
    let (code, _stdout, stderr) = cabs(&[
        "reproduce",
        "--data",
        "blobs",
        "--model",
        "mlp:16",
        "--backend",
        "cpu",
        "--examples",
        "1500",
        "--eval-every-examples",
        "500",
        "--only",
        "cabs,decay",
        "--batches",
        "64,16",
        "--alphas",
        "0.1,1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // α = 1000 diverges (ξ is ∞ within a few dozen steps); that is recorded, not fatal.
    let all = rows(&out.join("all_runs.csv"), SUMMARY_HEADER);
    assert_eq!(all.len(), 1 + 4 + 2, "CABS, the 2×2 grid the decay runs need, 2 decay runs");
    let status = col(SUMMARY_HEADER, "status");
    let bad = all.iter().find(|r| r[0] == "const-m16-a1000").unwrap();
    assert!(bad[status].starts_with("diverged at step "), "{bad:?}");
    assert!(bad[col(SUMMARY_HEADER, "final_test_accuracy")].is_empty());
    assert!(read(&out.join("runs/const-m16-a1000.csv")).lines().count() > 1, "rows before the divergence are kept");
    // `decay` without `fixed`: the grid is run to find α, but only CABS and decay are reported.
    let summary = rows(&out.join("summary.csv"), SUMMARY_HEADER);
    let labels: Vec<&str> = summary.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(labels, ["cabs-a0.1", "const-m16-a0.1-invtime", "const-m64-a0.1-invtime"]);
    let md = read(&out.join("results.md"));
    assert!(md.contains("diverged (step"), "{md}");
    assert!(!md.contains("## Sensitivity"));
    assert!(read(&out.join("figures/sensitivity.svg")).contains("no data"));
    // Evaluations at the first step past every 500 examples, and at the end.
    let cabs_rows = rows(&out.join("runs/cabs-a0.1.csv"), &RUN_HEADER);
    let evals: Vec<u64> = cabs_rows.iter().filter(|r| !r[13].is_empty()).map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(evals, [512, 1008, 1504]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_values_give_one_line_naming_the_flag() {
    let file = std::env::temp_dir().join(format!("cabs-reproduce-test-{}-file", std::process::id()));
    std::fs::write(&file, b"not a folder").unwrap();
    let under_file = file.join("out");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--alphas", "0.1,x"], "--alphas"),
        (vec!["--alphas", "0.1,-2"], "--alphas"),
        (vec!["--alphas", ""], "--alphas"),
        (vec!["--batches", "0"], "--batches"),
        (vec!["--batches", "16,sixty"], "--batches"),
        (vec!["--batches", "16,99999"], "--batches"),
        (vec!["--sensitivity", "0.1,nan"], "--sensitivity"),
        (vec!["--only", "cabs,bogus"], "--only"),
        (vec!["--target-accuracy", "1.5"], "--target-accuracy"),
        (vec!["--cabs-alpha", "0"], "--cabs-alpha"),
        (vec!["--examples", "0"], "--examples"),
        (vec!["--eval-every-examples", "0"], "--eval-every-examples"),
        (vec!["--lr", "0.1"], "--lr"),
        (vec!["--steps", "10"], "--steps"),
        (vec!["--rule", "cabs"], "--rule"),
        (vec!["--m-max", "9999"], "--m-max"),
        (vec!["--out", under_file.to_str().unwrap()], "cannot create"),
        (vec!["--model", "mlp:x"], "mlp:x"),
        (vec!["--alphas", "0.1,1e39"], "'1e39'"),
        (vec!["--sensitivity", "1e-320"], "'1e-320'"),
        (vec!["--cabs-alpha", "1e308"], "'1e308'"),
        (vec!["--examples", "2.5"], "'2.5'"),
        (vec!["--jobs", "0"], "--jobs 0"),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["reproduce", "--data", "blobs", "--model", "mlp:4", "--backend", "cpu", "--examples", "100"];
        args.extend(extra.iter());
        let (code, _out, err) = cabs(&args);
        // Flags and values are usage errors (2); files that cannot be created are not.
        assert_eq!(code, if needle == "cannot create" { 1 } else { 2 }, "{extra:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{extra:?}: expected one line, got:\n{err}");
        assert!(err.starts_with("cabs: error: ") && err.contains(needle), "{extra:?}: {err}");
    }
    let _ = std::fs::remove_file(&file);
}

#[test]
fn parallel_jobs_give_the_same_runs_and_resume_reuses_them() {
    let args = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "reproduce",
            "--quick",
            "--data",
            "blobs",
            "--model",
            "mlp:16",
            "--backend",
            "cpu",
            "--only",
            "cabs,fixed",
            "--alphas",
            "0.5,2",
            "--batches",
            "16,32",
            "--examples",
            "2000",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(out.display().to_string());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let (code, _, stderr) = cabs(&refs);
        assert_eq!(code, 0, "{stderr}");
        stderr
    };
    let (one, two) = (fresh_dir("jobs1"), fresh_dir("jobs2"));
    run(args(&one, &[]));
    run(args(&two, &["--jobs", "2"]));
    let accuracy = |dir: &Path| -> Vec<(String, String)> {
        let header = read(&dir.join("all_runs.csv")).lines().next().unwrap().to_string();
        let (l, a) = (col(&header, "label"), col(&header, "final_test_accuracy"));
        let mut v: Vec<(String, String)> =
            rows(&dir.join("all_runs.csv"), &header).into_iter().map(|r| (r[l].clone(), r[a].clone())).collect();
        v.sort();
        v
    };
    assert_eq!(accuracy(&one), accuracy(&two), "--jobs 2 trains the same runs as --jobs 1");
    for f in ["cabs-a0.1", "const-m16-a0.5", "const-m32-a2"] {
        assert_eq!(
            read(&one.join(format!("runs/{f}.csv"))).lines().count(),
            read(&two.join(format!("runs/{f}.csv"))).lines().count(),
            "{f}"
        );
    }
    // Resume: nothing is trained again, and the tables come out the same.
    let before = accuracy(&two);
    let stderr = run(args(&two, &["--resume"]));
    assert_eq!(stderr.matches("not retrained").count(), 5, "{stderr}");
    assert_eq!(accuracy(&two), before);
    // An incomplete run file is trained again.
    let cut = two.join("runs/const-m32-a2.csv");
    let text = read(&cut);
    let keep: Vec<&str> = text.lines().take(5).collect();
    std::fs::write(&cut, keep.join("\n") + "\n").unwrap();
    let stderr = run(args(&two, &["--resume"]));
    assert_eq!(stderr.matches("not retrained").count(), 4, "{stderr}");
    assert_eq!(accuracy(&two), before);
    for d in [one, two] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn one_run_that_cannot_be_written_does_not_stop_the_others() {
    let out = fresh_dir("onebad");
    // A folder where one run's CSV should go: that run fails, the others are trained, the
    // tables are written, and the command exits 1 naming it.
    std::fs::create_dir_all(out.join("runs/const-m16-a0.5.csv")).unwrap();
    let (code, stdout, stderr) = cabs(&[
        "reproduce",
        "--quick",
        "--data",
        "blobs",
        "--model",
        "mlp:8",
        "--backend",
        "cpu",
        "--only",
        "cabs,fixed",
        "--alphas",
        "0.5,2",
        "--batches",
        "16,32",
        "--examples",
        "600",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("5 runs"), "{stdout}");
    let last = stderr.trim_end().lines().last().unwrap();
    assert!(last.starts_with("cabs: error: 1 of 5 runs failed") && last.contains("const-m16-a0.5"), "{stderr}");
    let all = rows(&out.join("all_runs.csv"), SUMMARY_HEADER);
    let status = col(SUMMARY_HEADER, "status");
    for r in &all {
        assert_eq!(r[status], if r[0] == "const-m16-a0.5" { "failed" } else { "ok" }, "{r:?}");
    }
    assert!(read(&out.join("results.md")).contains("failed"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn seeds_change_weights_and_order_alike_for_every_rule_and_tables_give_the_spread() {
    let out = fresh_dir("seeds");
    let (code, stdout, stderr) = cabs(&[
        "reproduce",
        "--quick",
        "--data",
        "blobs",
        "--model",
        "mlp:8",
        "--backend",
        "cpu",
        "--only",
        "cabs,fixed",
        "--alphas",
        "0.5",
        "--batches",
        "16,32",
        "--examples",
        "600",
        "--seeds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("6 runs"), "{stdout}");
    // Seed 1 keeps the plain labels; seed 2 gets "-s2".
    let first_loss = |label: &str| -> String { rows(&out.join(format!("runs/{label}.csv")), &RUN_HEADER)[0][5].clone() };
    // CABS starts at m = 16 like the fixed m = 16 run: with the same seed the first step sees the
    // same weights and the same batch, so the same loss; another seed changes both.
    assert_eq!(first_loss("cabs-a0.1"), first_loss("const-m16-a0.5"));
    assert_eq!(first_loss("cabs-a0.1-s2"), first_loss("const-m16-a0.5-s2"));
    assert_ne!(first_loss("cabs-a0.1"), first_loss("cabs-a0.1-s2"));
    // One row per run and seed in the CSVs; the Markdown gives mean (min–max) per rule.
    assert_eq!(rows(&out.join("all_runs.csv"), SUMMARY_HEADER).len(), 6);
    assert_eq!(rows(&out.join("summary.csv"), SUMMARY_HEADER).len(), 6);
    let md = read(&out.join("results.md"));
    assert!(md.contains("seeds 1–2"), "{md}");
    assert!(md.contains("| cabs-a0.1 | cabs |"), "{md}");
    // (The flags name single runs; the tables name groups.)
    assert!(!md[..md.find("## Flags").unwrap()].contains("cabs-a0.1-s2"), "groups are named without the seed: {md}");
    assert!(md.contains("(2 seeds: t = 12.71)"), "{md}");
    let all = rows(&out.join("all_runs.csv"), SUMMARY_HEADER);
    let acc = |label: &str| all.iter().find(|r| r[0] == label).unwrap()[col(SUMMARY_HEADER, "final_test_accuracy")].parse::<f64>().unwrap();
    let (a1, a2) = (acc("cabs-a0.1"), acc("cabs-a0.1-s2"));
    let cell = md.lines().find(|l| l.starts_with("| cabs-a0.1 |")).unwrap().split('|').nth(5).unwrap().trim().to_string();
    let (lo, hi) = (a1.min(a2) * 100.0, a1.max(a2) * 100.0);
    let expect = if a1 == a2 { format!("{lo:.2} %") } else { format!("{:.2} % ({lo:.2} %–{hi:.2} %)", (a1 + a2) / 2.0 * 100.0) };
    assert_eq!(cell, expect, "mean (min–max) of {a1} and {a2}");
    // Figures: a mean line with a min–max band.
    let svg = read(&out.join("figures/loss_vs_examples.svg"));
    assert!(svg.contains("<polygon"), "no band in the figure");
    assert!(svg.contains("bands: their min–max"));
    let (code, _, err) = cabs(&["reproduce", "--data", "blobs", "--seeds", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--seeds 0"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

/// `cabs` with a working directory and extra environment, guarded against hanging (a FIFO that
/// blocks a reader): killed after `guard_s`, and then the test fails saying so.
fn cabs_in(dir: &Path, env: &[(&str, &str)], args: &[&str], guard_s: u64) -> (i32, String, String) {
    use std::process::Stdio;
    let out_file = dir.join(format!(".cabs-stdout-{}", std::process::id()));
    let err_file = dir.join(format!(".cabs-stderr-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cabs"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let mut waited = 0;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if waited >= guard_s * 10 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cabs {args:?} was still running after {guard_s} s (blocked?): {}", read(&err_file));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    };
    let (o, e) = (read(&out_file), read(&err_file));
    let _ = std::fs::remove_file(&out_file);
    let _ = std::fs::remove_file(&err_file);
    (status.code().unwrap_or(-1), o, e)
}

/// A small CABS-only reproduction on blobs into `out`, with extra flags.
fn small(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> =
        ["reproduce", "--data", "blobs", "--model", "mlp:8", "--backend", "cpu", "--only", "cabs", "--examples", "400", "--out"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    v.push(out.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_args(v: &[String]) -> (i32, String, String) {
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    cabs(&refs)
}

#[test]
fn seed_ranges_that_wrap_and_an_empty_out_are_refused() {
    let out = fresh_dir("wrap");
    let (code, stdout, err) = run_args(&small(&out, &["--seed", "18446744073709551615", "--seeds", "3"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("cabs: error: ") && err.contains("--seed 18446744073709551615 --seeds 3"), "{err}");
    assert!(!stdout.contains("runs planned") && !out.exists(), "nothing is planned or written");
    // The largest seeds that fit are fine, and distinct: three files, three seeds in the header.
    let (code, _, err) = run_args(&small(&out, &["--seed", "18446744073709551613", "--seeds", "3", "--examples", "48"]));
    assert_eq!(code, 0, "{err}");
    let csvs =
        std::fs::read_dir(out.join("runs")).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "csv")).count();
    assert_eq!(csvs, 3);
    assert!(read(&out.join("results.md")).contains("seeds 18446744073709551613–18446744073709551615"));
    let (code, _, err) = cabs(&["reproduce", "--data", "blobs", "--backend", "cpu", "--out", ""]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--out ''"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn each_run_records_its_settings_and_engine_and_resume_refuses_other_flags() {
    let out = fresh_dir("record");
    let (code, _, err) = run_args(&small(&out, &["--model", "mlp:8", "--examples", "400"]));
    assert_eq!(code, 0, "{err}");
    let record: serde_json::Value = serde_json::from_str(&read(&out.join("runs/cabs-a0.1.json"))).unwrap();
    let s = &record["settings"];
    assert_eq!((s["model"].as_str(), s["examples"].as_u64(), s["rule"].as_str()), (Some("mlp:8"), Some(400), Some("cabs")));
    assert_eq!((s["alpha"].as_f64(), s["seed"].as_u64(), s["backend"].as_str()), (Some(0.1), Some(1), Some("cpu")));
    assert_eq!(s["data"].as_str(), Some("blobs"));
    let engine = &record["engine"];
    assert_eq!(engine["crate_version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    assert!(engine["source_hash"].as_str().unwrap().starts_with("fnv1a64:"), "{record}");
    assert!(engine["device"].as_str().unwrap().starts_with("cpu"), "{record}");
    // The same flags: reused. Other flags: refused before anything trains, naming both settings,
    // and the run file is left as it was.
    let (code, _, err) = run_args(&small(&out, &["--model", "mlp:8", "--examples", "400", "--resume"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("not retrained").count(), 1, "{err}");
    let before = read(&out.join("runs/cabs-a0.1.csv"));
    let (code, _, err) = run_args(&small(&out, &["--model", "mlp:64", "--examples", "200", "--resume"]));
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim_end().lines().count(), 2, "the plan line and one error line: {err}");
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.contains("cabs-a0.1.csv") && last.contains("model mlp:8") && last.contains("model mlp:64"), "{last}");
    assert!(last.contains("examples 400") && last.contains("examples 200") && last.contains("--out"), "{last}");
    assert!(!err.contains("reproduce ["), "nothing was trained: {err}");
    assert_eq!(read(&out.join("runs/cabs-a0.1.csv")), before);
    // A run file without a record (made before records, or by hand) is refused too …
    std::fs::remove_file(out.join("runs/cabs-a0.1.json")).unwrap();
    let (code, _, err) = run_args(&small(&out, &["--resume"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no record"), "{err}");
    // … unless adopted on purpose: its record is then written from the flags, marked adopted.
    let (code, _, err) =
        cabs_in(&out, &[("CABS_REPRODUCE_ADOPT", "1")], &small(&out, &["--resume"]).iter().map(String::as_str).collect::<Vec<_>>(), 300);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("adopted") && err.contains("not retrained"), "{err}");
    let adopted: serde_json::Value = serde_json::from_str(&read(&out.join("runs/cabs-a0.1.json"))).unwrap();
    assert!(adopted["adopted"].is_string() && adopted["engine"].is_null(), "{adopted}");
    let (code, _, err) = run_args(&small(&out, &["--resume"]));
    assert_eq!((code, err.matches("not retrained").count()), (0, 1), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn resume_refuses_doctored_values_naming_file_and_line() {
    let out = fresh_dir("doctored");
    let (code, _, err) = run_args(&small(&out, &[]));
    assert_eq!(code, 0, "{err}");
    let path = out.join("runs/cabs-a0.1.csv");
    let good = read(&path);
    let header = good.lines().next().unwrap().to_string();
    let n = good.lines().count();
    let (ex, acc) = (col(&header, "examples_seen"), col(&header, "test_accuracy"));
    for (c, value, needle) in [
        (ex, "inf", "examples_seen 'inf'"),
        (acc, "1e308", "test_accuracy '1e308' is not an accuracy in [0, 1]"),
        (acc, "NaN", "test_accuracy 'NaN'"),
        (acc, "1.5", "test_accuracy '1.5'"),
    ] {
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        let mut f: Vec<String> = lines[n - 1].split(',').map(str::to_string).collect();
        f[c] = value.to_string();
        lines[n - 1] = f.join(",");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let (code, _, err) = run_args(&small(&out, &["--resume"]));
        assert_ne!(code, 0, "{value}: {err}");
        assert!(err.contains(&format!("cabs-a0.1.csv, line {n}: ")) && err.contains(needle), "{value}: {err}");
        assert!(read(&out.join("all_runs.csv")).contains(",failed,"), "{value}: the run is not counted as ok");
    }
    // The untouched file is reused: the check is on the values, not the file.
    std::fs::write(&path, &good).unwrap();
    let (code, _, err) = run_args(&small(&out, &["--resume"]));
    assert_eq!((code, err.matches("not retrained").count()), (0, 1), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[cfg(unix)]
#[test]
fn special_files_in_place_of_run_files_are_refused_not_opened() {
    let out = fresh_dir("fifo");
    std::fs::create_dir_all(out.join("runs")).unwrap();
    let fifo = out.join("runs/cabs-a0.1.csv");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    for extra in [&["--resume"][..], &[][..]] {
        let args = small(&out, extra);
        let (code, _, err) = cabs_in(&out, &[], &args.iter().map(String::as_str).collect::<Vec<_>>(), 300);
        assert_ne!(code, 0, "{extra:?}: {err}");
        assert!(err.contains("cabs-a0.1.csv is not a regular file (it is a FIFO)"), "{extra:?}: {err}");
    }
    // A FIFO in place of a table is refused before the first run.
    std::fs::remove_file(&fifo).unwrap();
    let _ = std::fs::remove_file(out.join("results.md"));
    assert!(Command::new("mkfifo").arg(out.join("results.md")).status().expect("mkfifo").success());
    let args = small(&out, &[]);
    let (code, _, err) = cabs_in(&out, &[], &args.iter().map(String::as_str).collect::<Vec<_>>(), 300);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("results.md is not a regular file (it is a FIFO)") && !err.contains("reproduce ["), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn without_out_results_go_to_out_reproduction_and_auto_is_resolved_once() {
    // A scratch working directory stands in for the repository, so that nothing is written
    // into tracked files.
    let cwd = fresh_dir("default-out");
    std::fs::create_dir_all(cwd.join("docs/reproduction/runs")).unwrap();
    std::fs::write(cwd.join("docs/reproduction/runs/cabs-a0.1.csv"), "committed\n").unwrap();
    let args = [
        "reproduce",
        "--data",
        "blobs",
        "--model",
        "mlp:8",
        "--only",
        "cabs,fixed",
        "--alphas",
        "0.5",
        "--batches",
        "16",
        "--examples",
        "200",
    ];
    let (code, stdout, err) = cabs_in(&cwd, &[], &args, 600);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("out/reproduction/results.md"), "{stdout}");
    assert_eq!(read(&cwd.join("docs/reproduction/runs/cabs-a0.1.csv")), "committed\n", "the committed set is untouched");
    let res = cwd.join("out/reproduction");
    let md = read(&res.join("results.md"));
    // No --backend: auto, resolved to one engine before the first run and named in the header
    // and in every run's record.
    let line = md.lines().find(|l| l.starts_with("**Environment:**")).unwrap();
    let kind = if line.contains("resolved once, to gpu") { "gpu" } else { "cpu" };
    assert!(line.contains(&format!("--backend auto resolved once, to {kind}, for every run")), "{line}");
    for label in ["cabs-a0.1", "const-m16-a0.5"] {
        let r: serde_json::Value = serde_json::from_str(&read(&res.join(format!("runs/{label}.json")))).unwrap();
        assert_eq!(r["settings"]["backend"].as_str(), Some(kind), "{label}: {r}");
    }
    // --resume finds them there again.
    let mut again = args.to_vec();
    again.push("--resume");
    let (code, _, err) = cabs_in(&cwd, &[], &again, 600);
    assert_eq!((code, err.matches("not retrained").count()), (0, 2), "{err}");
    let _ = std::fs::remove_dir_all(&cwd);
}

/// `all_runs.csv` without the columns that time the runs (wall and training seconds differ
/// between any two sittings), sorted by label.
pub(crate) fn timeless_runs(dir: &Path) -> Vec<Vec<String>> {
    let text = read(&dir.join("all_runs.csv"));
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len()).filter(|&i| !matches!(header[i], "wall_seconds" | "seconds_to_target")).collect();
    let mut v: Vec<Vec<String>> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| f[i].to_string()).collect()
        })
        .collect();
    v[1..].sort();
    v
}

/// results.md from its rules (or flags) to its figures: the tables no timing enters.
pub(crate) fn verdict_part(dir: &Path) -> String {
    let md = read(&dir.join("results.md"));
    let start = md.find("## Rules compared").or_else(|| md.find("## Flags")).expect("a Flags section");
    let (a, b) = (start, md.find("## Figures").expect("a Figures section"));
    md[a..b].to_string()
}

#[test]
fn an_emitted_grid_run_by_gnu_parallel_assembles_into_the_tables_of_jobs_2() {
    let parallel = Command::new("parallel").arg("--version").output();
    assert!(
        parallel.is_ok_and(|o| o.status.success()),
        "GNU parallel is missing: install it (apt-get install parallel, as bash scripts/setup.sh test does)"
    );
    let flags = |out: &Path| -> Vec<String> {
        let mut v: Vec<String> = [
            "reproduce",
            "--quick",
            "--data",
            "blobs",
            "--model",
            "mlp:16",
            "--backend",
            "cpu",
            "--seeds",
            "2",
            "--only",
            "cabs,fixed,decay,rules",
            "--alphas",
            "0.5,2",
            "--batches",
            "16,32",
            "--rules",
            "cabs,const:24",
            "--examples",
            "1500",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(out.display().to_string());
        v
    };
    let go = |mut a: Vec<String>, extra: &[&str]| -> (i32, String, String) {
        a.extend(extra.iter().map(|s| s.to_string()));
        cabs(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (whole, grid) = (fresh_dir("emit-whole"), fresh_dir("emit-grid"));
    let (code, _, err) = go(flags(&whole), &["--jobs", "2"]);
    assert_eq!(code, 0, "{err}");

    // Phase 1: CABS, the grid and the rules (2 seeds each): 1 + 4 + 2 + (cabs and const:24 at
    // 2 α; cabs α = 0.5 and 2 are new, const:24 too) = 2 × (1 + 4 + 4) = 18 jobs.
    std::fs::create_dir_all(&grid).unwrap();
    let jobs = grid.join("jobs.txt");
    let (code, out, err) = go(flags(&grid), &["--emit-jobs", jobs.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("decay runs") && out.contains("run this command again"), "{out}");
    let lines: Vec<String> = read(&jobs).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 18, "{lines:?}");
    assert!(lines[0].starts_with(env!("CARGO_BIN_EXE_cabs")), "{}", lines[0]);
    assert!(lines[0].ends_with(&format!("--backend cpu --out {} --run cabs-a0.1", grid.display())), "{}", lines[0]);
    assert!(lines.iter().all(|l| !l.contains("--emit-jobs")), "{lines:?}");
    assert!(lines.iter().any(|l| l.ends_with("--run const-m24-a2-s2")), "{lines:?}");
    let parallel = |file: &Path| {
        let o = Command::new("parallel").args(["-j", "2", "--halt", "now,fail=1"]).arg("::::").arg(file).output().unwrap();
        assert!(o.status.success(), "parallel: {}", String::from_utf8_lossy(&o.stderr));
    };
    parallel(&jobs);
    // The decay runs are missing: assembling alone refuses, naming them.
    let (code, _, err) = go(flags(&grid), &["--assemble-only"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--assemble-only: 4 runs are missing") && err.contains("-invtime"), "{err}");
    // Phase 2: emitted again, the file now has the decay runs too; the finished jobs skip.
    let (code, out, err) = go(flags(&grid), &["--emit-jobs", jobs.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("run this command again"), "{out}");
    assert_eq!(read(&jobs).lines().count(), 22);
    parallel(&jobs);
    let (code, _, err) = go(flags(&grid), &["--assemble-only"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("not retrained").count(), 22, "assembling trains nothing: {err}");
    assert_eq!(timeless_runs(&grid), timeless_runs(&whole));
    assert_eq!(verdict_part(&grid), verdict_part(&whole));
    // The rules part: its tables and figure, each rule at its best α of the same grid.
    let md = read(&grid.join("results.md"));
    assert!(md.contains("## Rules compared (`--rules`)") && md.contains("| `const:24` |"), "{md}");
    assert!(grid.join("figures/rules.svg").exists());
    // best_alpha.csv: each grid row's and each rule's chosen α, the same as the whole run's.
    let chosen = rows(&grid.join("best_alpha.csv"), "part,row,alpha,selected_by,value");
    let names: Vec<(&str, &str)> = chosen.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    assert_eq!(names, [("grid", "const:16"), ("grid", "const:32"), ("rules", "cabs"), ("rules", "const:24")]);
    assert!(chosen.iter().all(|r| ["0.5", "2", ""].contains(&r[2].as_str()) && r[3] == "accuracy"), "{chosen:?}");
    assert_eq!(read(&grid.join("best_alpha.csv")), read(&whole.join("best_alpha.csv")));
    // The run files are the same, row for row, but for the clocks.
    let strip = |p: &Path| -> Vec<String> {
        let h = RUN_HEADER.split(',').collect::<Vec<_>>();
        let (w, t) = (h.iter().position(|c| *c == "wall_ms").unwrap(), h.iter().position(|c| *c == "train_ms").unwrap());
        read(p)
            .lines()
            .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != w && *i != t).map(|(_, c)| c).collect::<Vec<_>>().join(","))
            .collect()
    };
    for f in ["cabs-a0.1.csv", "const-m24-a0.5-s2.csv", "const-m16-a0.5-invtime.csv"] {
        assert_eq!(strip(&grid.join("runs").join(f)), strip(&whole.join("runs").join(f)), "{f}");
    }
    // A run file read back gzip-compressed gives the same tables.
    for f in std::fs::read_dir(grid.join("runs")).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "csv") {
            let st = Command::new("gzip").arg(&p).status().unwrap();
            assert!(st.success());
        }
    }
    let (code, _, err) = go(flags(&grid), &["--assemble-only"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(timeless_runs(&grid), timeless_runs(&whole));
    // A job named for no run of these flags is refused, quoting it.
    let (code, _, err) = go(flags(&grid), &["--run", "cabs-a0.3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'cabs-a0.3'"), "{err}");
    let _ = std::fs::remove_dir_all(&whole);
    let _ = std::fs::remove_dir_all(&grid);
}

/// `--select-by train-subset-loss` (docs/STUDY.md's tuning protocol): the best α of a fixed
/// batch is the one with the lowest `train_subset_loss` at its run's last evaluation, read back
/// here from the run files, and results.md says how it was chosen.
#[test]
fn select_by_train_subset_loss_picks_the_lowest_subset_loss() {
    let out = fresh_dir("selectby");
    // A grid where the two criteria disagree (checked below): by accuracy α = 0.5 wins.
    let alphas = ["0.5", "1", "2", "4"];
    let (code, _, stderr) = cabs(&[
        "reproduce",
        "--quick",
        "--data",
        "blobs",
        "--model",
        "mlp:8",
        "--backend",
        "cpu",
        "--only",
        "fixed",
        "--batches",
        "16",
        "--alphas",
        &alphas.join(","),
        "--examples",
        "900",
        "--select-by",
        "train-subset-loss",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let sub = col(&RUN_HEADER, "train_subset_loss");
    let last_loss = |alpha: &str| -> f64 {
        let r = rows(&out.join(format!("runs/const-m16-a{alpha}.csv")), &RUN_HEADER);
        r.iter().rev().find(|r| !r[sub].is_empty()).unwrap()[sub].parse().unwrap()
    };
    let losses: Vec<f64> = alphas.iter().map(|a| last_loss(a)).collect();
    let lowest = (0..alphas.len()).min_by(|&a, &b| losses[a].total_cmp(&losses[b])).unwrap();
    let summary = rows(&out.join("summary.csv"), SUMMARY_HEADER);
    let role = col(SUMMARY_HEADER, "role");
    let best: Vec<&Vec<String>> = summary.iter().filter(|r| r[role] == "best-fixed").collect();
    assert_eq!(best.len(), 1, "{summary:?}");
    assert_eq!(best[0][0], format!("const-m16-a{}", alphas[lowest]), "subset losses {losses:?}");
    let all = rows(&out.join("all_runs.csv"), SUMMARY_HEADER);
    let acc = col(SUMMARY_HEADER, "final_test_accuracy");
    let top = all.iter().map(|r| r[acc].parse::<f64>().unwrap()).fold(f64::NEG_INFINITY, f64::max);
    let by_accuracy = all.iter().find(|r| r[acc].parse::<f64>().unwrap() == top).unwrap();
    assert_ne!(by_accuracy[0], best[0][0], "this grid no longer tells the criteria apart: choose α where they differ");
    // Each run's final subset loss is in all_runs.csv, and the choice in best_alpha.csv.
    let header = read(&out.join("all_runs.csv")).lines().next().unwrap().to_string();
    let sub_col = col(&header, "final_train_subset_loss");
    for (i, a) in alphas.iter().enumerate() {
        let r = all.iter().find(|r| r[0] == format!("const-m16-a{a}")).unwrap();
        assert_eq!(r[sub_col].parse::<f64>().unwrap(), losses[i], "{a}");
    }
    let chosen = rows(&out.join("best_alpha.csv"), "part,row,alpha,selected_by,value");
    assert_eq!(chosen.len(), 1, "{chosen:?}");
    assert_eq!(chosen[0][..4], ["grid", "const:16", alphas[lowest], "train-subset-loss"]);
    assert_eq!(chosen[0][4].parse::<f64>().unwrap(), losses[lowest]);
    let md = read(&out.join("results.md"));
    assert!(md.contains("the lowest loss on the fixed 10,000-digit training subset"));
    // The tuning table shows the loss each choice was made on, next to the accuracy.
    let acc_of = |alpha: &str| all.iter().find(|r| r[0] == format!("const-m16-a{alpha}")).unwrap()[acc].parse::<f64>().unwrap();
    let cells: Vec<String> = alphas.iter().map(|a| format!("{:.2} % · {:.4}", acc_of(a) * 100.0, last_loss(a))).collect();
    let row = format!(
        "| 16 | {} | {} |",
        cells.iter().enumerate().map(|(i, c)| if i == lowest { format!("**{c}**") } else { c.clone() }).collect::<Vec<_>>().join(" | "),
        alphas[lowest]
    );
    assert!(md.contains(&row), "expected the row {row} in:\n{md}");
    let (code, _, stderr) = cabs(&["reproduce", "--quick", "--select-by", "loss", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--select-by takes accuracy or train-subset-loss, got 'loss'"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}
