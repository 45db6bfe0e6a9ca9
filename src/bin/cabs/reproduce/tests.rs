//! Unit tests of the reproduction's metrics, labels and parsing.

use super::figures::*;
use super::metrics::*;
use super::options::*;
use super::plan::*;
use super::verdicts::{common_steps, compare, learnt, Measured, Outcome};
use crate::plot::{Series, Style};

fn c(acc: Option<f64>, loss: Option<f64>) -> Candidate {
    Candidate { accuracy: acc, train_loss: loss, subset_loss: None }
}

fn by_accuracy(c: &[Candidate]) -> Option<usize> {
    best_candidate(c, SelectBy::Accuracy)
}

/// A candidate with a final test accuracy (None: diverged) and a training-subset loss.
fn sub(acc: Option<f64>, subset: Option<f64>) -> Candidate {
    Candidate { accuracy: acc, train_loss: Some(1.0), subset_loss: subset }
}

#[test]
fn best_alpha_by_training_subset_loss_then_order() {
    let by = |c: &[Candidate]| best_candidate(c, SelectBy::TrainSubsetLoss);
    // The lowest subset loss wins, whatever the test accuracy says …
    assert_eq!(by(&[sub(Some(0.99), Some(0.30)), sub(Some(0.90), Some(0.20)), sub(Some(0.95), Some(0.25))]), Some(1));
    // … a tie goes to the first (the smaller α) …
    assert_eq!(by(&[sub(Some(0.9), Some(0.2)), sub(Some(0.99), Some(0.2))]), Some(0));
    // … and a diverged group (no accuracy, or NaN) or one without the measurement never wins.
    assert_eq!(by(&[sub(None, Some(0.01)), sub(Some(f64::NAN), Some(0.02)), sub(Some(0.9), None), sub(Some(0.5), Some(0.9))]), Some(3));
    assert_eq!(by(&[sub(Some(0.9), None), sub(None, Some(0.1))]), None);
    assert_eq!(by(&[]), None);
    // The same candidates by accuracy choose otherwise: the criterion decides.
    assert_eq!(by_accuracy(&[sub(Some(0.99), Some(0.30)), sub(Some(0.90), Some(0.20))]), Some(0));
}

#[test]
fn select_by_parses_its_two_names_and_refuses_others() {
    assert_eq!(SelectBy::parse("accuracy"), Ok(SelectBy::Accuracy));
    assert_eq!(SelectBy::parse("train-subset-loss"), Ok(SelectBy::TrainSubsetLoss));
    let err = SelectBy::parse("loss").unwrap_err();
    assert!(err.contains("'loss'") && err.contains("train-subset-loss"), "{err}");
}

/// Every α flag ends in the library's one check of an α: the refusal carries its reason word
/// for word, behind the flag and the text as given (not the number it parses to, `1e39` is
/// `1e39`, `0.10` stays `0.10`); what it accepts comes back unchanged.
#[test]
fn an_alpha_flag_is_checked_by_the_librarys_learning_rate_quoting_the_text_given() {
    for (given, value) in [("1e39", 1e39), ("1e-320", 1e-320), ("-0.10", -0.1), ("0", 0.0), ("NaN", f64::NAN), ("inf", f64::INFINITY)] {
        let why = match cabs::settings::LearningRate::new(value) {
            Err(cabs::CabsError::Config(why)) => why,
            other => panic!("{given}: the library accepts it: {other:?}"),
        };
        for flag in ["--lr", "--cabs-alpha"] {
            let e = parse_alpha(given, flag).unwrap_err().to_string();
            assert_eq!(e, format!("usage: {flag}: '{given}': {why} (e.g. {flag} 0.1)"));
        }
        let e = parse_alphas(&format!("0.1, {given}"), "--alphas").unwrap_err().to_string();
        assert!(e.contains(&format!("--alphas: '{given}': {why}")), "{e}");
    }
    let e = parse_alpha("0.1x", "--lr").unwrap_err().to_string();
    assert_eq!(e, "usage: --lr: '0.1x' is not a positive number (e.g. --lr 0.1)");
    for (given, value) in [("0.10", 0.1), ("1e-30", 1e-30), (" 3e38", 3e38)] {
        assert_eq!(parse_alpha(given, "--lr").unwrap(), value);
    }
}

#[test]
fn best_alpha_by_accuracy_then_loss_then_order() {
    assert_eq!(by_accuracy(&[c(Some(0.9), Some(0.3)), c(Some(0.95), Some(0.5)), c(Some(0.93), Some(0.1))]), Some(1));
    // A tie in accuracy goes to the lower training loss …
    assert_eq!(by_accuracy(&[c(Some(0.95), Some(0.3)), c(Some(0.95), Some(0.2)), c(Some(0.9), Some(0.1))]), Some(1));
    // … and a full tie to the first (smaller α).
    assert_eq!(by_accuracy(&[c(Some(0.95), Some(0.2)), c(Some(0.95), Some(0.2))]), Some(0));
    // A missing training loss loses a tie.
    assert_eq!(by_accuracy(&[c(Some(0.95), None), c(Some(0.95), Some(9.0))]), Some(1));
    // Diverged runs (no accuracy, or NaN) never win, even when first.
    assert_eq!(by_accuracy(&[c(None, None), c(Some(0.5), Some(1.0)), c(Some(f64::NAN), Some(0.1))]), Some(1));
    assert_eq!(by_accuracy(&[c(None, None), c(None, Some(0.1))]), None);
    assert_eq!(by_accuracy(&[]), None);
}

#[test]
fn first_crossing_interpolates_between_the_bracketing_evaluations() {
    let p = [(100.0, 0.5), (200.0, 0.8), (300.0, 0.9), (400.0, 0.85), (500.0, 0.99)];
    // 0.85 lies halfway between 0.8 (200) and 0.9 (300).
    assert!((first_crossing(&p, 0.85).unwrap() - 250.0).abs() < 1e-9);
    // Exactly on an evaluation.
    assert!((first_crossing(&p, 0.9).unwrap() - 300.0).abs() < 1e-9);
    // The first crossing counts, not a later one after a dip.
    assert!((first_crossing(&p, 0.88).unwrap() - 280.0).abs() < 1e-9);
    // Reached at the first evaluation: nothing before it to interpolate from.
    assert_eq!(first_crossing(&p, 0.4), Some(100.0));
    assert_eq!(first_crossing(&p, 0.995), None);
    assert_eq!(first_crossing(&[], 0.5), None);
    // A NaN before the crossing does not poison it.
    assert_eq!(first_crossing(&[(1.0, f64::NAN), (2.0, 0.9)], 0.8), Some(2.0));
}

fn steps(b: &[(u32, f64)]) -> Vec<StepPoint> {
    let mut ex = 0;
    b.iter()
        .enumerate()
        .map(|(i, &(m, l))| {
            ex += m as u64;
            StepPoint { step: i as u64 + 1, examples: ex, batch: m, loss: l, train_s: i as f64, conv_xi: None }
        })
        .collect()
}

#[test]
fn smoothed_loss_weights_batches_by_size() {
    let s = steps(&[(10, 4.0), (10, 2.0), (30, 1.0)]);
    // Window 40 at 50 examples: steps ending after 10 examples → the last two.
    assert!((smoothed_loss_at(&s, 2, 50, 40).unwrap() - (10.0 * 2.0 + 30.0) / 40.0).abs() < 1e-12);
    // A window smaller than the last batch still holds that batch.
    assert_eq!(smoothed_loss_at(&s, 2, 50, 1), Some(1.0));
    assert!((smoothed_loss_at(&s, 2, 50, 1000).unwrap() - 90.0 / 50.0).abs() < 1e-12);
    let nan = steps(&[(10, f64::NAN), (10, 1.0)]);
    assert_eq!(smoothed_loss_at(&nan, 1, 20, 100), None);
    let curve = smoothed_curve(&s, 10, 4);
    assert_eq!(curve.first().map(|p| p.0), Some(10.0));
    assert_eq!(curve.last().map(|p| p.0), Some(50.0));
}

#[test]
fn run_summaries() {
    let mut run = Run {
        spec: RunSpec { kind: Kind::Fixed { m: 10 }, alpha: 0.1, seed: 1 },
        diverged: None,
        failed: None,
        steps: steps(&[(10, 1.0), (20, 1.0), (30, 1.0), (40, 1.0)]),
        evals: vec![EvalPoint { examples: 100, train_s: 3.0, test_loss: 0.5, test_accuracy: 0.9, train_subset_loss: None }],
        predictions: None,
        wall_s: 1.0,
        extra: Vec::new(),
        roles: Vec::new(),
    };
    assert_eq!(run.batch_at(0.25), Some(10));
    assert_eq!(run.batch_at(0.5), Some(20));
    assert_eq!(run.batch_at(0.75), Some(30));
    assert_eq!(run.batch_at(1.0), Some(40));
    assert_eq!(run.final_accuracy(), Some(0.9));
    run.diverged = Some("diverged".into());
    assert_eq!(run.final_accuracy(), None);
    assert_eq!(run.final_train_loss(10), None);
    assert_eq!(run.status(), "diverged at step 5");
    run.failed = Some("cannot write".into());
    assert_eq!(run.status(), "failed");
    // Labels stay short and distinct whatever α is.
    assert_eq!(short_number(0.05), "0.05");
    assert_eq!(short_number(1e308), "1e308");
    assert_eq!(short_number(1e-300), "1e-300");
    assert_eq!(RunSpec { kind: Kind::Cabs, alpha: 1e308, seed: 1 }.label(), "cabs-a1e308");
    let (a, b) = (short_number(0.123456789012), short_number(0.123456789013));
    assert!(a.len() <= 16 && b.len() <= 16 && a != b, "{a} {b}");
    assert!(a.starts_with("1.235e-1~"), "{a}");
}

#[test]
fn labels_rules_and_parsing() {
    let d = RunSpec { kind: Kind::Decay { m: 64, k: invtime_k(64, 200_000) }, alpha: 0.2, seed: 1 };
    assert_eq!(d.label(), "const-m64-a0.2-invtime");
    assert_eq!(d.rule(), "const:64:invtime:0.00064");
    assert_eq!(invtime_k(256, 6000), 0.0853333);
    // α halves after budget/(2m) steps (here 2000).
    let half = RunSpec { kind: Kind::Decay { m: 64, k: invtime_k(64, 256_000) }, alpha: 0.2, seed: 1 };
    let rule = cabs::cabs::parse_rule(&half.rule(), Default::default()).unwrap();
    if let cabs::cabs::Rule::Constant { schedule, .. } = rule {
        assert!((schedule.lr_at(0.2, 2000) - 0.1).abs() < 1e-12);
    } else {
        panic!("not a constant rule");
    }
    assert_eq!(RunSpec { kind: Kind::Cabs, alpha: 0.1, seed: 1 }.label(), "cabs-a0.1");
    assert_eq!(RunSpec { kind: Kind::Cabs, alpha: 0.1, seed: 3 }.label(), "cabs-a0.1-s3");
    assert_eq!(RunSpec { kind: Kind::Fixed { m: 16 }, alpha: 0.05, seed: 1 }.label(), "const-m16-a0.05");
    assert_eq!(parse_alphas("0.2, 0.1,0.1", "--alphas").unwrap(), vec![0.1, 0.2]);
    assert!(parse_alphas("0.1,x", "--alphas").unwrap_err().to_string().contains("--alphas"));
    assert!(parse_alphas("0", "--alphas").is_err());
    assert!(parse_alphas("", "--alphas").is_err());
    assert_eq!(parse_batches("64,16").unwrap(), vec![16, 64]);
    assert!(parse_batches("16,0").unwrap_err().to_string().contains("--batches"));
    assert_eq!(sensitivity_batches(&[16, 32, 64, 128, 256]), vec![16, 64, 256]);
    assert_eq!(sensitivity_batches(&[32]), vec![32]);
    assert_eq!(Parts::parse("cabs,decay").unwrap(), Parts { cabs: true, fixed: false, decay: true, sensitivity: false, rules: false });
    assert_eq!(Parts::parse("rules").unwrap(), Parts { cabs: false, fixed: false, decay: false, sensitivity: false, rules: true });
    // A --rules entry: cabs and const:M are the runs the other parts train; others keep their string.
    assert_eq!(Kind::of_rule("cabs"), Kind::Cabs);
    assert_eq!(Kind::of_rule("const:64"), Kind::Fixed { m: 64 });
    assert_eq!(Kind::of_rule("const:64:invtime:0.01"), Kind::Rule("const:64:invtime:0.01".into()));
    let norm = RunSpec { kind: Kind::of_rule("norm:0.1"), alpha: 0.2, seed: 2 };
    assert_eq!((norm.label(), norm.rule()), ("rule-norm-0.1-a0.2-s2".to_string(), "norm:0.1".to_string()));
    assert_eq!(file_safe("grow:16:1e4:2/x y"), "grow-16-1e4-2_x_y");
    assert_eq!(parse_rules("cabs, norm:0.1,cabs").unwrap(), vec!["cabs".to_string(), "norm:0.1".to_string()]);
    assert!(parse_rules("cabs,,norm:0.1").unwrap_err().to_string().contains("'cabs,,norm:0.1'"));
    assert!(Parts::parse("cabs,bogus").is_err());
    assert_eq!(thin((0..1000).map(|i| (i as f64, 1.0)).collect(), 100).len(), 101);
    let acc = |pts: &[f64]| accuracy_range(&[Series::line(Style::cabs(), pts.iter().map(|&a| (1.0, a)).collect(), false)]);
    let (lo, hi) = acc(&[0.898, 0.9035]).unwrap();
    assert!((hi - lo - 0.05).abs() < 1e-12 && lo < 0.898 && hi > 0.9035);
    let (lo, hi) = acc(&[0.99, 1.0]).unwrap();
    assert!((lo - 0.95).abs() < 1e-12 && hi == 1.0);
    let (lo, hi) = acc(&[0.2, 0.9]).unwrap();
    assert!((lo - 0.172).abs() < 1e-12 && (hi - 0.928).abs() < 1e-12);
    assert_eq!(acc(&[]), None);
}

#[test]
fn spreads_and_noise_aware_comparisons() {
    let s = spread([Some(1.0), None, Some(3.0)]).unwrap();
    assert_eq!((s.mean, s.min, s.max, s.n, s.missing), (2.0, 1.0, 3.0, 2, 1));
    assert!((s.sd.unwrap() - 2f64.sqrt()).abs() < 1e-12);
    assert_eq!(spread([Some(2.0)]).unwrap().sd, None);
    assert_eq!(spread([None, Some(f64::NAN)]), None);
    // Binomial standard error: 95 % on 2,000 examples ≈ 0.49 points.
    assert!((accuracy_se(0.95, 2000) - 0.004873).abs() < 1e-6);
    let m = |value, se| Measured { value, se };
    // A loss 0.03 lower with errors 0.01 each: 2σ = 0.028, so it counts …
    let (o, d, noise) = compare(m(0.10, 0.01), m(0.13, 0.01), true);
    assert_eq!(o, Outcome::Ahead);
    assert!((d + 0.03).abs() < 1e-12 && (noise - 0.02 * 2f64.sqrt()).abs() < 1e-12);
    // … 0.02 lower does not; and for accuracies higher is better.
    assert_eq!(compare(m(0.10, 0.01), m(0.12, 0.01), true).0, Outcome::Within);
    assert_eq!(compare(m(0.90, 0.004), m(0.95, 0.004), false).0, Outcome::Behind);
    assert_eq!(compare(m(0.95, 0.004), m(0.90, 0.004), false).0, Outcome::Ahead);
}

#[test]
fn learning_and_equal_step_counts_over_seeds() {
    let run = |batches: &[(u32, f64)]| {
        let mut r = Run::new(RunSpec { kind: Kind::Cabs, alpha: 0.1, seed: 1 });
        r.steps = steps(batches);
        r
    };
    // From 2.3 down to 0.5: learnt; stuck near the start, or back up at chance level: not.
    let fell = run(&[(10, 2.3), (10, 2.3), (10, 0.5), (10, 0.5)]);
    assert!(learnt(&fell, 20));
    assert!(!learnt(&run(&[(10, 2.3), (10, 2.3), (10, 2.2), (10, 2.2)]), 20));
    assert!(!learnt(&run(&[(10, 2.3), (10, 0.5), (10, 2.3), (10, 2.3)]), 20));
    let mut diverged = fell.clone();
    diverged.diverged = Some("NaN".into());
    assert!(!learnt(&diverged, 20));
    // Seeds of an adaptive rule stop after different step counts: "equal steps" is the fewest
    // any seed of either group took, so that every seed has a value there.
    let runs = vec![run(&[(10, 1.0); 5]), run(&[(10, 1.0); 3]), run(&[(10, 1.0); 8]), run(&[(10, 1.0); 8])];
    assert_eq!(common_steps(&runs, &vec![0, 1], &vec![2, 3]), 3);
    assert_eq!(common_steps(&runs, &vec![2], &vec![3]), 8);
}

#[test]
fn seed_means_stop_where_a_curve_ends_unless_held() {
    let long = vec![(1.0, 16.0), (2.0, 16.0), (3.0, 16.0), (4.0, 16.0)];
    let short = vec![(1.0, 16.0), (2.0, 200.0)];
    // Steps: the short run took no step 3 or 4.
    let (mean, band) = mean_band(&[long.clone(), short.clone()], false);
    assert_eq!(mean, vec![(1.0, 16.0), (2.0, 108.0)]);
    assert_eq!(band, vec![(1.0, 16.0, 16.0), (2.0, 16.0, 200.0)]);
    // Examples or time: an ended run keeps its last value.
    let (mean, _) = mean_band(&[long, short], true);
    assert_eq!(mean.last(), Some(&(4.0, 108.0)));
}

#[test]
fn seed_ranges_that_would_wrap_are_refused_and_seeds_are_distinct() {
    let err = seed_range(u64::MAX, 3).unwrap_err();
    assert!(err.contains("--seed 18446744073709551615 --seeds 3"), "{err}");
    assert!(seed_range(u64::MAX - 1, 3).is_err());
    assert_eq!(seed_range(u64::MAX - 2, 3).unwrap(), vec![u64::MAX - 2, u64::MAX - 1, u64::MAX]);
    assert_eq!(seed_range(u64::MAX, 1).unwrap(), vec![u64::MAX]);
    assert!(seed_range(5, 0).is_err());
    // Distinct seeds give distinct labels, so no run stands in for another.
    let seeds = seed_range(0, 1000).unwrap();
    let labels: std::collections::HashSet<String> =
        seeds.iter().map(|&seed| RunSpec { kind: Kind::Cabs, alpha: 0.1, seed }.label()).collect();
    assert_eq!(labels.len(), 1000);
}

#[test]
fn planning_is_linear_and_gives_each_run_once() {
    // The committed set's flags: 28 independent runs per seed (1 CABS + 5×4 grid + 4 more CABS α
    // + 3 fixed m at α = 1 for the sensitivity study; the rest are shared).
    let o = Options { sensitivity: vec![0.05, 0.1, 0.2, 0.5, 1.0], ..Options::default() };
    let three = independent_runs(&Parts::ALL, &o, &[1, 2, 3]);
    assert_eq!(three.len(), 84);
    // 100,000 seeds: one hash-set lookup per spec (a pairwise search would not finish here), and
    // every run once.
    let o = Options { alphas: vec![0.5, 2.0], batches: vec![16, 32], ..Options::default() };
    let parts = Parts { cabs: true, fixed: true, decay: false, sensitivity: false, rules: false };
    let seeds = seed_range(1, 100_000).unwrap();
    let plan = independent_runs(&parts, &o, &seeds);
    assert_eq!(plan.len(), 5 * 100_000);
    let labels: std::collections::HashSet<String> = plan.iter().map(RunSpec::label).collect();
    assert_eq!(labels.len(), plan.len());
    // Repeats are dropped, first appearance kept.
    let a = RunSpec { kind: Kind::Cabs, alpha: 0.1, seed: 1 };
    let b = RunSpec { kind: Kind::Fixed { m: 16 }, alpha: 0.1, seed: 1 };
    assert_eq!(distinct(&[a.clone(), b.clone(), a.clone(), b.clone()]), vec![a, b]);
}

#[test]
fn engine_sources_list_every_kernel_and_engine_file() {
    use super::record::{ENGINE_FOLDERS, ENGINE_SOURCES};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = ENGINE_FOLDERS.iter().map(|f| root.join(f)).collect();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                if !ENGINE_SOURCES.iter().any(|(s, _)| *s == rel) {
                    missing.push(rel);
                }
            }
        }
    }
    assert!(missing.is_empty(), "add these to ENGINE_SOURCES in reproduce/record.rs: {missing:?}");
}

#[test]
fn the_source_hash_changes_with_any_byte() {
    use super::record::source_hash;
    let h = source_hash(&[("a.wgsl", "x = 1;"), ("b.rs", "fn f() {}")]);
    assert!(h.starts_with("fnv1a64:") && h.len() == 8 + 16, "{h}");
    assert_eq!(h, source_hash(&[("a.wgsl", "x = 1;"), ("b.rs", "fn f() {}")]));
    assert_ne!(h, source_hash(&[("a.wgsl", "x = 2;"), ("b.rs", "fn f() {}")]));
    // Moving text between files changes it too.
    assert_ne!(h, source_hash(&[("a.wgsl", "x = 1;f"), ("b.rs", "n f() {}")]));
}

fn blobs_settings() -> super::record::RunSettings {
    super::record::RunSettings {
        data: "blobs".into(),
        train_examples: 4000,
        test_examples: 1000,
        model: "mlp:8".into(),
        rule: "cabs".into(),
        alpha: 0.1,
        seed: 1,
        m_min: 16,
        m_max: 2048,
        mu: 0.95,
        c: 1.0,
        eps: 0.0,
        unbiased: false,
        bias_correction: false,
        conv_norms: "exact".into(),
        chunk: None,
        backend: "cpu".into(),
        examples: Some(4000),
        eval_every_examples: Some(400),
        steps: None,
        eval_every_steps: None,
    }
}

#[test]
fn record_differences_name_both_settings() {
    use super::record::{differences, RunSettings};
    let a = blobs_settings();
    assert!(differences(&a, &a.clone()).is_empty());
    let b = RunSettings { model: "mlp:64".into(), examples: Some(2000), ..a.clone() };
    let d = differences(&a, &b);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.contains(&("model".into(), "mlp:8".into(), "mlp:64".into())), "{d:?}");
    assert!(d.contains(&("examples".into(), "4000".into(), "2000".into())), "{d:?}");
    // A steps budget against an examples budget: every budget setting named, either side's.
    let c = RunSettings { examples: None, eval_every_examples: None, steps: Some(80), eval_every_steps: Some(8), ..a.clone() };
    let d = differences(&a, &c);
    assert_eq!(d.len(), 4, "{d:?}");
    assert!(d.contains(&("examples".into(), "4000".into(), "none".into())), "{d:?}");
    assert!(d.contains(&("steps".into(), "none".into(), "80".into())), "{d:?}");
    // A record written before steps budgets existed reads as an examples budget.
    let old = serde_json::to_string(&a).unwrap();
    assert!(!old.contains("steps"), "{old}");
    assert_eq!(serde_json::from_str::<RunSettings>(&old).unwrap(), a);
}

/// A run file with the given rows after the header, read back as `--resume` does.
fn load(rows: &[&str]) -> Result<Option<Run>, String> {
    let dir = std::env::temp_dir().join(format!("cabs-reproduce-unit-{}-{}", std::process::id(), rows.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:x}.csv", rows.iter().map(|r| r.len()).sum::<usize>() * 7919 + rows.len()));
    let text = format!("{},train_ms\n{}\n", cabs::record::header(), rows.join("\n"));
    std::fs::write(&path, text).unwrap();
    let r = super::run::load_run(&path, &RunSpec { kind: Kind::Cabs, alpha: 0.1, seed: 1 }, crate::session::Budget::Examples(32), 0, None)
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&path);
    r
}

/// A row of the run CSV: step, examples, then the test loss and accuracy cells.
fn row(step: &str, examples: &str, test_loss: &str, test_accuracy: &str) -> String {
    // By column name, so that columns the step record gains leave the row valid.
    let cells: Vec<String> = cabs::record::header()
        .split(',')
        .map(|c| match c {
            "step" => step,
            "examples_seen" => examples,
            "batch_size" | "next_batch_size" | "m_raw" => "16",
            "loss" | "loss_avg" => "0.5",
            "xi" | "xi_avg" | "grad_norm_sq" | "noise_scale" => "1",
            "lr" => "0.1",
            "test_loss" => test_loss,
            "test_accuracy" => test_accuracy,
            "wall_ms" => "10",
            _ => "",
        })
        .map(str::to_string)
        .collect();
    format!("{},5", cells.join(","))
}

#[test]
fn resume_refuses_values_no_run_can_log_naming_the_line() {
    let ok = row("2", "32", "0.4", "0.9");
    let between = row("1", "16", "", "");
    let run = load(&[&between, &ok]).unwrap().unwrap();
    assert_eq!(run.evals.len(), 1, "an empty cell between evaluations stays empty");
    assert_eq!(run.final_accuracy(), Some(0.9));
    for (bad, needle) in [
        (row("2", "inf", "0.4", "0.9"), "examples_seen 'inf' is not a whole number"),
        (row("2", "32", "0.4", "1e308"), "test_accuracy '1e308' is not an accuracy in [0, 1]"),
        (row("2", "32", "0.4", "-0.1"), "test_accuracy '-0.1'"),
        (row("2", "32", "0.4", "NaN"), "test_accuracy 'NaN'"),
        (row("2", "32", "0.4", ""), "test_accuracy '' is missing beside a test loss"),
        (row("2", "32", "inf", "0.9"), "test_loss 'inf' is not a finite number"),
        (row("2.5", "32", "0.4", "0.9"), "step '2.5'"),
    ] {
        let err = load(&[&between, &bad]).unwrap_err();
        assert!(err.contains(", line 3: ") && err.contains(needle), "{bad}: {err}");
    }
    // A run that stopped before the budget is trained again, not an error.
    assert!(load(&[&between]).unwrap().is_none());
}

/// A blobs run with a small MLP on the CPU engine, a few steps in.
fn trained_blobs() -> (cabs::trainer::Trainer, cabs::trainer::TrainerConfig) {
    let s = cabs::settings::Settings { data: "blobs".into(), model: "mlp:16".into(), backend: "cpu".into(), ..Default::default() };
    let cfg = s.trainer_config().unwrap();
    let data = cabs::data::DataName::Blobs.generate(1).unwrap();
    let mut t = pollster::block_on(cabs::trainer::Trainer::new(cfg.clone(), data)).unwrap();
    for _ in 0..30 {
        pollster::block_on(t.step()).unwrap();
    }
    (t, cfg)
}

#[test]
fn kept_predictions_score_the_accuracy_the_engine_reports() {
    let (mut t, _) = trained_blobs();
    let p = super::probes::predictions(&mut t).unwrap();
    let labels = &t.data().test.labels.clone();
    assert_eq!(p.len(), labels.len());
    let right = p.iter().zip(labels).filter(|(p, l)| **p as u32 == **l).count();
    let reported = pollster::block_on(t.evaluate()).unwrap().test_accuracy;
    assert_eq!(right as f64 / labels.len() as f64, reported);
    // The comparison can fail: one flipped prediction changes the count.
    let flipped =
        p.iter().zip(labels).enumerate().filter(|(i, (p, l))| if *i == 0 { **p as u32 != **l } else { **p as u32 == **l }).count();
    assert_ne!(flipped, right);
}

#[test]
fn the_subset_loss_matches_the_cross_entropy_of_the_predicted_probabilities() {
    let (mut t, cfg) = trained_blobs();
    let data = t.data().clone();
    let mut sub = super::probes::SubsetLoss::new(cfg, &data).unwrap();
    let measured = sub.measure(&t).unwrap();
    // Independently: the model's probabilities on the subset's training examples (the CPU
    // twins' forward pass), −ln p(label), averaged.
    let idx = super::probes::subset_indices(data.train.len());
    assert_eq!(idx.len(), data.train.len().min(super::probes::SUBSET_SIZE));
    let dim = data.dim as usize;
    let points: Vec<f32> =
        idx.iter().flat_map(|&i| (0..dim).map(move |j| (i as usize, j))).map(|(i, j)| data.train.feature(dim, i, j)).collect();
    let p = pollster::block_on(t.predict(&points)).unwrap();
    let k = data.classes as usize;
    let oracle = idx.iter().enumerate().map(|(r, &i)| -(p[r * k + data.train.labels[i as usize] as usize] as f64).ln()).sum::<f64>()
        / idx.len() as f64;
    assert!((measured - oracle).abs() < 1e-4 * oracle.max(1.0), "subset loss {measured} vs oracle {oracle}");
    // Not the test loss: a different set of examples.
    let test = pollster::block_on(t.evaluate()).unwrap().test_loss;
    assert_ne!(measured, test);
    // The subset is the same for every run: fixed by its own seed, not the run's.
    assert_eq!(super::probes::subset_indices(data.train.len()), idx);
}

#[test]
fn paired_intervals_use_students_t_and_verdicts_keep_one_vocabulary() {
    use super::paired::*;
    // Three seeds: mean 2, sd 1, t(2) = 4.303, half-width 4.303/√3.
    let iv = t_interval(&[1.0, 2.0, 3.0]).unwrap();
    let half = 4.303 / 3f64.sqrt();
    assert!((iv.mean - 2.0).abs() < 1e-12 && (iv.lo - (2.0 - half)).abs() < 1e-12 && (iv.hi - (2.0 + half)).abs() < 1e-12);
    assert!(t_interval(&[0.5]).unwrap().hi.is_infinite(), "one seed shows nothing");
    assert_eq!(t_interval(&[]), None);
    assert_eq!((t95(4), t95(100)), (2.776, 1.960));
    // Losses (lower is better), margin 0.1: wholly below zero is support; wholly above zero is
    // evidence against even inside the margin; straddling zero but below the margin is support of
    // "at least as good"; straddling the margin is not shown.
    let at = |lo: f64, hi: f64| Interval { diffs: vec![], mean: (lo + hi) / 2.0, lo, hi };
    assert_eq!(at_least_as_good(&at(-0.3, -0.1), true, 0.1), Verdict::Supported);
    assert_eq!(at_least_as_good(&at(0.01, 0.05), true, 0.1), Verdict::NotSupported);
    assert_eq!(at_least_as_good(&at(-0.05, 0.05), true, 0.1), Verdict::Supported);
    assert_eq!(at_least_as_good(&at(-0.05, 0.2), true, 0.1), Verdict::NotShown);
    // Accuracies (higher is better): the same in mirror.
    assert_eq!(at_least_as_good(&at(-0.05, -0.01), false, 0.002), Verdict::NotSupported);
    assert_eq!(at_least_as_good(&at(-0.001, 0.01), false, 0.002), Verdict::Supported);
    assert_eq!(better(&at(-0.05, 0.05), true), Verdict::NotShown);
    assert_eq!(better(&at(0.01, 0.05), false), Verdict::Supported);
    assert_eq!(better(&at(0.01, 0.05), true), Verdict::NotSupported);
    assert_eq!(
        [Verdict::Supported, Verdict::NotShown, Verdict::NotSupported].map(Verdict::word),
        ["supported", "not shown", "not supported"]
    );
}

#[test]
fn mcnemar_is_the_exact_binomial_test_on_the_discordant_digits() {
    use super::paired::*;
    // Bin(10, ½): P(X ≤ 1) = 11/1024, two-sided twice that.
    assert!((binomial_two_sided(1, 10) - 22.0 / 1024.0).abs() < 1e-15);
    assert_eq!(binomial_two_sided(5, 10), 1.0);
    assert_eq!(binomial_two_sided(0, 0), 1.0);
    // Large n does not underflow: 4,000 vs 6,000 of 10,000 is far beyond chance, 5,000 each is not.
    assert!(binomial_two_sided(4000, 10_000) < 1e-80 && binomial_two_sided(4000, 10_000) > 0.0);
    assert!(binomial_two_sided(5000, 10_000) > 0.99);
    let labels = [0u32, 1, 2, 3, 4, 5];
    let a = [0u8, 1, 2, 0, 0, 5]; // right on 0, 1, 2, 5
    let b = [0u8, 0, 0, 3, 4, 5]; // right on 0, 3, 4, 5
    let m = mcnemar(&a, &b, &labels).unwrap();
    assert_eq!((m.only_a, m.only_b), (2, 2));
    assert_eq!(m.p, 1.0);
    assert_eq!(mcnemar(&a[..5], &b, &labels), None);
}

#[test]
fn runs_that_did_not_learn_and_identical_runs_are_named() {
    use super::paired::*;
    let labels = [1u32, 1, 1, 0, 2, 3, 4, 5, 6, 7];
    assert_eq!(chance(&labels), 0.3);
    let mut r = Run::new(RunSpec { kind: Kind::Cabs, alpha: 0.1, seed: 1 });
    r.steps = steps(&[(16, 2.3), (16, 2.2)]);
    r.evals = vec![EvalPoint { examples: 32, train_s: 1.0, test_loss: 2.2, test_accuracy: 0.305, train_subset_loss: None }];
    assert!(did_not_learn(&r, 0.3), "within 1 point of chance");
    r.evals[0].test_accuracy = 0.32;
    assert!(!did_not_learn(&r, 0.3));
    let mut d = r.clone();
    d.diverged = Some("diverged at step 3".into());
    assert!(did_not_learn(&d, 0.3));
    // Same steps under another label: identical; a loss that differs in the last bit is not.
    let mut twin = r.clone();
    twin.spec = RunSpec { kind: Kind::Fixed { m: 16 }, alpha: 0.1, seed: 1 };
    let mut near = r.clone();
    near.steps[1].loss = f64::from_bits(near.steps[1].loss.to_bits() + 1);
    assert_eq!(identical_runs(&[r.clone(), near, twin]), vec![vec![0, 2]]);
}

/// A record rewritten again and again while another thread reads it: every read is a whole
/// record (the jobs of a set read each other's records as they start).
#[test]
fn a_record_is_never_read_half_written() {
    use super::record::{read_record, write_record, Record};
    let dir = std::env::temp_dir().join(format!("cabs-record-race-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("run.csv");
    let record = |seed| Record {
        label: "run".into(),
        settings: super::record::RunSettings { seed, ..blobs_settings() },
        engine: None,
        adopted: None,
        diverged: None,
    };
    write_record(&csv, &record(0)).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for seed in 1..=2000 {
                write_record(&csv, &record(seed)).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            let r = read_record(&csv).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.map(|r| r.label), Some("run".to_string()));
        }
    });
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["run.json"], "no part files left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
