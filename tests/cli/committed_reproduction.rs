//! The committed reproduction (docs/reproduction/ and docs/REPRODUCTION.md) against its own
//! CSVs: the tables are what `cabs reproduce --resume` makes of the committed run files, and every
//! figure the doc quotes from this engine's runs is recomputed from them.
#![cfg(not(target_arch = "wasm32"))]

use crate::reproduce_cli::{cabs, col, fresh_dir, read};
use std::path::Path;

/// 11781 → "11,781".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A committed CSV as (header, rows).
fn committed_csv(rel: &str) -> (String, Vec<Vec<String>>) {
    let text = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").to_string();
    (header, lines.map(|l| l.split(',').map(str::to_string).collect()).collect())
}

/// The committed reproduction in docs/reproduction/ is what the tool makes of its committed run
/// CSVs: rerunning its own command (from results.md) with --resume retrains nothing and gives the
/// same summary.csv, all_runs.csv and results.md (but the command line), and no run CSV there is
/// left over from other flags.
#[test]
fn the_committed_reproduction_is_regenerated_from_its_csvs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reproduction");
    let md = read(&src.join("results.md"));
    let command = md.lines().find_map(|l| l.strip_prefix("**Command:** `")).unwrap().trim_end_matches('`').to_string();
    let out = fresh_dir("committed");
    std::fs::create_dir_all(out.join("runs")).unwrap();
    for e in std::fs::read_dir(src.join("runs")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), out.join("runs").join(e.file_name())).unwrap();
    }
    let mut args: Vec<String> = command.split(' ').skip(1).map(str::to_string).collect();
    assert!(args.iter().any(|a| a == "--resume"), "the committed tables are regenerated with --resume: {command}");
    let o = args.iter().position(|a| a == "--out").unwrap();
    args[o + 1] = out.display().to_string();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = cabs(&refs);
    assert_eq!(code, 0, "{stderr}");
    let runs = std::fs::read_dir(src.join("runs")).unwrap().count();
    assert_eq!(stderr.matches("not retrained").count(), runs, "every committed run is read back, none trained:\n{stderr}");
    assert!(!stderr.contains("is not part of this reproduction"), "stale run CSVs:\n{stderr}");
    for f in ["summary.csv", "all_runs.csv"] {
        assert_eq!(read(&out.join(f)), read(&src.join(f)), "{f} is not what the tool makes of the run CSVs");
    }
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("**Command:**")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&read(&out.join("results.md"))), strip(&md), "results.md is not what the tool makes of the run CSVs");
    let _ = std::fs::remove_dir_all(&out);
}

/// Every figure docs/REPRODUCTION.md quotes from this engine's runs is recomputed here from the
/// committed CSVs (the tables themselves are generated: see the test above).
#[test]
fn the_reproduction_doc_quotes_its_csvs() {
    // Whitespace-normalised, so that a phrase may wrap across lines.
    let doc = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/REPRODUCTION.md")).split_whitespace().collect::<Vec<_>>().join(" ");
    let has = |s: String| assert!(doc.contains(&s), "docs/REPRODUCTION.md lacks {s:?}");
    let num = |r: &[String], header: &str, c: &str| -> Option<f64> { r[col(header, c)].parse().ok() };

    // Calibration run.
    let (h, cal) = committed_csv("docs/reproduction/calibration-cabs-a0.1-40k.csv");
    let batch = |rows: &[Vec<String>], h: &str, step: usize| num(&rows[step - 1], h, "batch_size").unwrap() as u64;
    let left16 = |rows: &[Vec<String>], h: &str| rows.iter().position(|r| num(r, h, "batch_size").unwrap() > 16.0).unwrap() + 1;
    let plateau = cal[180..200].iter().map(|r| num(r, &h, "loss").unwrap()).sum::<f64>() / 20.0;
    has(format!("| mean {plateau:.2} over steps 181–200 |"));
    has(format!("| batch first above 16 | step 307 (seed 0), step 295 (seed 1) | step {} |", left16(&cal, &h)));
    has(format!("| batch at step 400 | ≈ 26 | {} |", batch(&cal, &h, 400)));
    has(format!("| batch at step 1,000 | ≈ 80 | {} |", batch(&cal, &h, 1000)));
    let first_eval = |rows: &[Vec<String>], h: &str, target: f64| -> String {
        let r = rows.iter().find(|r| num(r, h, "test_accuracy").is_some_and(|a| a >= target)).unwrap();
        let x = num(r, h, "examples_seen").unwrap() as u64;
        format!("{} examples ({:.2} %)", thousands(x as usize), 100.0 * num(r, h, "test_accuracy").unwrap())
    };
    has(format!("| first evaluation ≥ 93 % test accuracy | ≈ 7,000 examples | {} |", first_eval(&cal, &h, 0.93)));
    has(format!("| first evaluation ≥ 97 % test accuracy | ≈ 38,000 examples | {} |", first_eval(&cal, &h, 0.97)));

    let l = left16(&cal, &h);
    has(format!("leaves the plateau {}–{} steps later than the two reference runs", l - 307, l - 295));
    let se = |p: f64| 100.0 * (p * (1.0 - p) / 2000.0).sqrt();
    has(format!("standard error of {:.2}–{:.2} points at 97–95 %", se(0.97), se(0.95)));

    // The comparison runs: CABS's horizon, the fixed batches' steps, how many runs.
    let (hc, exact) = committed_csv("docs/reproduction/runs/cabs-a0.1.csv");
    let top = exact.iter().map(|r| num(r, &hc, "batch_size").unwrap() as u64).max().unwrap();
    has(format!("CABS takes {} steps and its batch never passes {top}", exact.len()));
    let steps = |m: u32, a: &str| committed_csv(&format!("docs/reproduction/runs/const-m{m}-a{a}.csv")).1.len();
    has(format!("m = 64 gets only {} steps", steps(64, "0.2")));
    has(format!("m = 128 and m = 256 have only {} and {} steps in all", steps(128, "0.5"), steps(256, "0.5")));
    let n_runs = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reproduction/runs")).unwrap().count();
    has(format!("set ({n_runs} runs, two epochs of the"));
    has(format!("lowest smoothed training loss of all {n_runs} runs"));

    // Conv norms: the approximation against the exact value in the calibration run …
    let pairs: Vec<(f64, f64)> = cal.iter().filter_map(|r| Some((num(r, &h, "conv_xi_exact")?, num(r, &h, "conv_xi_approx")?))).collect();
    let below = pairs.iter().filter(|(e, a)| a < e).count() as f64 / pairs.len() as f64;
    has(format!("below the exact value in {:.0} % of its {} steps", 100.0 * below, thousands(pairs.len())));
    // … negative "variances" over the comparison runs …
    let (mut neg, mut total) = (0, 0);
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reproduction/runs")).unwrap() {
        let (h, rows) = committed_csv(&format!("docs/reproduction/runs/{}", e.unwrap().file_name().to_string_lossy()));
        total += rows.len();
        neg += rows.iter().filter(|r| num(r, &h, "conv_xi_approx").is_some_and(|a| a < 0.0)).count();
    }
    has(format!("in {neg} of the {} steps of the comparison runs", thousands(total)));
    // … and CABS driven by the approximation against CABS driven by the exact norms.
    let (hr, refn) = committed_csv("docs/reproduction/cabs-a0.1-reference-norms.csv");
    let path = |rows: &[Vec<String>], h: &str| format!("{} / {} / {}", batch(rows, h, 400), batch(rows, h, 500), batch(rows, h, 600));
    has(format!("leaves m = 16 at step {} (exact: {})", left16(&refn, &hr), left16(&exact, &hc)));
    has(format!("batches {} at steps 400 / 500 / 600 (exact: {})", path(&refn, &hr), path(&exact, &hc)));
    let last_acc = |rows: &[Vec<String>], h: &str| rows.iter().rev().find_map(|r| num(r, h, "test_accuracy")).unwrap();
    has(format!("final test accuracy {:.2} % (exact: {:.2} %)", 100.0 * last_acc(&refn, &hr), 100.0 * last_acc(&exact, &hc)));
}
