//! Every adaptive rule trained briefly by the `cabs` command, its CSV read back, and every next
//! batch size recomputed from the logged columns by an independent implementation of the rule's
//! formula (docs/METHOD.md, "The other rules"): m_raw from the columns, then the rule's own
//! rounding (up, half to even, never shrinking) and the clip to [m_min, m_max]; the next row's
//! batch is the decision. Plus the refusals a user meets on the command line.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;

const M_MIN: u32 = 16;
const M_MAX: u32 = 512;
const ALPHA: f64 = 4.0;

/// `cabs args…`: (exit code, stderr).
fn cabs(args: &[&str]) -> (i32, String) {
    let (code, _, err) = crate::common::command::cabs(args);
    (code, err)
}

/// The run's CSV as columns by name; an empty cell (a non-finite value) reads as NaN.
fn train(rule: &str, steps: u32) -> HashMap<String, Vec<f64>> {
    let dir = std::env::temp_dir().join(format!("cabs-rules-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: tests run in parallel and two of them may train the same rule.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let csv = dir.join(format!("{}-{call}.csv", rule.replace(':', "_")));
    let _ = std::fs::remove_file(&csv);
    let (m_min, m_max, alpha, steps) = (M_MIN.to_string(), M_MAX.to_string(), ALPHA.to_string(), steps.to_string());
    let args = [
        "train",
        "--data",
        "blobs",
        "--model",
        "mlp:16",
        "--backend",
        "cpu",
        "--rule",
        rule,
        "--lr",
        &alpha,
        "--m-min",
        &m_min,
        "--m-max",
        &m_max,
        "--steps",
        &steps,
        "--csv",
        csv.to_str().unwrap(),
    ];
    let (code, err) = cabs(&args);
    assert_eq!(code, 0, "{rule}: {err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut cols: HashMap<String, Vec<f64>> = header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for line in lines {
        for (h, cell) in header.iter().zip(line.split(',')) {
            cols.get_mut(h).unwrap().push(cell.parse().unwrap_or(f64::NAN));
        }
    }
    assert_eq!(cols["step"].len(), steps.parse::<usize>().unwrap(), "{rule}: one row per step");
    cols
}

fn clip(v: f64) -> u32 {
    v.clamp(M_MIN as f64, M_MAX as f64) as u32
}

/// Checks every row: the logged m_raw is `oracle(columns, t)`, the raw value recomputed from the
/// columns (relative 1e-9; non-finite is an empty cell); the logged next batch is `decide(m_raw,
/// m)`, the rule's rounding and clip of the logged m_raw (so that a value within rounding error
/// of an integer is judged as the engine saw it); the next row trains at it.
fn check(
    rule: &str,
    c: &HashMap<String, Vec<f64>>,
    mut oracle: impl FnMut(&HashMap<String, Vec<f64>>, usize) -> f64,
    decide: impl Fn(f64, f64) -> u32,
) -> Vec<u32> {
    let n = c["step"].len();
    let mut sizes = Vec::new();
    for t in 0..n {
        let raw = oracle(c, t);
        let logged = c["m_raw"][t];
        if raw.is_finite() {
            assert!((logged - raw).abs() <= 1e-9 * raw.abs().max(1e-300), "{rule} row {t}: m_raw {logged} vs {raw}");
        } else {
            assert!(logged.is_nan(), "{rule} row {t}: m_raw {logged}, want an empty cell for {raw}");
        }
        let next = decide(if raw.is_finite() { logged } else { raw }, c["batch_size"][t]);
        assert_eq!(c["next_batch_size"][t] as u32, next, "{rule} row {t}: next batch (m_raw {raw})");
        if t + 1 < n {
            assert_eq!(c["batch_size"][t + 1] as u32, next, "{rule} row {}: trains at the decision", t + 1);
        }
        sizes.push(c["batch_size"][t] as u32);
    }
    sizes
}

/// The three roundings: half to even, up, and up but never below the current batch.
fn half_even(raw: f64, _m: f64) -> u32 {
    clip(round_half_even(raw))
}
fn up(raw: f64, _m: f64) -> u32 {
    clip(raw.ceil())
}
fn up_never_shrink(raw: f64, m: f64) -> u32 {
    clip(if raw.is_nan() { m } else { raw.ceil().max(m) })
}

fn round_half_even(v: f64) -> f64 {
    let f = v.floor();
    let d = v - f;
    if d > 0.5 || (d == 0.5 && f % 2.0 != 0.0) {
        f + 1.0
    } else {
        f
    }
}

#[test]
fn every_next_batch_of_every_rule_follows_from_the_logged_columns() {
    // CABS: m_raw = α · ξ̄ / ℒ̄ (c = 1, ε = 0), rounded half to even.
    let c = train("cabs", 40);
    check("cabs", &c, |c, t| ALPHA * c["xi_avg"][t] / c["loss_avg"][t], half_even);

    // The norm test: ξ / (θ² ‖ḡ‖²), up, never below this batch.
    let theta: f64 = 0.5;
    let c = train("norm:0.5", 40);
    let sizes = check("norm:0.5", &c, |c, t| c["xi"][t] / (theta * theta * c["grad_norm_sq"][t]), up_never_shrink);
    assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "norm never shrinks: {sizes:?}");
    assert!(sizes.last() > sizes.first(), "norm:0.5 grew the batch here: {sizes:?}");

    // The inner-product test: Var_i(g_iᵀḡ) / (θ² ‖ḡ‖⁴), up, never below this batch; the variance is
    // the engine's exact statistic, logged in its own column (checked against materialised
    // per-example gradients in tests/method/inner_products.rs).
    let c = train("inner:0.5", 40);
    assert!(c["inner_product_var"].iter().all(|v| v.is_finite() && *v >= 0.0), "the inner:THETA run logs its statistic");
    let sizes = check("inner:0.5", &c, |c, t| c["inner_product_var"][t] / (theta * theta * c["grad_norm_sq"][t].powi(2)), up_never_shrink);
    assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "inner never shrinks: {sizes:?}");

    // gns:K: K · ξ̄ / Ĝ²̄, both averages started at 0, μ = 0.95, divided by 1 − μᵗ; Ĝ² = ‖ḡ‖² − ξ/m.
    for (rule, k) in [("gns", 1.0), ("gns:20", 20.0)] {
        let c = train(rule, 40);
        let (mut xa, mut ga) = (0.0f64, 0.0f64);
        check(
            rule,
            &c,
            |c, t| {
                let (xi, g2, m) = (c["xi"][t], c["grad_norm_sq"][t], c["batch_size"][t]);
                xa = 0.95 * xa + 0.05 * xi;
                ga = 0.95 * ga + 0.05 * (g2 - xi / m);
                let corr = 1.0 - 0.95f64.powi(t as i32 + 1);
                assert!((c["xi_avg"][t] - xa / corr).abs() <= 1e-9 * (xa / corr).abs(), "{rule} row {t}: ξ̄");
                k * (xa / corr) / (ga / corr).max(f64::MIN_POSITIVE)
            },
            half_even,
        );
    }

    // AdaDamp: M0 · ℒ̄₀ / ℒ̄ with ℒ̄ the bias-corrected average of the loss (μ = 0.95), up.
    let c = train("adadamp:32", 40);
    assert_eq!(c["batch_size"][0], 32.0, "the first batch is M0");
    let mut la = 0.0f64;
    let sizes = check(
        "adadamp:32",
        &c,
        |c, t| {
            la = 0.95 * la + 0.05 * c["loss"][t];
            let l = la / (1.0 - 0.95f64.powi(t as i32 + 1));
            assert!((c["loss_avg"][t] - l).abs() <= 1e-9 * l, "adadamp row {t}: ℒ̄");
            32.0 * c["loss_avg"][0] / l
        },
        up,
    );
    assert!(sizes.last() > sizes.first(), "the loss fell, so the batch grew: {sizes:?}");

    // grow: M0 · FACTOR^⌊examples seen before the next step / EVERY⌋, half to even.
    let c = train("grow:16:200:1.5", 40);
    let sizes = check("grow:16:200:1.5", &c, |c, t| 16.0 * 1.5f64.powi((c["examples_seen"][t] / 200.0).floor() as i32), half_even);
    assert_eq!(sizes[0], 16);
    assert!(sizes.contains(&24) && sizes.contains(&36) && sizes.last() == Some(&M_MAX), "16, 24, 36, 54, … up to m_max: {sizes:?}");
}

#[test]
fn the_oracle_can_fail() {
    // The same check with a wrong θ (0.6 for 0.5) must be caught.
    let c = train("norm:0.5", 10);
    let r = std::panic::catch_unwind(|| {
        check("norm:0.5 read as norm:0.6", &c, |c, t| c["xi"][t] / (0.36 * c["grad_norm_sq"][t]), up_never_shrink)
    });
    assert!(r.is_err(), "a wrong θ passed the check");
}

#[test]
fn bad_rules_are_one_line_errors() {
    for (rule, needle) in [
        ("norm:-1", "'-1'"),
        ("norm:0.5x", "'0.5x'"),
        ("gns:0", "'0'"),
        ("adadamp:4", "'4'"),
        ("grow:16:0:2", "'0'"),
        ("grow:16:100:0.5", "'0.5'"),
        ("grow:16:100:2:9", "grow:M0:EVERY:FACTOR"),
        ("inner:0", "'0'"),
    ] {
        let (code, err) = cabs(&["train", "--data", "blobs", "--backend", "cpu", "--steps", "1", "--rule", rule]);
        assert!(code == 1 || code == 2, "{rule}: exit {code}");
        assert_eq!(err.trim_end().lines().count(), 1, "{rule}: {err}");
        assert!(err.starts_with("cabs: error: ") && err.contains(needle), "{rule}: {err}");
    }
}
