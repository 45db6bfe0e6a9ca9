//! `scripts/study.sh`, the paper-scale study of docs/STUDY.md driven phase by phase, run whole on
//! the 2-D blobs with a small model and 40 phase-1 steps: every choice it reads from one phase
//! for the next (B, the tuned α, the decay's K, the sensitivity's α) is recomputed here from the
//! sets' own CSVs, and a second run trains nothing.
#![cfg(not(target_arch = "wasm32"))]

use crate::reproduce_cli::{col, fresh_dir, read};
use std::path::Path;
use std::process::Command;

fn study(dir: &Path) -> (bool, String) {
    let o = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/study.sh"))
        .arg(dir)
        .envs([("CABS", env!("CARGO_BIN_EXE_cabs")), ("DATA", "blobs"), ("MODEL", "mlp:8"), ("STEPS", "40"), ("JOBS", "2")])
        .output()
        .expect("bash runs");
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// The rows of a set's all_runs.csv as (header, rows).
fn all_runs(set: &Path) -> (String, Vec<Vec<String>>) {
    let text = read(&set.join("all_runs.csv"));
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    (header, lines.map(|l| l.split(',').map(str::to_string).collect()).collect())
}

/// The (rule, α) whose run has the lowest final training-subset loss; ties to the earlier row.
fn lowest_subset_loss(set: &Path, rule_prefix: &str) -> (String, String) {
    let (h, rows) = all_runs(set);
    let (rule, alpha, loss) = (col(&h, "rule"), col(&h, "alpha"), col(&h, "final_train_subset_loss"));
    let mine: Vec<&Vec<String>> = rows.iter().filter(|r| r[rule].starts_with(rule_prefix)).collect();
    let best = mine.iter().min_by(|a, b| a[loss].parse::<f64>().unwrap().total_cmp(&b[loss].parse::<f64>().unwrap())).unwrap();
    (best[rule].clone(), best[alpha].clone())
}

#[test]
fn the_study_script_runs_every_phase_from_the_one_before() {
    let parallel = Command::new("parallel").arg("--version").output();
    assert!(parallel.is_ok_and(|o| o.status.success()), "GNU parallel is missing: apt-get install parallel");
    let dir = fresh_dir("study");
    let (ok, out) = study(&dir);
    assert!(ok && out.contains("every set of the study is complete"), "{out}");

    // B: the five phase-1 runs' mean examples, rounded up to 10,000.
    let (h, rows) = all_runs(&dir);
    assert_eq!(rows.len(), 5);
    let ex = col(&h, "examples");
    let mean = rows.iter().map(|r| r[ex].parse::<f64>().unwrap()).sum::<f64>() / 5.0;
    let b = (mean / 10_000.0).ceil() as u64 * 10_000;
    assert!(out.contains(&format!("budget B = {b} training examples")), "{out}");

    // Tuning at B/4, seed 101; each fixed batch's α is the one of lowest subset loss.
    let (h, rows) = all_runs(&dir.join("tune-const"));
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r[col(&h, "label")].ends_with("-s101")), "{rows:?}");
    assert!(rows.iter().all(|r| r[col(&h, "examples")].parse::<u64>().unwrap() >= b / 4), "{rows:?}");
    for m in [64, 256] {
        let (_, alpha) = lowest_subset_loss(&dir.join("tune-const"), &format!("const:{m}"));
        let fixed = read(&dir.join(format!("fixed-m{m}/jobs.txt")));
        assert_eq!(fixed.lines().count(), 5, "{fixed}");
        assert!(fixed.lines().all(|l| l.contains(&format!("--rules const:{m} --alphas {alpha} "))), "{fixed}");
        // The decay: three K at that α, the lowest subset loss carried on to the compared runs.
        let tune = dir.join(format!("tune-decay-m{m}"));
        let ks: Vec<f64> = [4.0, 16.0, 64.0].iter().map(|f| f * m as f64 / b as f64).collect();
        let (h, rows) = all_runs(&tune);
        let rules: Vec<f64> = rows.iter().map(|r| r[col(&h, "rule")].rsplit(':').next().unwrap().parse().unwrap()).collect();
        for k in &ks {
            assert!(rules.iter().any(|r| (r - k).abs() <= 1e-5 * k), "K = {k} missing in {rules:?}");
        }
        let (rule, _) = lowest_subset_loss(&tune, &format!("const:{m}:invtime:"));
        let decay = read(&dir.join(format!("decay-m{m}/jobs.txt")));
        assert!(decay.lines().all(|l| l.contains(&format!("--rules {rule} --alphas {alpha} "))), "{decay}");
        assert_eq!(decay.lines().count(), 5);
    }
    // Claim 3's runs: CABS at 0.05 and 0.2; m = 256 at the α of {0.05, 0.1, 0.2} not tuned to.
    assert_eq!(read(&dir.join("cabs-alphas/jobs.txt")).lines().count(), 6);
    let (_, tuned) = lowest_subset_loss(&dir.join("tune-const"), "const:256");
    let sens = read(&dir.join("sensitivity-m256/jobs.txt"));
    let expected = ["0.05", "0.1", "0.2"].iter().filter(|a| a.parse::<f64>().unwrap() != tuned.parse::<f64>().unwrap()).count();
    assert_eq!(sens.lines().count(), 3 * expected, "{sens}");
    assert!(!sens.contains(&format!("--alphas {tuned} ")) && !sens.contains(&format!(",{tuned} ")), "{sens}");
    // Every main run got the budget B.
    for set in ["fixed-m64", "decay-m256", "cabs-alphas"] {
        let (h, rows) = all_runs(&dir.join(set));
        assert!(rows.iter().all(|r| r[col(&h, "examples")].parse::<u64>().unwrap() >= b), "{set}: {rows:?}");
    }

    // The study's page: each comparison recomputed here from the sets' all_runs.csv.
    let csv = read(&dir.join("study.csv"));
    let row = |claim: &str, baseline: &str, measure: &str| -> Vec<String> {
        let r = csv
            .lines()
            .find(|l| l.starts_with(&format!("{claim},cabs,{baseline},{measure},")))
            .unwrap_or_else(|| panic!("{claim} {baseline} {measure}:\n{csv}"));
        r.split(',').map(str::to_string).collect()
    };
    let (_, a64) = lowest_subset_loss(&dir.join("tune-const"), "const:64");
    let cabs_loss = subset_losses(&dir, "cabs", "0.1");
    let base_loss = subset_losses(&dir.join("fixed-m64"), "const:64", &a64);
    let d: Vec<f64> = (1..=5).map(|s| cabs_loss[&s] - base_loss[&s]).collect();
    let (mean, half) = t95_interval(&d, 2.776);
    let r = row("1", "const:64", "train_subset_loss");
    assert_eq!(r[4], "5");
    for (got, want) in [(&r[5], mean), (&r[6], mean - half), (&r[7], mean + half)] {
        assert!((got.parse::<f64>().unwrap() - want).abs() <= 1e-9 * want.abs().max(1e-6), "{r:?} vs {mean} ± {half}");
    }
    let margin = 0.05 * (1..=5).map(|s| base_loss[&s]).sum::<f64>() / 5.0;
    let word = if mean - half > 0.0 {
        "not supported"
    } else if mean + half < margin {
        "supported"
    } else {
        "not shown"
    };
    assert_eq!(r[8], word, "{r:?}");
    // Claim 3: the spread over α per seed, CABS − m = 256, seeds 1–3.
    let spread = |v: [f64; 3]| v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min);
    let cabs_at = |a: &str| if a == "0.1" { subset_losses(&dir, "cabs", a) } else { subset_losses(&dir.join("cabs-alphas"), "cabs", a) };
    let fixed_at = |a: &str| {
        let mut m = subset_losses(&dir.join("sensitivity-m256"), "const:256", a);
        m.extend(subset_losses(&dir.join("fixed-m256"), "const:256", a).into_iter().filter(|(s, _)| *s <= 3));
        m
    };
    let (c, f): (Vec<_>, Vec<_>) = (["0.05", "0.1", "0.2"].map(cabs_at).into(), ["0.05", "0.1", "0.2"].map(fixed_at).into());
    let d: Vec<f64> = (1..=3).map(|s| spread([c[0][&s], c[1][&s], c[2][&s]]) - spread([f[0][&s], f[1][&s], f[2][&s]])).collect();
    let (mean, half) = t95_interval(&d, 4.303);
    let r = row("3", "const:256", "spread_train_subset_loss");
    assert!((r[5].parse::<f64>().unwrap() - mean).abs() <= 1e-9 && (r[7].parse::<f64>().unwrap() - (mean + half)).abs() <= 1e-9, "{r:?}");
    let md = read(&dir.join("study.md"));
    assert!(md.contains("## Claim 1") && md.contains("## Claim 3") && !md.contains("waiting"), "{md}");

    // Again: every set is assembled from what is there, nothing is trained.
    let (ok, again) = study(&dir);
    assert!(ok && !again.contains("running its jobs"), "{again}");
    // Its complete runs carried to another folder (gzipped) and back into a new working folder,
    // as a study moves to a new machine: nothing is trained again and the study's page is the same.
    let kept = fresh_dir("study-kept");
    let carry = |from: &Path, to: &Path| {
        let o = Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/study-carry.sh"))
            .args([from, to])
            .output()
            .expect("bash runs");
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "{out}");
        out
    };
    // A run still training (its lock) stays behind.
    let busy = dir.join(format!("fixed-m64/runs/{}.lock", first_label(&dir.join("fixed-m64"))));
    std::fs::write(&busy, "1").unwrap();
    let out = carry(&dir, &kept);
    std::fs::remove_file(&busy).unwrap();
    assert!(out.contains("(1 not complete, left behind)"), "{out}");
    let count = |d: &Path, ext: &str| {
        let o = Command::new("find").arg(d).args(["-path", &format!("*/runs/*.{ext}")]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).lines().count()
    };
    let runs = count(&dir, "json");
    assert_eq!((count(&kept, "csv.gz"), count(&kept, "json"), count(&kept, "csv")), (runs - 1, runs - 1, 0));
    assert!(carry(&dir, &kept).contains(": 1 runs carried"), "only the run that was busy is new");
    assert_eq!((count(&kept, "csv.gz"), count(&kept, "json"), count(&kept, "pred")), (runs, runs, count(&dir, "pred")));
    let moved = fresh_dir("study-moved");
    carry(&kept, &moved);
    let (ok, out) = study(&moved);
    assert!(ok && !out.contains("running its jobs") && out.contains("every set of the study is complete"), "{out}");
    assert_eq!(read(&moved.join("study.csv")), read(&dir.join("study.csv")));
    let results = |d: &Path| read(&d.join("results.md")).replace(d.to_str().unwrap(), "DIR");
    assert_eq!(results(&moved), results(&dir), "the same tables, its --out apart");
    let _ = std::fs::remove_dir_all(&kept);
    let _ = std::fs::remove_dir_all(&moved);

    // A run lost from one set: that set alone runs its jobs, and the study completes again.
    for ext in ["csv", "json", "pred"] {
        std::fs::remove_file(dir.join(format!("decay-m64/runs/{}.{ext}", first_label(&dir.join("decay-m64"))))).unwrap();
    }
    let (ok, again) = study(&dir);
    assert!(ok && again.matches("running its jobs").count() == 1 && again.contains("decay-m64: running its jobs"), "{again}");
    let full_study = read(&dir.join("study.csv"));
    let _ = std::fs::remove_dir_all(&dir);

    // Stopped after the first compared set: the page compares what is there, the rest waits.
    let part = fresh_dir("study-part");
    let o = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/study.sh"))
        .arg(&part)
        .envs([("CABS", env!("CARGO_BIN_EXE_cabs")), ("DATA", "blobs"), ("MODEL", "mlp:8"), ("STEPS", "40"), ("STOP_AFTER", "fixed-m64")])
        .envs([("JOBS", "1"), ("THREADS", "2")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    // One run at a time on two threads: the same runs (bit-identical for every thread count).
    let jobs = read(&part.join("fixed-m64/jobs.txt"));
    assert!(jobs.lines().all(|l| l.contains(" --threads 2 ")), "{jobs}");
    let csv = read(&part.join("study.csv"));
    assert!(csv.lines().skip(1).all(|l| full_study.lines().any(|f| f == l)), "{csv}\nvs one thread:\n{full_study}");
    assert_eq!(csv.lines().count(), 3, "the header and claim 1 against m = 64 (loss, accuracy):\n{csv}");
    let md = read(&part.join("study.md"));
    assert!(md.contains("| `fixed-m256` | waiting: 0 of 5 runs complete |") && md.contains("Waiting: CABS at α 0.05 and 0.2"), "{md}");
    // Anything but --out is refused, by name.
    let (code, _, err) = crate::common::command::cabs(&["study", "--out", part.to_str().unwrap(), "--seeds", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("study takes only --out DIR") && err.contains("--seeds"), "{err}");
    let _ = std::fs::remove_dir_all(&part);
}

/// Each seed's final training-subset loss of a set's runs of one rule and α (all_runs.csv).
fn subset_losses(set: &Path, rule: &str, alpha: &str) -> std::collections::HashMap<u64, f64> {
    let (h, rows) = all_runs(set);
    let (r, a, l, loss) = (col(&h, "rule"), col(&h, "alpha"), col(&h, "label"), col(&h, "final_train_subset_loss"));
    rows.iter()
        .filter(|x| x[r] == rule && x[a].parse::<f64>().unwrap() == alpha.parse::<f64>().unwrap())
        .map(|x| {
            let seed = x[l].rsplit_once("-s").and_then(|(_, s)| s.parse().ok()).unwrap_or(1);
            (seed, x[loss].parse().unwrap())
        })
        .collect()
}

/// The mean of `d` and the half-width of its 95 % t-interval with quantile `t`.
fn t95_interval(d: &[f64], t: f64) -> (f64, f64) {
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    (mean, t * sd / n.sqrt())
}

/// The label of a set's first run (all_runs.csv).
fn first_label(set: &Path) -> String {
    let (h, rows) = all_runs(set);
    rows[0][col(&h, "label")].clone()
}
