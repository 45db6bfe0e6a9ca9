//! `cabs reproduce` for the long runs of docs/STUDY.md: a budget of steps (`--steps`,
//! `--eval-every-steps`), a killed run continued from its checkpoint (`runs/<label>.ckpt`) to the
//! same CSV (the two clock columns aside) and predictions as a run never stopped, checkpoints of
//! other flags or another engine build refused, the phase-1 jobs file with the B line, and
//! `--backend auto` on resume taking the engine the runs were trained on.
//! The kill is `CABS_REPRODUCE_STOP_AFTER_STEPS=k`: the run saves its checkpoint after step k and
//! exits at once, as a killed process would (nothing after it runs).
#![cfg(not(target_arch = "wasm32"))]

use super::reproduce_cli::{fresh_dir, read, timeless_runs, verdict_part};
use crate::common::command::{cabs, command};
use std::path::Path;

/// The simulated kill, and the exit code it ends the process with.
const STOP_ENV: &str = "CABS_REPRODUCE_STOP_AFTER_STEPS";
const STOPPED: i32 = 75;

/// A CABS-only reproduction on the bundled digits with a small MLP and a steps budget into
/// `out`, then `extra`.
fn flags(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "reproduce",
        "--data",
        "mnist",
        "--model",
        "mlp:16",
        "--backend",
        "cpu",
        "--threads",
        "1",
        "--only",
        "cabs",
        "--steps",
        "40",
        "--eval-every-steps",
        "4",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(out.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// `cabs args…` with extra environment: (exit code, stdout, stderr).
fn run(args: &[String], env: &[(&str, &str)]) -> (i32, String, String) {
    let o = command(&args.iter().map(String::as_str).collect::<Vec<_>>()).envs(env.iter().copied()).output().expect("cabs runs");
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A run file without its clock columns (`wall_ms`, `train_ms`: they differ between any two
/// sittings), line by line; every other cell as written, bit for bit.
fn timeless(csv: &Path) -> Vec<String> {
    let text = read(csv);
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let clocks: Vec<usize> = header.iter().enumerate().filter(|(_, h)| matches!(**h, "wall_ms" | "train_ms")).map(|(i, _)| i).collect();
    assert_eq!(clocks.len(), 2, "{header:?}");
    text.lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| !clocks.contains(i)).map(|(_, c)| c).collect::<Vec<_>>().join(","))
        .collect()
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_killed_run_continues_from_its_checkpoint_to_the_files_of_a_run_never_stopped() {
    let (whole, killed) = (fresh_dir("resume-whole"), fresh_dir("resume-killed"));
    let (code, _, err) = run(&flags(&whole, &[]), &[]);
    assert_eq!(code, 0, "{err}");
    let runs = |d: &Path| d.join("runs");
    assert!(!runs(&whole).join("cabs-a0.1.ckpt").exists(), "a finished run leaves no checkpoint");
    let reference = timeless(&runs(&whole).join("cabs-a0.1.csv"));
    assert_eq!(reference.len(), 41, "a header and 40 steps");
    // Evaluated every 4 steps: 10 rows carry a test accuracy and the subset loss.
    let acc = reference[0].split(',').position(|c| c == "test_accuracy").unwrap();
    assert_eq!(reference[1..].iter().filter(|l| !l.split(',').nth(acc).unwrap().is_empty()).count(), 10);

    // Killed after step 17 (no evaluation there, one at 16): a checkpoint and 17 rows.
    let (code, _, err) = run(&flags(&killed, &[]), &[(STOP_ENV, "17")]);
    assert_eq!(code, STOPPED, "{err}");
    let (csv, ckpt) = (runs(&killed).join("cabs-a0.1.csv"), runs(&killed).join("cabs-a0.1.ckpt"));
    assert!(ckpt.exists() && !runs(&killed).join("cabs-a0.1.pred").exists(), "{err}");
    assert_eq!(timeless(&csv), reference[..18].to_vec(), "the rows before the kill are the run's");
    // A killed process may have written rows after its last checkpoint: they are cut, not kept.
    let mut text = read(&csv);
    let last = text.lines().last().unwrap().to_string();
    text.push_str(&last.replacen("17,", "18,", 1));
    text.push_str("\n19,half a ro");
    std::fs::write(&csv, text).unwrap();
    // Continued by a job line (--run), killed again after step 29, then by --resume to the end.
    let (code, _, err) = run(&flags(&killed, &["--run", "cabs-a0.1"]), &[(STOP_ENV, "29")]);
    assert_eq!(code, STOPPED, "{err}");
    assert!(err.contains("continuing from step 17"), "{err}");
    let (code, _, err) = run(&flags(&killed, &["--resume"]), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("continuing from step 29"), "{err}");
    assert!(!ckpt.exists(), "the finished run's checkpoint is deleted");
    assert_eq!(timeless(&csv), reference, "the continued run's CSV is the uninterrupted one's");
    assert_eq!(bytes(&runs(&killed).join("cabs-a0.1.pred")), bytes(&runs(&whole).join("cabs-a0.1.pred")));
    // The comparison can fail: the same run at another seed differs.
    let other = fresh_dir("resume-other-seed");
    let (code, _, err) = run(&flags(&other, &["--seed", "2"]), &[]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(timeless(&runs(&other).join("cabs-a0.1-s2.csv")), reference);
    for d in [whole, killed, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn an_examples_budget_continues_to_the_same_evaluations() {
    // Evaluated at the first step past every 50 examples: the continued run must pick the
    // schedule up where the stopped one left it, neither repeating nor skipping an evaluation.
    let (whole, killed) = (fresh_dir("resume-ex-whole"), fresh_dir("resume-ex-killed"));
    let small = |out: &Path| -> Vec<String> {
        let mut v: Vec<String> =
            ["reproduce", "--data", "blobs", "--model", "mlp:8", "--backend", "cpu", "--only", "cabs", "--m-min", "4", "--examples", "400"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        v.extend(["--eval-every-examples".into(), "50".into(), "--out".into(), out.display().to_string()]);
        v
    };
    let (code, _, err) = run(&small(&whole), &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&small(&killed), &[(STOP_ENV, "7")]);
    assert_eq!(code, STOPPED, "{err}");
    let mut resume = small(&killed);
    resume.push("--resume".into());
    let (code, _, err) = run(&resume, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("continuing from step 7"), "{err}");
    let csv = |d: &Path| timeless(&d.join("runs/cabs-a0.1.csv"));
    assert!(csv(&whole).len() > 20, "long enough to evaluate several times after the stop");
    assert_eq!(csv(&killed), csv(&whole));
    assert_eq!(bytes(&killed.join("runs/cabs-a0.1.pred")), bytes(&whole.join("runs/cabs-a0.1.pred")));
    for d in [whole, killed] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_checkpoint_of_other_flags_or_another_engine_build_is_refused_never_used() {
    let out = fresh_dir("resume-refused");
    let runs = out.join("runs");
    for seed in ["1", "2"] {
        let (code, _, err) = run(&flags(&out, &["--seed", seed]), &[(STOP_ENV, "10")]);
        assert_eq!(code, STOPPED, "{err}");
    }
    let (csv, ckpt, record) = (runs.join("cabs-a0.1.csv"), runs.join("cabs-a0.1.ckpt"), runs.join("cabs-a0.1.json"));
    let (csv_before, ckpt_before, record_before) = (read(&csv), bytes(&ckpt), read(&record));
    // Another engine build started the run: refused before anything trains, both files kept.
    let r: serde_json::Value = serde_json::from_str(&record_before).unwrap();
    let hash = r["engine"]["source_hash"].as_str().unwrap().to_string();
    std::fs::write(&record, record_before.replace(&hash, "fnv1a64:0123456789abcdef")).unwrap();
    let (code, _, err) = run(&flags(&out, &["--resume"]), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cabs-a0.1.ckpt was saved by another engine build (fnv1a64:0123456789abcdef)"), "{err}");
    assert!(err.contains(&format!("than this one ({hash})")) && !err.contains("reproduce ["), "{err}");
    assert_eq!((read(&csv), bytes(&ckpt)), (csv_before.clone(), ckpt_before.clone()));
    std::fs::write(&record, &record_before).unwrap();
    // The checkpoint of another run (seed 2) in this run's place: refused, naming the seeds.
    std::fs::copy(runs.join("cabs-a0.1-s2.ckpt"), &ckpt).unwrap();
    let (code, _, err) = run(&flags(&out, &["--run", "cabs-a0.1"]), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cabs-a0.1.ckpt: ") && err.contains("belongs to another run") && err.contains("seed 2 ≠ 1"), "{err}");
    assert_eq!(read(&csv), csv_before);
    std::fs::write(&ckpt, &ckpt_before).unwrap();
    // Other flags (a longer budget): the record refuses, naming the steps on both sides.
    let (code, _, err) = run(&flags(&out, &["--resume", "--steps", "50"]), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("steps 40") && err.contains("steps 50"), "{err}");
    assert_eq!(bytes(&ckpt), ckpt_before);
    // Without --resume the run starts again from step 0, and says the checkpoint went.
    let (code, _, err) = run(&flags(&out, &[]), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cabs-a0.1.ckpt of an earlier attempt removed") && !err.contains("continuing"), "{err}");
    assert!(!ckpt.exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn steps_budgets_are_checked_and_recorded() {
    let out = fresh_dir("steps-flags");
    for (extra, needle) in [
        (&["--examples", "400"][..], "--steps 40 and --examples 400: give one"),
        (&["--eval-every-examples", "100"][..], "--eval-every-examples 100 goes with --examples"),
        (&["--eval-every-steps", "0"][..], "--eval-every-steps 0"),
        (&["--checkpoint-every-minutes", "0"][..], "--checkpoint-every-minutes 0"),
        (&["--checkpoint", "x.ckpt"][..], "--checkpoint does not apply to reproduce"),
        (&["--resume-from", "x.ckpt"][..], "--resume-from does not apply to reproduce"),
    ] {
        let (code, _, err) = run(&flags(&out, extra), &[]);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.starts_with("cabs: error: ") && err.contains(needle), "{extra:?}: {err}");
    }
    let (code, _, err) = cabs(&["reproduce", "--data", "blobs", "--eval-every-steps", "5"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--eval-every-steps 5 goes with --steps"), "{err}");
    let (code, _, err) = run(&flags(&out, &["--steps", "12"]), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("12 steps each, test evaluation every 4 steps"), "{err}");
    let r: serde_json::Value = serde_json::from_str(&read(&out.join("runs/cabs-a0.1.json"))).unwrap();
    let s = &r["settings"];
    assert_eq!((s["steps"].as_u64(), s["eval_every_steps"].as_u64()), (Some(12), Some(4)), "{r}");
    assert!(s.get("examples").is_none() && s.get("eval_every_examples").is_none(), "{r}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Phase 1 as a user runs it (docs/STUDY.md): the jobs file of a steps budget, run by GNU
/// parallel with a joblog; every job stopped part-way (the simulated kill ends each with a
/// failure, as a signal would); `parallel --resume-failed` continuing each from its checkpoint;
/// then `--assemble-only`. The runs, tables and B line are those of one `--jobs 2`
/// reproduction, and B is the one computed here from the CSVs.
#[test]
fn a_steps_budgeted_jobs_file_run_by_gnu_parallel_killed_and_resumed_assembles_like_jobs_2() {
    let version = std::process::Command::new("parallel").arg("--version").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "GNU parallel is missing: install it (apt-get install parallel, as bash scripts/setup.sh test does)"
    );
    let (whole, grid) = (fresh_dir("steps-whole"), fresh_dir("steps-jobs"));
    let base = |out: &Path, extra: &[&str]| {
        let mut v = flags(out, &["--seeds", "3", "--steps", "30", "--eval-every-steps", "3"]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let labels = ["cabs-a0.1", "cabs-a0.1-s2", "cabs-a0.1-s3"];
    let (code, whole_stdout, err) = run(&base(&whole, &["--jobs", "2"]), &[]);
    assert_eq!(code, 0, "{err}");

    std::fs::create_dir_all(&grid).unwrap();
    let (jobs, joblog) = (grid.join("jobs.txt"), grid.join("joblog.tsv"));
    let (code, stdout, err) = run(&base(&grid, &["--emit-jobs", jobs.to_str().unwrap()]), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("3 jobs written"), "{stdout}");
    let lines: Vec<String> = read(&jobs).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("--steps 30") && l.contains("--eval-every-steps 3")), "{lines:?}");
    for (l, label) in lines.iter().zip(labels) {
        assert!(l.ends_with(&format!("--run {label}")), "{l}");
    }
    let parallel = |env: &[(&str, &str)], extra: &[&str]| {
        std::process::Command::new("parallel")
            .args(["-j", "2", "--joblog"])
            .arg(&joblog)
            .args(extra)
            .arg("::::")
            .arg(&jobs)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    // Every job stops after step 17 with its checkpoint saved; the joblog records the failures.
    let o = parallel(&[(STOP_ENV, "17")], &[]);
    assert!(!o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = read(&joblog);
    let failed = log.lines().skip(1).filter(|l| l.split('\t').nth(6) == Some(&STOPPED.to_string())).count();
    assert_eq!(failed, 3, "{log}");
    for label in labels {
        assert!(grid.join(format!("runs/{label}.ckpt")).exists(), "{label}");
    }
    let (code, _, err) = run(&base(&grid, &["--assemble-only"]), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--assemble-only: 3 runs are missing or unfinished"), "{err}");
    // Rerun from the joblog: each job continues from its checkpoint, none from step 0.
    let o = parallel(&[], &["--resume-failed"]);
    let job_err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{job_err}");
    assert_eq!(job_err.matches("continuing from step 17").count(), 3, "{job_err}");
    let (code, stdout, err) = run(&base(&grid, &["--assemble-only"]), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("not retrained").count(), 3, "assembling trains nothing: {err}");
    for label in labels {
        assert!(!grid.join(format!("runs/{label}.ckpt")).exists(), "{label}: a finished run leaves no checkpoint");
        let csv = |d: &Path| timeless(&d.join(format!("runs/{label}.csv")));
        assert_eq!(csv(&grid), csv(&whole), "{label}");
        let pred = |d: &Path| bytes(&d.join(format!("runs/{label}.pred")));
        assert_eq!(pred(&grid), pred(&whole), "{label}");
    }
    assert_eq!(timeless_runs(&grid), timeless_runs(&whole));
    assert_eq!(verdict_part(&grid), verdict_part(&whole));
    // B from the CSVs, computed here: the mean of the examples at step 30, rounded up to 10,000.
    let last_examples = |label: &str| -> u64 {
        let text = read(&grid.join(format!("runs/{label}.csv")));
        let c = text.lines().next().unwrap().split(',').position(|h| h == "examples_seen").unwrap();
        text.lines().last().unwrap().split(',').nth(c).unwrap().parse().unwrap()
    };
    let mean = labels.iter().map(|l| last_examples(l)).sum::<u64>() as f64 / 3.0;
    let b_line = |out: &str| out.lines().find(|l| l.contains("→ B = ")).unwrap_or_else(|| panic!("no B line: {out}")).to_string();
    let line = b_line(&stdout);
    assert_eq!(
        line,
        format!(
            "cabs reproduce: mean examples at 30 steps over the 3 seeds of CABS α = 0.1: {mean:.1} → B = {} (rounded up to 10,000)",
            (mean / 10_000.0).ceil() as u64 * 10_000
        )
    );
    assert_eq!(b_line(&whole_stdout), line);
    // results.md keeps it, and says the budget is in steps.
    let md = read(&grid.join("results.md"));
    assert!(md.contains("## Phase-2 budget") && md.contains(&format!("```\n{line}\n```")), "{md}");
    assert!(md.contains("budget 30 steps per run (at most ") && md.contains("test evaluation every 3 steps"), "{md}");
    assert!(md.contains("Every run trains for the same number of steps") && !md.contains("same number of examples"), "{md}");
    for d in [whole, grid] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A jobs file emitted with a relative program and `--out` names both absolutely, so that its
/// lines run from any folder (a Slurm node, a later shell).
#[test]
fn a_jobs_file_runs_from_any_folder() {
    let dir = fresh_dir("jobs-anywhere");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let exe = dir.join("bin/cabs");
    std::fs::copy(env!("CARGO_BIN_EXE_cabs"), &exe).unwrap();
    let args = flags(Path::new("rel-out"), &["--data", "blobs", "--steps", "8", "--emit-jobs", "jobs.txt"]);
    let o = std::process::Command::new("bin/cabs").args(&args).current_dir(&dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = read(&dir.join("jobs.txt")).lines().next().unwrap().to_string();
    let out = dir.join("rel-out");
    assert!(line.starts_with(&format!("{} reproduce ", exe.display())), "{line}");
    assert!(line.ends_with(&format!("--out {} --run cabs-a0.1", out.display())), "{line}");
    let o = std::process::Command::new("sh").arg("-c").arg(&line).current_dir("/").output().unwrap();
    assert!(o.status.success(), "{line}: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(timeless(&out.join("runs/cabs-a0.1.csv")).len(), 9, "a header and 8 steps");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run another live process works on is refused (its files untouched); a lock left by a
/// killed process is taken over, and a finished run leaves none.
#[test]
fn a_run_another_process_works_on_is_refused_and_a_killed_ones_lock_taken_over() {
    let out = fresh_dir("lock");
    std::fs::create_dir_all(out.join("runs")).unwrap();
    let lock = out.join("runs/cabs-a0.1.lock");
    // This test's own process stands for a live job.
    std::fs::write(&lock, format!("{}\n", std::process::id())).unwrap();
    let (code, _, err) = run(&flags(&out, &["--run", "cabs-a0.1"]), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cabs-a0.1: process {} is working on this run", std::process::id())), "{err}");
    assert!(!out.join("runs/cabs-a0.1.csv").exists() && lock.exists());
    // A process that has ended (and was reaped) left it.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(&lock, format!("{pid}\n")).unwrap();
    let (code, _, err) = run(&flags(&out, &["--run", "cabs-a0.1"]), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!lock.exists(), "a finished run leaves no lock");
    let left: Vec<String> =
        std::fs::read_dir(out.join("runs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|n| !n.contains(".lock")), "{left:?}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn resume_with_backend_auto_takes_the_engine_the_runs_were_trained_on() {
    let out = fresh_dir("resume-auto");
    let small = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["reproduce", "--data", "blobs", "--model", "mlp:8", "--only", "cabs", "--examples", "200", "--out"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(out.display().to_string());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let (code, _, err) = run(&small(&["--backend", "cpu"]), &[]);
    assert_eq!(code, 0, "{err}");
    // No --backend: auto, which would time the engines again; the records decide instead.
    let (code, _, err) = run(&small(&["--resume"]), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--backend auto resolved once, to cpu, for every run: the engine the runs already in"), "{err}");
    assert!(err.contains("cabs-a0.1.json") && err.contains("not timed again"), "{err}");
    assert_eq!(err.matches("not retrained").count(), 1, "{err}");
    let md = read(&out.join("results.md"));
    assert!(md.contains("--backend auto resolved once, to cpu"), "the header names it too");
    let _ = std::fs::remove_dir_all(&out);
}
