//! The committed reproduction (docs/reproduction/ and docs/REPRODUCTION.md) against its own
//! CSVs: the tables are what `cabs reproduce --resume` makes of the committed run files, and every
//! figure the doc quotes from this engine's runs is recomputed from them.
#![cfg(not(target_arch = "wasm32"))]

use crate::reproduce_cli::{cabs, col, fresh_dir, read};
use std::path::{Path, PathBuf};

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

/// A path in the repository.
fn repo_path(rel: impl AsRef<Path>) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The run CSVs in a folder (beside them lie their records, `<label>.json`).
fn run_csvs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "csv")).collect();
    v.sort();
    v
}

/// A committed CSV as (header, rows).
fn committed_csv(rel: &str) -> (String, Vec<Vec<String>>) {
    let text = read(&repo_path(rel));
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
    let src = repo_path("docs/reproduction");
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
    let runs = run_csvs(&src.join("runs")).len();
    assert_eq!(stderr.matches("not retrained").count(), runs, "every committed run is read back, none trained:\n{stderr}");
    // Every run file has its record, and no record is left without its run.
    let records = std::fs::read_dir(src.join("runs"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(records, runs, "one record per run file");
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
    let doc = read(&repo_path("docs/REPRODUCTION.md")).split_whitespace().collect::<Vec<_>>().join(" ");
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

    // The comparison runs: CABS's horizon over the seeds, the fixed batches' steps, how many runs.
    let runs_dir = repo_path("docs/reproduction/runs");
    // Every seed's CSV of one rule: `label.csv`, `label-s2.csv`, …
    let seeds = |label: &str| -> Vec<(String, Vec<Vec<String>>)> {
        let mut v = vec![committed_csv(&format!("docs/reproduction/runs/{label}.csv"))];
        for k in 2.. {
            let rel = format!("docs/reproduction/runs/{label}-s{k}.csv");
            if !repo_path(&rel).exists() {
                break;
            }
            v.push(committed_csv(&rel));
        }
        v
    };
    let max_batch = |(h, rows): &(String, Vec<Vec<String>>)| rows.iter().map(|r| num(r, h, "batch_size").unwrap() as u64).max().unwrap();
    let range = |v: Vec<u64>| (*v.iter().min().unwrap(), *v.iter().max().unwrap());
    let cabs01 = seeds("cabs-a0.1");
    assert!(cabs01.len() >= 3, "the committed reproduction has at least 3 seeds");
    let (lo, hi) = range(cabs01.iter().map(|r| r.1.len() as u64).collect());
    let top = cabs01.iter().map(max_batch).max().unwrap();
    has(format!("CABS at α = 0.1 takes {lo}–{hi} steps and its batch never passes {top}"));
    let cabs02 = seeds("cabs-a0.2");
    let past100: Vec<u64> =
        cabs02.iter().map(|(h, rows)| rows.iter().position(|r| num(r, h, "batch_size").unwrap() > 100.0).unwrap() as u64 + 1).collect();
    let ((p0, p1), (t0, t1)) = (range(past100), range(cabs02.iter().map(max_batch).collect()));
    has(format!("at α = 0.2 it passes 100 at steps {p0}–{p1} and reaches {t0}–{t1}"));
    let steps = |m: u32, a: &str| committed_csv(&format!("docs/reproduction/runs/const-m{m}-a{a}.csv")).1.len();
    has(format!("m = 64 gets only {} steps", steps(64, "0.2")));
    has(format!("m = 128 and m = 256 have only {} and {} steps in all", steps(128, "0.2"), steps(256, "0.2")));
    let n_runs = run_csvs(&runs_dir).len();
    let (hm, m16) = committed_csv("docs/reproduction/runs/const-m16-a0.1.csv");
    assert_eq!(num(m16.last().unwrap(), &hm, "examples_seen"), Some(48_000.0), "six epochs of the 8,000-digit bundle");
    has(format!("set ({n_runs} runs, six epochs of the"));
    // The lowest mean smoothed training loss over the rules (seeds averaged), from all_runs.csv.
    let (ha, all) = committed_csv("docs/reproduction/all_runs.csv");
    let mut by_rule: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for r in &all {
        let label = &r[col(&ha, "label")];
        let rule = label.rsplit_once("-s").filter(|(_, k)| k.parse::<u32>().is_ok()).map_or(label.as_str(), |(l, _)| l);
        by_rule.entry(rule.to_string()).or_default().push(num(r, &ha, "final_train_loss_smoothed").unwrap_or(f64::INFINITY));
    }
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (best, losses) = by_rule.iter().min_by(|a, b| mean(a.1).total_cmp(&mean(b.1))).unwrap();
    has(format!(
        "`{best}` has the lowest smoothed training loss of all {} rules ({:.4}, mean of {} seeds)",
        by_rule.len(),
        mean(losses),
        losses.len()
    ));
    // CABS at α = 0.5: the seeds that blew up never left m_min = 16.
    let cabs05 = seeds("cabs-a0.5");
    let stayed = cabs05.iter().filter(|r| max_batch(r) == 16).count();
    has(format!("In {stayed} of {} seeds CABS at α = 0.5 never left m = 16", cabs05.len()));
    // A CABS run that never left m_min = 16 is SGD with m = 16, loss for loss.
    for (cabs_run, fixed_run) in cabs05.iter().zip(seeds("const-m16-a0.5")).filter(|(c, _)| max_batch(c) == 16) {
        let loss = |(h, rows): &(String, Vec<Vec<String>>)| rows.iter().map(|r| r[col(h, "loss")].clone()).collect::<Vec<_>>();
        assert_eq!(loss(cabs_run), loss(&fixed_run), "CABS at m = 16 throughout is the m = 16 run");
    }
    let grew: Vec<u64> = cabs05.iter().map(max_batch).filter(|&b| b > 16).collect();
    if let [b] = grew[..] {
        has(format!("the seed that learnt reached batch {b}"));
    }

    // Conv norms: the approximation against the exact value in the calibration run …
    let pairs: Vec<(f64, f64)> = cal.iter().filter_map(|r| Some((num(r, &h, "conv_xi_exact")?, num(r, &h, "conv_xi_approx")?))).collect();
    let below = pairs.iter().filter(|(e, a)| a < e).count() as f64 / pairs.len() as f64;
    has(format!("below the exact value in {:.0} % of its {} steps", 100.0 * below, thousands(pairs.len())));
    // … negative "variances" over the comparison runs …
    let (mut neg, mut total) = (0, 0);
    for p in run_csvs(&runs_dir) {
        let (h, rows) = committed_csv(p.to_str().unwrap());
        total += rows.len();
        neg += rows.iter().filter(|r| num(r, &h, "conv_xi_approx").is_some_and(|a| a < 0.0)).count();
    }
    has(format!("in {neg} of the {} steps of the comparison runs", thousands(total)));
    // … and CABS driven by the approximation against CABS driven by the exact norms.
    let (hc, exact) = committed_csv("docs/reproduction/runs/cabs-a0.1.csv");
    let (hr, refn) = committed_csv("docs/reproduction/cabs-a0.1-reference-norms.csv");
    // The calibration run is the same run as seed 1 of CABS at α = 0.1, evaluated more often.
    has(format!("Its steps are the first {} of `runs/cabs-a0.1.csv` bit for bit", thousands(cal.len())));
    for (i, (a, b)) in cal.iter().zip(&exact).enumerate() {
        for c in ["batch_size", "loss", "xi", "grad_norm_sq", "conv_xi_exact", "conv_xi_approx"] {
            assert_eq!(a[col(&h, c)], b[col(&hc, c)], "calibration step {}, column {c}", i + 1);
        }
    }
    let path = |rows: &[Vec<String>], h: &str| format!("{} / {} / {}", batch(rows, h, 400), batch(rows, h, 500), batch(rows, h, 600));
    has(format!("leaves m = 16 at step {} (exact: {})", left16(&refn, &hr), left16(&exact, &hc)));
    has(format!("batches {} at steps 400 / 500 / 600 (exact: {})", path(&refn, &hr), path(&exact, &hc)));
    let (b_ref, b_exact) = (batch(&refn, &hr, 600) as f64, batch(&exact, &hc, 600) as f64);
    has(format!("{:.0} % lower at step 600", 100.0 * (1.0 - b_ref / b_exact)));
    // The per-run median ratio approx / exact, over every comparison run.
    let ratios: Vec<f64> = all.iter().filter_map(|r| num(r, &ha, "conv_xi_approx_over_exact_median")).collect();
    let (rlo, rhi) = ratios.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    has(format!("spans {rlo:.3}–{rhi:.3} over the {} runs", ratios.len()));
    // The approximation's run is shorter: its last evaluation against the exact run's nearest one.
    let last = refn.iter().rev().find(|r| num(r, &hr, "test_accuracy").is_some()).unwrap();
    let x = num(last, &hr, "examples_seen").unwrap();
    let near = exact
        .iter()
        .filter(|r| num(r, &hc, "test_accuracy").is_some())
        .min_by(|a, b| (num(a, &hc, "examples_seen").unwrap() - x).abs().total_cmp(&(num(b, &hc, "examples_seen").unwrap() - x).abs()))
        .unwrap();
    has(format!(
        "test accuracy {:.2} % after {} examples (exact, seed 1: {:.2} % after {} examples)",
        100.0 * num(last, &hr, "test_accuracy").unwrap(),
        thousands(x as usize),
        100.0 * num(near, &hc, "test_accuracy").unwrap(),
        thousands(num(near, &hc, "examples_seen").unwrap() as usize)
    ));

    // Figures the doc takes from results.md's generated tables (which the regeneration test
    // above ties to the CSVs): the per-seed examples to 95 %, and the flags' count and chance.
    let results = read(&repo_path("docs/reproduction/results.md"));
    let row = |start: &str| results.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("results.md has no row {start:?}"));
    let last_cell = |l: &str| l.trim_end_matches('|').rsplit('|').next().unwrap().trim().replace('-', "−");
    let first_claim = |m: &str| row(&format!("| m={m} α=")).to_string();
    has(format!("CABS − m = 16: {}; CABS − m = 32: {})", last_cell(&first_claim("16")), last_cell(&first_claim("32"))));
    let flags = row("**Did not learn**");
    let (n_stuck, chance) = (
        flags.split("): ").nth(1).unwrap().split(' ').next().unwrap().to_string(),
        flags.split("test label, ").nth(1).unwrap().split(' ').next().unwrap().to_string(),
    );
    has(format!("the {n_stuck} of {n_runs} runs that **did not learn**"));
    has(format!("chance on the bundle's 2,000 test digits is {chance} %"));
    // The verdicts the doc quotes (its "> " lines) are whole lines of results.md, word for word.
    let raw = read(&repo_path("docs/REPRODUCTION.md"));
    let results = read(&repo_path("docs/reproduction/results.md"));
    let quotes: Vec<&str> = raw.lines().filter_map(|l| l.trim_start().strip_prefix("> ")).collect();
    assert!(quotes.len() >= 6, "the doc quotes the generated verdicts");
    for q in quotes {
        assert!(results.lines().any(|l| l.trim() == q.trim()), "docs/REPRODUCTION.md quotes {q:?}, which is not a line of results.md");
    }
}

/// The committed runs were trained by an earlier build: today's engine retrains the start of two
/// of them (another seed, an adaptive and a fixed rule) bit for bit, so the tables describe the
/// engine as it is. The flags come from the runs' records (`runs/<label>.json`), so this also
/// checks that the records, written after the runs from results.md's command, name the
/// settings that made them.
#[test]
fn todays_engine_retrains_the_committed_runs_bit_for_bit() {
    for (label, rule, alpha, seed, steps) in [("cabs-a0.1-s2", "cabs", "0.1", "2", 30), ("const-m64-a0.2-s3", "const:64", "0.2", "3", 8)] {
        let out = fresh_dir(&format!("retrain-{label}"));
        std::fs::create_dir_all(&out).unwrap();
        let csv = out.join("run.csv");
        let record: serde_json::Value = serde_json::from_str(&read(&repo_path(format!("docs/reproduction/runs/{label}.json")))).unwrap();
        let s = &record["settings"];
        let text = |k: &str| match &s[k] {
            serde_json::Value::String(t) => t.clone(),
            v => v.to_string(),
        };
        assert_eq!((text("rule"), text("alpha"), text("seed")), (rule.to_string(), alpha.to_string(), seed.to_string()), "{record}");
        assert_eq!(
            (text("data"), text("model"), text("backend"), text("conv_norms")),
            ("mnist".into(), "cnn-mnist".into(), "cpu".into(), "both".into())
        );
        let mut args: Vec<String> =
            ["train", "--quiet", "--steps", &steps.to_string(), "--csv", csv.to_str().unwrap()].iter().map(|a| a.to_string()).collect();
        for (flag, key) in [
            ("--data", "data"),
            ("--model", "model"),
            ("--backend", "backend"),
            ("--conv-norms", "conv_norms"),
            ("--rule", "rule"),
            ("--lr", "alpha"),
            ("--seed", "seed"),
            ("--m-min", "m_min"),
            ("--m-max", "m_max"),
            ("--mu", "mu"),
            ("--c", "c"),
            ("--eps", "eps"),
        ] {
            args.extend([flag.to_string(), text(key)]);
        }
        for (flag, key) in [("--unbiased", "unbiased"), ("--bias-correction", "bias_correction")] {
            if s[key].as_bool() == Some(true) {
                args.push(flag.to_string());
            }
        }
        if let Some(c) = s["chunk"].as_u64() {
            args.extend(["--chunk".to_string(), c.to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = cabs(&refs);
        assert_eq!(code, 0, "{stderr}");
        let (h_new, new) = committed_csv(csv.to_str().unwrap());
        let (h_old, old) = committed_csv(&format!("docs/reproduction/runs/{label}.csv"));
        assert_eq!(new.len(), steps);
        for c in [
            "step",
            "examples_seen",
            "batch_size",
            "next_batch_size",
            "m_raw",
            "loss",
            "xi",
            "grad_norm_sq",
            "lr",
            "conv_xi_exact",
            "conv_xi_approx",
        ] {
            for (i, (a, b)) in new.iter().zip(&old).enumerate() {
                assert_eq!(a[col(&h_new, c)], b[col(&h_old, c)], "{label}, step {}, column {c}", i + 1);
            }
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}
