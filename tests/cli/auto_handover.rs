//! `cabs train --backend auto` natively: the run starts on the CPU engine while the GPU engine is
//! built on another thread, and moves there between two steps when the GPU wins. When it builds
//! depends on timing, so these tests pin the hand-over step with `CABS_HANDOVER_STEP=K` (wait for
//! the GPU engine before step K+1 and decide there) and, where they need the move, force it with
//! `CABS_HANDOVER_MOVE=1` (the trial still runs and is undone). Then the run's CSV must be, bit
//! for bit in every column but `wall_ms`, the CPU engine's steps 1..=K followed by a GPU run
//! resumed from the CPU's state at K (`--checkpoint` / `--resume-from`); and a run that stays is
//! the CPU engine's run. Needs a GPU adapter (lavapipe): fails without one, saying so.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

/// Small and quick on both engines; 20 steps, evaluated every 5.
const RUN: [&str; 13] =
    ["train", "--data", "blobs", "--model", "mlp:16", "--m-min", "4", "--quiet", "--lr", "1", "--eval-every", "5", "--steps"];
const STEPS: &str = "20";

fn cabs(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = crate::common::command::command(args);
    for v in ["CABS_HANDOVER_STEP", "CABS_HANDOVER_MOVE", "CABS_MEMORY_BUDGET_MIB"] {
        c.env_remove(v);
    }
    c.envs(env.iter().copied());
    let out = c.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `RUN` + `steps` + `more` with `env`; the run must succeed. Returns its stderr.
fn train(steps: &str, more: &[&str], env: &[(&str, &str)]) -> String {
    let args = [&RUN[..], &[steps], more].concat();
    let (code, err) = cabs(&args, env);
    if code != 0 && err.contains("GPU adapter") {
        panic!("this test needs a GPU adapter: {err}\nInstall one with `bash scripts/setup.sh` (lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)");
    }
    assert_eq!(code, 0, "{args:?} {env:?}: {err}");
    err
}

fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cabs-handover-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The CSV's rows without the `wall_ms` column, after checking that the steps run 1, 2, … once
/// each (no step repeated or skipped at the hand-over).
fn rows(csv: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let wall = header.iter().position(|h| *h == "wall_ms").expect("a wall_ms column");
    let rows: Vec<String> = lines
        .map(|l| {
            let mut c: Vec<&str> = l.split(',').collect();
            c.remove(wall);
            c.join(",")
        })
        .collect();
    let steps: Vec<String> = rows.iter().map(|r| r.split(',').next().unwrap().to_string()).collect();
    let want: Vec<String> = (1..=rows.len()).map(|i| i.to_string()).collect();
    assert_eq!(steps, want, "{}: steps not continuous", csv.display());
    rows
}

/// The CPU engine from step 0 to `k`, then the GPU engine from the CPU's state at `k`.
fn cpu_then_gpu(d: &Path, k: &str) -> Vec<String> {
    let (csv, ck) = (d.join("reference.csv"), d.join("cpu.ck"));
    train(k, &["--backend", "cpu", "--csv", s(&csv), "--checkpoint", s(&ck)], &[]);
    train(STEPS, &["--backend", "gpu", "--csv", s(&csv), "--resume-from", s(&ck)], &[]);
    rows(&csv)
}

fn cpu_only(d: &Path) -> Vec<String> {
    let csv = d.join("cpu.csv");
    train(STEPS, &["--backend", "cpu", "--csv", s(&csv)], &[]);
    rows(&csv)
}

#[test]
fn a_hand_over_at_step_k_continues_the_run_as_a_gpu_run_from_the_cpu_state_at_k() {
    let d = dir("forced");
    let csv = d.join("auto.csv");
    let err = train(STEPS, &["--backend", "auto", "--csv", s(&csv)], &[("CABS_HANDOVER_STEP", "7"), ("CABS_HANDOVER_MOVE", "1")]);
    assert!(err.contains("engine: CPU engine [auto: started on the CPU engine; the GPU engine is being built on another thread]"), "{err}");
    assert!(err.contains("cabs: auto: CPU → GPU at step 7 ("), "{err}");
    let auto = rows(&csv);
    assert_eq!(auto.len(), 20);
    // Where the CSV names the engine of each step: the CPU up to 7, the GPU after.
    let text = std::fs::read_to_string(&csv).unwrap();
    if let Some(col) = text.lines().next().unwrap().split(',').position(|h| h == "engine") {
        let engines: Vec<&str> = text.lines().skip(1).map(|l| l.split(',').nth(col).unwrap()).collect();
        assert_eq!(engines, [["cpu"; 7].as_slice(), &["gpu"; 13]].concat(), "{}", csv.display());
    }
    assert_eq!(auto, cpu_then_gpu(&d, "7"), "the auto run is not CPU 1..=7 then GPU from the CPU's state");
    // The comparison can fail: the engines round differently, so the CPU alone differs after 7.
    let cpu = cpu_only(&d);
    assert_eq!(auto[..7], cpu[..7]);
    assert!(auto[7..].iter().zip(&cpu[7..]).any(|(a, c)| a != c), "the GPU's rows equal the CPU's: this test could not tell them apart");
}

#[test]
fn a_decision_at_step_k_either_moves_or_stays_and_the_run_is_the_one_it_names() {
    let d = dir("decided");
    let csv = d.join("auto.csv");
    let err = train(STEPS, &["--backend", "auto", "--csv", s(&csv)], &[("CABS_HANDOVER_STEP", "5")]);
    let auto = rows(&csv);
    // The trial times both engines on the run's next steps and undoes them: whichever way it
    // goes, the run is exactly the engine-pure run it names.
    if err.contains("cabs: auto: CPU → GPU at step 5 (") {
        assert_eq!(auto, cpu_then_gpu(&d, "5"));
    } else {
        assert!(err.contains("cabs: auto: stayed on CPU at step 5: "), "{err}");
        assert!(err.contains("CPU ") && err.contains(" ms/step vs GPU "), "a software adapter's decision quotes its timings: {err}");
        assert_eq!(auto, cpu_only(&d));
    }
}

#[test]
fn an_auto_run_says_where_it_started_and_what_became_of_the_gpu_engine() {
    let err = train(STEPS, &["--backend", "auto"], &[]);
    assert!(err.contains("[auto: started on the CPU engine; the GPU engine is being built on another thread]"), "{err}");
    let said = [
        "cabs: auto: CPU → GPU at step ",
        "cabs: auto: stayed on CPU at step ",
        "cabs: auto: stayed on CPU: the run ended before the GPU engine was built",
    ];
    assert!(said.iter().any(|s| err.contains(s)), "no word on the GPU engine: {err}");
}

#[test]
fn where_the_cpu_engine_cannot_hold_the_run_auto_starts_on_the_gpu_and_says_why() {
    // The bundled digits (6 MB of pixels) in a 1 MiB CPU budget.
    let args = ["train", "--data", "mnist", "--model", "logreg", "--quiet", "--steps", "2", "--backend", "auto"];
    let (code, err) = cabs(&args, &[("CABS_MEMORY_BUDGET_MIB", "1")]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cabs: auto: the CPU engine cannot hold this run ("), "{err}");
    assert!(err.contains("starting on the GPU engine"), "{err}");
    assert!(!err.contains("being built on another thread"), "{err}");
}

#[test]
fn settings_no_engine_takes_are_refused_in_one_line_not_blamed_on_the_cpu_engine() {
    let (code, err) = cabs(&["train", "--model", "cnn-mnist", "--data", "moons", "--backend", "auto"], &[]);
    assert_ne!(code, 0, "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("needs image data"), "{err}");
}

#[test]
fn a_bad_hand_over_setting_is_refused_quoting_it() {
    for (var, value) in [("CABS_HANDOVER_STEP", "soon"), ("CABS_HANDOVER_MOVE", "yes")] {
        let args = [&RUN[..], &[STEPS, "--backend", "auto"]].concat();
        let (code, err) = cabs(&args, &[(var, value)]);
        assert_ne!(code, 0, "{var}={value} was accepted: {err}");
        assert!(err.contains(&format!("{var}='{value}'")), "{err}");
    }
}
